"""The one pass over a table: clean and split every batch, count, sample, and spill.

Memory holds a batch and the samples, never the table. What later passes need (every
training row for a linear fit, every test row for the metrics) is written, cleaned and
split, to temporary Parquet files (`Spill`), so they read it back without parsing,
cleaning or hashing it again; a table that fits in the sample is never spilled.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlbridge.cleaning import choose_task, clean
from mlbridge.errors import DataError, UsageError
from mlbridge.reading import Source
from mlbridge.sampling import BottomK, Sides
from mlbridge.tables import BATCH_ROWS, Table

#: What a pass over the table reports: its name, rows so far, how far through (0 to 1).
OnRows = Callable[[str, int, float], None]
#: The test sample holds this share of the training sample's rows.
TEST_SAMPLE_SHARE = 0.25


@dataclass
class Batch:
    """One batch of the table, cleaned and split; row numbers count from the table's start."""

    cleaned: pd.DataFrame
    sides: Sides
    rows: int  # rows read, before cleaning
    dropped: dict[str, int]
    hints: dict[str, str]
    fraction: float  # how far through the table it ends


class Moments:
    """Count, mean, spread, smallest and largest of numbers that come in batches
    (summed about the first value, so the spread keeps its precision)."""

    def __init__(self) -> None:
        self.n, self.sum, self.sum2, self.shift = 0, 0.0, 0.0, None
        self.low, self.high = np.inf, -np.inf

    def add(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.float64)
        if not len(values):
            return
        self.shift = float(values[0]) if self.shift is None else self.shift
        about = values - self.shift
        self.n += len(values)
        self.sum += float(about.sum())
        self.sum2 += float(about @ about)
        self.low, self.high = min(self.low, values.min()), max(self.high, values.max())

    @classmethod
    def of(cls, values: np.ndarray) -> dict:
        """The statistics of numbers at hand (`result` of one batch)."""
        moments = cls()
        moments.add(values)
        return moments.result()

    def result(self) -> dict:
        n = max(self.n, 1)
        mean = self.sum / n
        return {"rows": self.n, "mean": (self.shift or 0.0) + mean,
                "std": float(np.sqrt(max(self.sum2 / n - mean * mean, 0.0))),
                "min": float(self.low), "max": float(self.high)}


class Spill:
    """Cleaned rows on disk, one Parquet file per side ("train" with each row's
    calibration flag, "test"), in a temporary folder removed when the spill is closed
    or forgotten (`TMPDIR` chooses where: it needs about the table's size in Parquet)."""

    ROW, CALIBRATION = "__row", "__calibration"

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="mlbridge-passes-"))
        self._writers: dict[str, Any] = {}
        self._closer = weakref.finalize(self, shutil.rmtree, self.folder, ignore_errors=True)

    def write(self, batch: Batch) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        test = batch.sides.test
        for side, rows in (("train", ~test), ("test", test)):
            frame = batch.cleaned[rows]
            table = pa.Table.from_pandas(frame.assign(**{
                self.ROW: frame.index.to_numpy(np.int64),
                self.CALIBRATION: batch.sides.calibration[rows]}), preserve_index=False)
            if side not in self._writers:
                self._writers[side] = pq.ParquetWriter(  # raw: written once, read once
                    self.folder / f"{side}.parquet", table.schema, compression="none",
                    use_dictionary=False)
            writer = self._writers[side]
            writer.write_table(table.cast(writer.schema))

    def finish(self) -> None:
        """Close the files: what is written can now be read."""
        for writer in self._writers.values():
            writer.close()

    def read(self, side: str) -> Iterator[tuple[pd.DataFrame, float]]:
        """The rows of "train", "fit" (training rows but the calibration ones) or "test",
        in batches, each with how far through the side's rows it ends."""
        import pyarrow.parquet as pq

        path = self.folder / f"{'test' if side == 'test' else 'train'}.parquet"
        if not path.exists():
            return
        rows = pq.ParquetFile(path, pre_buffer=False)  # see tables.py: bounded memory
        total, done = max(rows.metadata.num_rows, 1), 0
        for batch in rows.iter_batches(batch_size=BATCH_ROWS):
            frame = batch.to_pandas()
            done += len(frame)
            if side == "fit":
                frame = frame[~frame[self.CALIBRATION].to_numpy(dtype=bool)]
            yield (frame.drop(columns=[self.ROW, self.CALIBRATION])
                   .set_axis(frame[self.ROW].to_numpy(), axis=0)), done / total

    def close(self) -> None:
        self._closer()


