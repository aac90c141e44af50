"""Tables in every format: plain, gzip and zstd text, Parquet, a directory and a glob of
Parquet parts; all read alike, split alike (by a hash, whatever the row order), trained
from and predicted from in streamed batches."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import ARTISTS, PENGUINS, run_cli

from mlbridge.dataset import load_dataset
from mlbridge.errors import DataError
from mlbridge.tables import open_table


@pytest.fixture(scope="module")
def formats(tmp_path_factory) -> dict[str, str]:
    """Penguins in each format; the Parquet ones typed (numbers as numbers, gaps null)."""
    where = tmp_path_factory.mktemp("formats")
    typed = pa.Table.from_pandas(pd.read_csv(PENGUINS), preserve_index=False)
    shutil.copy(PENGUINS, where / "p.csv")
    with PENGUINS.open("rb") as plain, gzip.open(where / "p.csv.gz", "wb") as packed:
        shutil.copyfileobj(plain, packed)
    with pa.output_stream(str(where / "p.csv.zst"), compression="zstd") as packed:
        packed.write(PENGUINS.read_bytes())
    pq.write_table(typed, where / "p.parquet")
    (where / "parts").mkdir()
    for i, start in enumerate(range(0, typed.num_rows, 100)):
        pq.write_table(typed.slice(start, 100), where / "parts" / f"part-{i:05d}.parquet")
    (where / "parts" / "_SUCCESS").write_text("")  # what Spark leaves beside its parts
    return {name: str(where / name) for name in
            ("p.csv", "p.csv.gz", "p.csv.zst", "p.parquet", "parts")} | {
            "glob": str(where / "parts" / "*.parquet")}


def test_every_format_gives_the_same_split(formats):
    reference = load_dataset(formats["p.csv"], "body_mass_g", None)
    for name, location in formats.items():
        data = load_dataset(location, "body_mass_g", None)
        assert data.header == reference.header, name
        assert data.test.index.equals(reference.test.index), name
        assert data.train.index.equals(reference.train.index), name
        assert np.allclose(data.test["body_mass_g"], reference.test["body_mass_g"]), name


def test_batches_cover_the_table_once_in_order(formats):
    whole, _ = open_table(formats["p.csv"]).read()
    for name, location in formats.items():
        pieces = list(open_table(location).batches(rows=100))
        streamed = pd.concat([batch for batch, _ in pieces], ignore_index=True)
        assert streamed["species"].tolist() == whole["species"].tolist(), name
        assert pieces[-1][1] == 1.0 and all(0 <= f <= 1 for _, f in pieces), name


def test_the_hash_split_does_not_depend_on_row_order(tmp_path):
    frame = pd.read_csv(ARTISTS, dtype=str, keep_default_na=False)
    frame.sample(frac=1, random_state=3).to_csv(tmp_path / "shuffled.csv", index=False)
    frame.iloc[::-1].to_csv(tmp_path / "reversed.csv", index=False)
    sides = []
    for path in (ARTISTS, tmp_path / "shuffled.csv", tmp_path / "reversed.csv"):
        data = load_dataset(path, "popularity", ["twitter_followers"], "handle")
        sides.append((set(data.train["handle"]), set(data.test["handle"])))
    assert sides[0] == sides[1] == sides[2]
    train, test = sides[0]
    assert not train & test and 0.15 < len(test) / (len(train) + len(test)) < 0.25
    # without a key, a row is hashed whole: the same cells land on the same side
    keyless = [load_dataset(p, "popularity", ["twitter_followers"]).test for p in
               (ARTISTS, tmp_path / "reversed.csv")]
    assert sorted(keyless[0]["twitter_followers"]) == sorted(keyless[1]["twitter_followers"])


def test_train_from_parquet_parts_and_gzip_and_predict_in_batches(formats, tmp_path):
    metrics = {}
    for name in ("p.csv", "p.csv.gz", "parts"):
        out = tmp_path / name.replace(".", "_")
        result = run_cli("train", formats[name], "--target", "body_mass_g", "--out", str(out),
                         "--quiet")
        assert result.code == 0, result.stderr
        metrics[name] = json.loads((out / "metadata.json").read_text())["metrics"]["test"]
    assert metrics["p.csv"] == metrics["p.csv.gz"] == metrics["parts"]
    predicted = tmp_path / "predicted.csv"
    result = run_cli("predict", str(tmp_path / "parts"), "--data", formats["glob"],
                     "--out", str(predicted))
    assert result.code == 0, result.stderr
    assert "wrote 344 rows" in result.stderr
    answers = pd.read_csv(predicted)
    assert len(answers) == 344  # the two rows of gaps too: the model imputes them
    assert answers["predicted_body_mass_g"].notna().all()


def test_broken_inputs_say_what_is_wrong(tmp_path, formats):
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(Path(formats["p.csv.gz"]).read_bytes()[:200])
    with pytest.raises(DataError, match="not a whole gzip file"):
        load_dataset(cut, "body_mass_g", None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="a directory with no Parquet files"):
        load_dataset(tmp_path / "empty", "body_mass_g", None)
    with pytest.raises(DataError, match="no file matches"):
        load_dataset(str(tmp_path / "nothing-*.parquet"), "body_mass_g", None)
    with pytest.raises(DataError, match="column 'mass' not found"):
        load_dataset(formats["parts"], "mass", None)


def test_lookups_are_built_from_parquet_parts_in_batches(artists_bundle, tmp_path, monkeypatch):
    import mlbridge.tables as tables
    from mlbridge.records import build_store

    frame = pd.read_csv(ARTISTS, dtype=str, keep_default_na=False)
    (tmp_path / "parts").mkdir()
    for i, start in enumerate(range(0, len(frame), 700)):
        pq.write_table(pa.Table.from_pandas(frame.iloc[start:start + 700],
                                            preserve_index=False),
                       tmp_path / "parts" / f"part-{i}.parquet")
    monkeypatch.setattr(tables, "BATCH_ROWS", 256)  # many batches into one database
    store = build_store(tmp_path / "parts", "handle", artists_bundle.metadata["inputs"],
                        tmp_path / "records.sqlite")
    assert store.count() == frame["handle"].str.strip().str.lower().nunique()  # first of a key
    row = frame.iloc[1500]
    found = store.get(row["handle"])["features"]
    assert found["twitter_followers"] == float(row["twitter_followers"])
