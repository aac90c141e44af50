"""Load a table, check it against what was asked, clean it, and split it 80/20, in one
streamed pass whose memory does not grow with the rows.

Everything here is pandas and numpy only, so bad input is rejected in well under a
second, before TensorFlow is imported. Every row that is dropped is counted under
exactly one reason, because "where did my rows go?" is the first question a user
asks of a model trained on fewer rows than the file has.

The pass reads the table in batches, cleans each, splits each row by its hash
(sampling.py), and keeps: every count (rows, drops, labels), the target's exact
statistics over all training rows, and a uniform sample of at most SAMPLE_ROWS training
and TEST_ROWS test rows. A table that fits is therefore held whole, exactly as before; a
bigger one is held as its sample, and `Dataset.stream` reads it again, batch by batch,
for what must see every row (a linear model's exact fit, the test metrics).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from itertools import chain
from pathlib import Path

import numpy as np
import pandas as pd

from mlbridge.cells import clean_text, parse_numbers
from mlbridge.errors import DataError, UsageError
from mlbridge.reading import Source, Table, open_table, require_columns
from mlbridge.sampling import BottomK, Sides

#: A column is numeric when at least this share of its present values are numbers; the
#: few others ("unknown", "n.a.", typos) count as unusable. Used for features and target.
NUMERIC_SHARE = 0.95
TASKS = ("regression", "classification")
#: A target with more distinct labels than this looks like an id or a name, not a class.
MAX_CLASSES = 50
#: Fewer usable rows than this cannot give a meaningful 80/20 split.
MIN_ROWS = 10
#: Training rows held in memory. A table with more is sampled (uniformly, by row hash)
#: for what needs rows at hand (column kinds and vocabularies, a dnn's or a classifier's
#: epochs, the calibration, the baselines' fits, the report), while a linear regression's
#: exact fit and the test metrics pass over every row. Chosen by measuring how a dnn's
#: quality saturates with rows (`make bench`, the scale section).
SAMPLE_ROWS = 1_000_000
#: What a pass over the table reports: its name, rows so far, how far through (0 to 1).
OnRows = Callable[[str, int, float], None]


@dataclass(frozen=True)
class Dataset:
    """The cleaned table split into train and test, with the count of every dropped row.

    Feature columns stay text (stripped, "" where missing): what kind each one is
    (number or category) is decided later, on the training split, by `features.py`.
    `features` are the columns asked for, or every column but the target and the key
    when none were (`features_given` tells which, since only asked-for columns may fail).
    `train` and `test` are every row (`whole`), or a uniform sample of them; `rows_train`
    and `rows_test` count them all, and `target_stats` describes the target over every
    training row. `calibration` marks the training rows kept for the interval.
    """

    train: pd.DataFrame
    test: pd.DataFrame
    features: list[str]
    target: str
    key: str | None
    source: Source
    rows_read: int
    dropped: dict[str, int] = field(default_factory=dict)
    hints: dict[str, str] = field(default_factory=dict)
    features_given: bool = True
    task: str = "regression"
    labels: list[str] | None = None
    header: list[str] = field(default_factory=list)  # every column of the table, in order
    calibration: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    rows_train: int = 0
    rows_test: int = 0
    target_stats: dict = field(default_factory=dict)
    reread: Callable[[], Iterator[tuple[pd.DataFrame, Sides, float]]] | None = None

    @property
    def rows_used(self) -> int:
        return self.rows_train + self.rows_test

    @property
    def whole(self) -> bool:
        """True when `train` and `test` hold every row, not a sample."""
        return len(self.train) == self.rows_train and len(self.test) == self.rows_test

    def with_features(self, features: list[str]) -> Dataset:
        """The same rows with only these feature columns (those chosen as model inputs)."""
        columns = [*([self.key] if self.key else []), *features, self.target]
        return replace(self, train=self.train[columns], test=self.test[columns],
                       features=list(features))

    def stream(self, side: str, on_rows: OnRows | None = None) -> Iterator[pd.DataFrame]:
        """Every row of one side, in batches: "test", "train", or "fit" (the training
        rows without the calibration ones). From memory when the table is held whole;
        else read, cleaned and split again, batch by batch, in bounded memory."""
        columns = [*([self.key] if self.key else []), *self.features, self.target]
        if self.whole or self.reread is None:
            rows = self.test if side == "test" else (
                self.train[~self.calibration] if side == "fit" else self.train)
            yield rows[columns]
            return
        done = 0
        for cleaned, sides, fraction in self.reread():
            keep = sides.test if side == "test" else ~sides.test & (
                ~sides.calibration if side == "fit" else True)
            done += int(keep.sum())
            if on_rows is not None:
                on_rows(f"Reading the {side} rows again", done, fraction)
            if keep.any():
                yield cleaned[keep][columns]

    def check_enough_rows(self) -> None:
        """Fail when too few rows are left, with the hint of the reason that took most."""
        if self.rows_used < MIN_ROWS:
            reasons = ", ".join(f"{n} {why}" for why, n in self.dropped.items()) or "none"
            count = f"only {self.rows_used}" if self.rows_used else "no"
            main = max(self.dropped, key=self.dropped.__getitem__) if self.dropped else None
            raise DataError(
                f"{count} usable rows in {self.source.location} after cleaning "
                f"(need at least {MIN_ROWS}; dropped: {reasons})",
                hint=self.hints.get(main, "pass a table with more rows"),
            )


#: What to do about each reason a row is dropped, said when too few rows are left.
HINTS = {
    "missing": "the --target column is empty in those rows; pick another --target",
    "not a number": "check that the --target column holds numbers, or pass --task "
                    "classification if it holds labels",
    "outside": "widen --target-range, or leave it out to use the data's own range",
    "exact duplicate row": "the file repeats the same rows; check how it was exported",
}


def choose_task(column: pd.Series, task: str | None) -> str:
    """Regression for a target of numbers (95% of present values), else classification."""
    if task is not None:
        return task
    _, missing, not_numeric = parse_numbers(column)
    present = max(int((~missing).sum()), 1)
    return "regression" if not_numeric.sum() <= (1 - NUMERIC_SHARE) * present else \
        "classification"


def label_order(labels: pd.Series) -> list[str]:
    """The distinct labels in a fixed order: numerically when all are numbers, else sorted."""
    distinct = sorted(set(labels.tolist()))
    numbers, _, not_numeric = parse_numbers(pd.Series(distinct, dtype=object))
    if not not_numeric.any():
        return [label for _, label in sorted(zip(numbers.tolist(), distinct, strict=True))]
    return distinct


def check_labels(labels: list[str], target: str) -> None:
    if len(labels) < 2:
        only = f" ('{labels[0]}')" if labels else ""
        raise DataError(f"target '{target}' has one class only{only}: there is nothing to "
                        "choose between", hint="pick a --target with at least two labels")
    if len(labels) > MAX_CLASSES:
        raise DataError(f"target '{target}' has {len(labels):,} different labels: that looks "
                        f"like an id or a name, not a class (at most {MAX_CLASSES})",
                        hint="pass --task regression if it holds numbers, or pick another "
                        "--target")


def clean(frame: pd.DataFrame, target: str, features: list[str], key: str | None,
          target_range: tuple[float, float] | None = None, task: str = "regression"
          ) -> tuple[pd.DataFrame, dict[str, int], dict[str, str]]:
    """Keep rows with a usable target; count every drop by reason, with a hint for each.

    A regression target must be a number (within `target_range`, if given); a
    classification target is the cell's text, and must be present. A missing or
    unparsable FEATURE value does not drop the row: the model imputes it (inside its
    graph), so the browser can leave a field blank too. Exact duplicate rows (every
    column equal) are dropped: they would count twice in training and could sit on both
    sides of the split. Rows that merely share a key are kept, since they are different
    records (see the README on repeated keys).
    """
    keep = np.ones(len(frame), dtype=bool)
    dropped: dict[str, int] = {}
    hints: dict[str, str] = {}

    def drop(mask: np.ndarray, reason: str, hint: str) -> None:
        nonlocal keep
        hit = mask & keep
        if hit.any():
            dropped[reason] = dropped.get(reason, 0) + int(hit.sum())
            hints[reason] = hint
            keep &= ~hit

    if task == "classification":
        y = clean_text(frame[target]).to_numpy(dtype=object)
        drop(y == "", f"missing {target}", HINTS["missing"])
    else:
        y, missing, not_numeric = parse_numbers(frame[target])
        drop(missing, f"missing {target}", HINTS["missing"])
        drop(not_numeric, f"{target} not a number", HINTS["not a number"])
        if target_range is not None:
            low, high = target_range
            with np.errstate(invalid="ignore"):
                drop((y < low) | (y > high), f"{target} outside [{low:g}, {high:g}]",
                     HINTS["outside"])
    drop(frame.duplicated(keep="first").to_numpy(), "exact duplicate row",
         HINTS["exact duplicate row"])

    columns = {name: clean_text(frame[name]).to_numpy()[keep] for name in features}
    columns[target] = y[keep]
    if key is not None:
        columns = {key: frame[key].to_numpy()[keep], **columns}
    return pd.DataFrame(columns, index=np.flatnonzero(keep)), dropped, hints


def check_options(target: str | None, features: list[str] | None, key: str | None,
                  categorical: list[str] | None, text: list[str] | None = None) -> None:
    """Contradictions between the column options, found before the file is opened."""
    features = list(features or [])
    if target is not None and target in features:
        raise UsageError(f"'{target}' is both the target and a feature",
                         hint="a model cannot predict a column from itself")
    if key is not None and key in [target, *features]:
        raise UsageError(f"key column '{key}' is also the target or a feature",
                         hint="the key names records (like a handle); pick another --key")
    if len(set(features)) != len(features):
        raise UsageError("a feature is listed twice", hint="list each feature column once")
    for option, names in (("--categorical", categorical), ("--text", text)):
        for name in names or []:
            if name in (target, key) or (features and name not in features):
                raise UsageError(f"{option} '{name}' is not a feature",
                                 hint="name feature columns only"
                                 + (f": {', '.join(features)}" if features else ""))
    both = set(categorical or []) & set(text or [])
    if both:
        raise UsageError(f"'{sorted(both)[0]}' is given as both --categorical and --text",
                         hint="pick one kind for each column")


def load_dataset(location: str | Path, target: str | None, features: list[str] | None = None,
                 key: str | None = None, sep: str | None = None, seed: int = 0,
                 target_range: tuple[float, float] | None = None,
                 categorical: list[str] | None = None, task: str | None = None,
                 text: list[str] | None = None, sample_rows: int = SAMPLE_ROWS,
                 on_rows: OnRows | None = None) -> Dataset:
    """Read, validate, clean and split a table: the whole first stage in one call.

    No `features` means every column but the target and the key (the next stage leaves
    out those that cannot help). Columns are checked against the header before the
    file is parsed. At most `sample_rows` training rows (and a quarter as many test
    rows) are held; `Dataset.stream` reads the rest again where every row is needed.
    """
    check_options(target, features, key, categorical, text)
    if task is not None and task not in TASKS:
        raise UsageError(f"unknown task '{task}'",
                         hint="use --task regression or --task classification")
    table = open_table(location, sep)
    where = table.location
    columns = table.header()
    if not target:
        raise UsageError(f"no target given; the columns of {where} are: {', '.join(columns)}",
                         hint="pass --target COL")
    require_columns(columns, [target], "--target", where)
    require_columns(columns, list(features or []), "--features", where)
    require_columns(columns, list(categorical or []), "--categorical", where)
    require_columns(columns, list(text or []), "--text", where)
    if key is not None:
        require_columns(columns, [key], "--key", where)
    given = bool(features)
    features = list(features) if features else [c for c in columns if c not in (target, key)]
    if not features:
        raise DataError(f"{where} has no column besides the target"
                        + (" and the key" if key else ""),
                        hint="a model needs at least one input column")
    passed = _first_pass(table, target, features, key, seed, target_range, task,
                         sample_rows, on_rows)
    labels = None
    if passed.task == "classification":
        labels = label_order(pd.Series(list(passed.labels), dtype=object))
        check_labels(labels, target)
    test = passed.test.frame if passed.test.frame is not None else passed.empty
    train = passed.train.frame if passed.train.frame is not None else passed.empty
    calibration = passed.train.flags
    if len(test) == 0 and len(train) > 1 and passed.rows_train == len(train):
        # a handful of rows, all hashed to one side: the last drawn is the test row
        test, train, calibration = train.iloc[-1:], train.iloc[:-1], calibration[:-1]
        passed.rows_train, passed.rows_test = len(train), 1
    stats = ({"counts": [passed.train_labels[label] for label in labels]} if labels else
             passed.moments.result())
    dataset = Dataset(train=train, test=test, features=features, target=target, key=key,
                      source=passed.source, rows_read=passed.rows_read,
                      dropped=passed.dropped, hints=passed.hints, features_given=given,
                      task=passed.task, labels=labels, header=columns,
                      calibration=calibration, rows_train=passed.rows_train,
                      rows_test=passed.rows_test, target_stats=stats,
                      reread=lambda: ((b.cleaned, b.sides, b.fraction) for b in _cleaned(
                          table.batches(), target, features, key, seed, target_range,
                          passed.task)))
    dataset.check_enough_rows()
    return dataset


@dataclass
class _Batch:
    """One batch of the table, cleaned and split; row numbers count from the table's start."""

    cleaned: pd.DataFrame
    sides: Sides
    rows: int  # rows read, before cleaning
    dropped: dict[str, int]
    hints: dict[str, str]
    fraction: float  # how far through the table it ends


