"""The paths that protect a user's files and answers when something goes wrong.

A killed run's leftovers, a broken bundle, a failed directory swap, a crash while
metadata is written, an internal error in the CLI: each is provoked here for real.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import ARTISTS, run_cli, tree_digest

import mlbridge
from mlbridge.atomic import remove_abandoned, replace_dir, run_tag, staging
from mlbridge.bundle import load
from mlbridge.errors import DataError


@pytest.fixture
def small_csv(tmp_path: Path) -> Path:
    path = tmp_path / "small.csv"
    pd.read_csv(ARTISTS).sample(200, random_state=0).to_csv(path, index=False)
    return path


class Said:
    """A reporter that keeps what it was told."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def stage(self, message: str) -> None:
        self.lines.append(message)

    def epoch(self, *args: object) -> None:
        pass


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()
    return child.pid


def test_a_killed_runs_staging_directory_is_removed_by_the_next_run(tmp_path, small_csv):
    out = tmp_path / "models" / "artists"
    with staging(out) as first:
        (first / "metadata.json").write_text("{}")
    # What a SIGKILL during export leaves: a staging directory no process owns any more.
    abandoned = staging_name(out, dead_pid())
    (abandoned / "web").mkdir(parents=True)
    in_progress = staging_name(out, os.getpid())  # a run that is still going: never touched
    in_progress.mkdir()
    someone_elses = out.parent / ".artists.backup"  # not a name mlbridge makes
    someone_elses.mkdir()
    said = Said()
    mlbridge.train(small_csv, target="popularity", features=["twitter_followers"],
                   key="handle", out=out, epochs=5, reporter=said)
    assert not abandoned.exists()
    assert in_progress.exists() and someone_elses.exists()
    assert f"removed {abandoned.name}, left behind by a run that was killed" in said.lines


def staging_name(out: Path, pid: int) -> Path:
    """A staging directory named as `staging()` names them, for process `pid`."""
    return out.parent / f".{out.name}.{run_tag(pid)}.k3x9q2zz.partial"


def test_an_interrupted_swap_is_undone_by_the_next_run(tmp_path):
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "metadata.json").write_text('{"last": "good"}')
    # Killed between the swap's two renames: the last good bundle is in its .old place.
    old = out.parent / f".bundle.{run_tag(dead_pid())}.old"
    out.rename(old)
    removed = remove_abandoned(out)
    assert (out / "metadata.json").read_text() == '{"last": "good"}' and not old.exists()
    assert len(removed) == 1 and removed[0].startswith(f"restored {out} from {old.name}")


def test_a_failed_swap_puts_the_old_bundle_back(tmp_path, monkeypatch):
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "metadata.json").write_text('{"last": "good"}')
    new = tmp_path / "new"
    new.mkdir()
    (new / "metadata.json").write_text('{"next": true}')
    real_rename = Path.rename

    def failing(self: Path, target: Path) -> Path:
        if self == new:
            raise OSError("disk full")
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", failing)
    with pytest.raises(OSError, match="disk full"):
        replace_dir(new, out)
    assert (out / "metadata.json").read_text() == '{"last": "good"}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "new"]


def test_a_crash_while_writing_metadata_leaves_the_file_whole(artists_bundle, tmp_path):
    bundle = load(artists_bundle.path)
    before = tree_digest(bundle.path)
    with pytest.raises(TypeError):
        bundle.update_metadata(parity={"not json": object()})
    assert tree_digest(bundle.path) == before, "metadata.json or a temporary file changed"


def test_the_test_sample_is_bounded_and_metrics_use_the_whole_split(tmp_path, small_csv,
                                                                    monkeypatch):
    from mlbridge import pipeline

    monkeypatch.setattr(pipeline, "TEST_SAMPLE_ROWS", 15)
    bundle = mlbridge.train(small_csv, target="popularity", features=["twitter_followers"],
                            key="handle", out=tmp_path / "b", epochs=5)
    sample = bundle.metadata["data"]["test_sample"]
    assert len(pd.read_csv(bundle.path / "test.csv")) == sample["rows"] == 15
    assert sample["of"] == bundle.metadata["data"]["rows_test"] == bundle.metrics["rows"] > 30
    assert "seed 0" in sample["how"]


