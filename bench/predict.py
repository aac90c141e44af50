"""Section 12: predicting from Python without TensorFlow, against the code before.

`mlbridge predict` (one row, and `--data` on the large file) runs the bundle's steps
with numpy; before, it loaded the Keras model, which meant importing TensorFlow. The
previous code is taken from git and run in the same environment on the same bundle.
"""

from __future__ import annotations

import statistics
import subprocess
import tarfile
from io import BytesIO
from pathlib import Path

from common import BIN, ROOT, Sizes, goal, log, ratio, table, timed

#: The last commit that predicted through TensorFlow.
PREVIOUS = "1a370f4"
_RUN_PREVIOUS = "import sys; from mlbridge.cli import main; sys.argv[0] = 'mlbridge'; main()"


def _previous_source(work: Path) -> Path | None:
    """src/ of PREVIOUS, unpacked from git; None when git or the commit is not there."""
    done = subprocess.run(["git", "-C", str(ROOT), "archive", PREVIOUS, "src"],
                          capture_output=True)
    if done.returncode != 0:
        return None
    target = work / "previous-predict"
    with tarfile.open(fileobj=BytesIO(done.stdout)) as archive:
        archive.extractall(target, filter="data")
    return target / "src"


def predict_section(sizes: Sizes, bundle: Path, large: Path, work: Path) -> str:
    log("predict: one row and a large file, numpy steps against the TensorFlow path")
    previous = _previous_source(work)
    now = [str(BIN / "mlbridge")]
    before = [str(BIN / "python"), "-c", _RUN_PREVIOUS]
    env_before = {"PYTHONPATH": str(previous)} if previous else None

    def median(args: list[str], env: dict | None = None) -> float:
        import os

        full = {**os.environ, **env} if env else None
        return statistics.median(timed(args, env=full)[0] for _ in range(sizes.repeats))

    one_row = ["predict", str(bundle), "twitter_followers=250000", "-q"]
    import_tf = median([str(BIN / "python"), "-c", "import tensorflow"])
    row_now = median([*now, *one_row])
    row_before = median([*before, *one_row], env_before) if previous else None
    out = work / "predictions.csv"
    file_args = ["predict", str(bundle), "--data", str(large), "--out", str(out), "-q"]
    file_now = median([*now, *file_args])
    file_before = median([*before, *file_args], env_before) if previous else None
    rows_in = sum(1 for _ in large.open()) - 1
    rows = [["`python -c \"import tensorflow\"`", f"{import_tf:.2f} s", "", ""],
            ["one-row `mlbridge predict`", f"{row_now:.2f} s",
             f"{row_before:.2f} s" if row_before else "n/a",
             ratio(row_before, row_now) if row_before else "n/a"],
            [f"`mlbridge predict --data` ({rows_in:,} rows)", f"{file_now:.1f} s",
             f"{file_before:.1f} s" if file_before else "n/a",
             ratio(file_before, file_now) if file_before else "n/a"]]
    lines = ["- Goal: one-row `predict` under a third of `import tensorflow`. " + goal(
        row_now < import_tf / 3, f"{row_now:.2f} s against {import_tf:.2f} s "
        f"({ratio(import_tf, row_now)} less).")]
    if file_before:
        lines.append(f"- Goal: `predict --data` on {rows_in:,} rows at least 5× faster than "
                     "before. " + goal(file_before / file_now >= 5,
                                       f"{ratio(file_before, file_now)}."))
    return (f"Median of {sizes.repeats} runs, each a fresh process, on the large file of "
            f"section 5 and the default bundle. **before** is git {PREVIOUS} (the last "
            "commit that predicted through Keras), run from its own source in this "
            "environment.\n\n"
            + table(["what", "now", "before", "faster"], rows) + "\n\n"
            + "\n".join(lines) + "\n")