def _cleaned(batches: Iterator[tuple[pd.DataFrame, float]], target: str, features: list[str],
             key: str | None, seed: int, target_range: tuple[float, float] | None, task: str
             ) -> Iterator[_Batch]:
    start = 0
    for batch, fraction in batches:
        cleaned, dropped, hints = clean(batch, target, features, key, target_range, task)
        cleaned.index += start
        start += len(batch)
        yield _Batch(cleaned, Sides(cleaned, seed, key), len(batch), dropped, hints, fraction)


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


@dataclass
class _Passed:
    """What the first pass keeps: counts, the target's statistics, the two samples."""

    train: BottomK
    test: BottomK
    empty: pd.DataFrame
    source: Source
    task: str
    rows_read: int = 0
    rows_train: int = 0
    rows_test: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    hints: dict[str, str] = field(default_factory=dict)
    labels: Counter = field(default_factory=Counter)
    train_labels: Counter = field(default_factory=Counter)
    moments: Moments = field(default_factory=Moments)


def _first_pass(table: Table, target: str, features: list[str], key: str | None, seed: int,
                target_range: tuple[float, float] | None, task: str | None,
                sample_rows: int, on_rows: OnRows | None) -> _Passed:
    """One pass over the table: clean and split every batch, count, keep the samples."""
    batches = table.batches()
    first = next(batches, None)
    if first is None:
        raise DataError(f"{table.location} has no rows", hint="pass a table with rows")
    task = choose_task(first[0][target], task)  # the first batch decides, as the table did
    if task == "classification" and target_range is not None:
        raise UsageError(f"--target-range does not apply: '{target}' holds labels, not "
                         "numbers", hint="leave --target-range out, or pass --task regression")
    passed = _Passed(BottomK(sample_rows), BottomK(max(1, sample_rows // 4)),
                     clean(first[0].iloc[:0], target, features, key)[0], table.source(), task)
    for batch in _cleaned(chain([first], batches), target, features, key, seed, target_range,
                          task):
        passed.rows_read += batch.rows
        for reason, count in batch.dropped.items():
            passed.dropped[reason] = passed.dropped.get(reason, 0) + count
        passed.hints.update(batch.hints)
        cleaned, sides = batch.cleaned, batch.sides
        train = ~sides.test
        passed.rows_train += int(train.sum())
        passed.rows_test += int(sides.test.sum())
        y = cleaned[target].to_numpy()
        if task == "classification":
            passed.labels.update(y.tolist())
            passed.train_labels.update(y[train].tolist())
        else:
            passed.moments.add(y[train])
        passed.train.offer(cleaned[train], sides.draw[train], sides.calibration[train])
        passed.test.offer(cleaned[sides.test], sides.draw[sides.test],
                          sides.calibration[sides.test])
        if on_rows is not None:
            on_rows("Reading", passed.rows_read, batch.fraction)
    return passed