@pytest.mark.parametrize("damage", ["truncated metadata", "no model file", "not a bundle"])
def test_load_of_a_broken_bundle_says_what_is_wrong(artists_bundle, tmp_path, damage):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(artists_bundle.path, broken)
    if damage == "truncated metadata":
        text = (broken / "metadata.json").read_text()
        (broken / "metadata.json").write_text(text[: len(text) // 2])
    elif damage == "no model file":
        (broken / "model.keras").unlink()
    else:
        (broken / "metadata.json").unlink()
    with pytest.raises(DataError) as caught:
        load(broken).predict({"twitter_followers": [1000]})
    assert caught.value.hint and ("train" in caught.value.hint)
    result = run_cli("predict", str(broken), "twitter_followers=1000")
    assert result.code == 2 and "Traceback" not in result.stderr, result


def test_an_internal_error_exits_1_with_a_hint_and_no_traceback(monkeypatch):
    from typer.testing import CliRunner

    import mlbridge.bundle
    from mlbridge.cli import app

    def broken(path: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(mlbridge.bundle, "load", broken)
    result = CliRunner().invoke(app, ["predict", "models/x", "a=1"])
    assert result.exit_code == 1
    assert "internal error: ZeroDivisionError: a bug" in result.output
    assert "--debug" in result.output and "Traceback" not in result.output


def test_demo_trains_with_trains_own_defaults(monkeypatch, tmp_path):
    """`demo` passes no training option of its own, so it cannot drift from `train`."""
    from typer.testing import CliRunner

    import mlbridge.cli.serve as serve_cli
    import mlbridge.pipeline
    from mlbridge.cli import app

    calls: list[dict] = []

    def fake_train(**kwargs: object) -> None:
        calls.append(kwargs)
        raise mlbridge.errors.UsageError("stop here")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(mlbridge.pipeline, "train", fake_train)
    monkeypatch.setattr(serve_cli, "_serve", lambda *args: None)
    result = CliRunner().invoke(app, ["demo", "-q"])
    assert result.exit_code == 2 and set(calls[0]) == {"out", "reporter"}
    assert calls[0]["out"] == serve_cli.DEFAULT_BUNDLE


WRITES = {"train", "predict", "convert", "site"}


def test_every_command_shares_the_same_options():
    from mlbridge.cli import COMMANDS

    top = run_cli("--help").stdout
    commands = [c for c in (*COMMANDS, "demo") if c in top]
    assert set(commands) >= {"train", "predict", "verify", "serve", "site", "convert", "demo"}
    for command in commands:
        text = run_cli(command, "--help").stdout
        assert "--quiet" in text and "-q" in text and "--debug" in text, command
        assert ("--out" in text) == (command in WRITES), command


def test_each_runtime_version_is_the_same_everywhere():
    """The npm pin, the URL the page builds and the vendored files name one version each."""
    from conftest import ROOT

    from mlbridge.resources import LITERT, TFJS, WEB_DIR

    pinned = json.loads((ROOT / "package.json").read_text())["dependencies"]
    for vendored, module in ((TFJS, "tfjs.js"), (LITERT, "litert.js")):
        assert pinned[vendored.package] == vendored.version
        assert f'VERSION = "{vendored.version}"' in (WEB_DIR / "runtimes" / module).read_text()
    assert pinned["@tensorflow/tfjs-backend-wasm"] == TFJS.version
    assert TFJS.file("tf.fesm.min.js").read_bytes() == (
        ROOT / "node_modules" / "@tensorflow" / "tfjs" / "dist" / "tf.fesm.min.js").read_bytes()
    assert LITERT.file("wasm/litert_wasm_internal.wasm").read_bytes() == (
        ROOT / "node_modules" / "@litertjs" / "core" / "wasm" / "litert_wasm_internal.wasm"
    ).read_bytes()