@dataclass
class FirstPass:
    """What the first pass keeps: counts, the target's statistics, the two samples, and
    the spill of every cleaned row once the table proves bigger than the samples."""

    train: BottomK
    test: BottomK
    empty: pd.DataFrame  # the cleaned frame's columns, no row (for a side with none)
    source: Source
    target: str
    task: str
    rows_read: int = 0
    rows_train: int = 0
    rows_test: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    hints: dict[str, str] = field(default_factory=dict)
    labels: Counter = field(default_factory=Counter)
    train_labels: Counter = field(default_factory=Counter)
    moments: Moments = field(default_factory=Moments)
    held: list[Batch] = field(default_factory=list)  # not spilled yet: the table may fit
    spill: Spill | None = None

    @property
    def fits(self) -> bool:
        """True while every row so far is in the samples."""
        return self.rows_train <= self.train.k and self.rows_test <= self.test.k

    def add(self, batch: Batch) -> None:
        self.rows_read += batch.rows
        for reason, count in batch.dropped.items():
            self.dropped[reason] = self.dropped.get(reason, 0) + count
        self.hints.update(batch.hints)
        cleaned, sides = batch.cleaned, batch.sides
        train = ~sides.test
        self.rows_train += int(train.sum())
        self.rows_test += int(sides.test.sum())
        y = cleaned[self.target].to_numpy()
        if self.task == "classification":
            self.labels.update(y.tolist())
            self.train_labels.update(y[train].tolist())
        else:
            self.moments.add(y[train])
        self.train.offer(cleaned[train], sides.draw[train], sides.calibration[train])
        self.test.offer(cleaned[sides.test], sides.draw[sides.test],
                        sides.calibration[sides.test])
        if self.spill is None and not self.fits:
            self.spill = Spill()
            for held in self.held:
                self.spill.write(held)
            self.held = []
        if self.spill is not None:
            self.spill.write(batch)
        else:
            self.held.append(batch)

    def finish(self) -> None:
        self.held = []
        if self.spill is not None:
            self.spill.finish()


def cleaned_batches(batches: Iterator[tuple[pd.DataFrame, float]], target: str,
                    features: list[str], key: str | None, seed: int,
                    target_range: tuple[float, float] | None, task: str) -> Iterator[Batch]:
    """Each batch cleaned (cleaning.py) and split by row hash (sampling.py)."""
    start = 0
    for batch, fraction in batches:
        cleaned, dropped, hints = clean(batch, target, features, key, target_range, task)
        cleaned.index += start
        start += len(batch)
        yield Batch(cleaned, Sides(cleaned, seed, key), len(batch), dropped, hints, fraction)


def first_pass(table: Table, target: str, features: list[str], key: str | None, seed: int,
               target_range: tuple[float, float] | None, task: str | None,
               sample_rows: int, on_rows: OnRows | None) -> FirstPass:
    """One pass over the table: clean and split every batch, count, keep the samples,
    spill the rows once they outgrow the samples."""
    batches = table.batches()
    first = next(batches, None)
    if first is None:
        raise DataError(f"{table.location} has no rows", hint="pass a table with rows")
    task = choose_task(first[0][target], task)  # the first batch decides, as the table did
    if task == "classification" and target_range is not None:
        raise UsageError(f"--target-range does not apply: '{target}' holds labels, not "
                         "numbers", hint="leave --target-range out, or pass --task regression")
    passed = FirstPass(BottomK(sample_rows),
                       BottomK(max(1, int(sample_rows * TEST_SAMPLE_SHARE))),
                       clean(first[0].iloc[:0], target, features, key)[0], table.source(),
                       target, task)
    for batch in cleaned_batches(chain([first], batches), target, features, key, seed,
                                 target_range, task):
        passed.add(batch)
        if on_rows is not None:
            on_rows("Reading", passed.rows_read, batch.fraction)
    passed.finish()
    return passed
