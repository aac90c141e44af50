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

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from mlbridge.cleaning import check_labels, label_order
from mlbridge.errors import DataError, UsageError
from mlbridge.passes import OnRows, Spill, first_pass
from mlbridge.reading import Source, require_columns
from mlbridge.tables import open_table

TASKS = ("regression", "classification")
#: Fewer usable rows than this cannot give a meaningful 80/20 split.
MIN_ROWS = 10
#: Training rows held in memory. A table with more is sampled (uniformly, by row hash)
#: for what needs rows at hand (column kinds and vocabularies, a dnn's or a classifier's
#: epochs, the calibration, the baselines' fits, the report), while a linear regression's
#: exact fit and the test metrics pass over every row. Chosen by measuring how a dnn's
#: quality saturates with rows (`make bench`, the scale section).
SAMPLE_ROWS = 1_000_000


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
    spill: Spill | None = None  # every cleaned row, when the samples do not hold them all

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
        else from the spill the first pass wrote, in bounded memory."""
        columns = [*([self.key] if self.key else []), *self.features, self.target]
        if self.whole or self.spill is None:
            rows = self.test if side == "test" else (
                self.train[~self.calibration] if side == "fit" else self.train)
            yield rows[columns]
            return
        done = 0
        for frame, fraction in self.spill.read(side):
            done += len(frame)
            if on_rows is not None:
                on_rows(f"Reading the {side} rows again", done, fraction)
            yield frame[columns]

    def close(self) -> None:
        """Remove the spill, if any (it is removed when the dataset is forgotten, too)."""
        if self.spill is not None:
            self.spill.close()

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
    passed = first_pass(table, target, features, key, seed, target_range, task, sample_rows,
                        on_rows)
    labels = None
    if passed.task == "classification":
        labels = label_order(pd.Series(list(passed.labels), dtype=object))
        check_labels(labels, target)
    test = passed.test.frame if passed.test.frame is not None else passed.empty
    train = passed.train.frame if passed.train.frame is not None else passed.empty
    calibration = passed.train.flags
    if len(test) == 0 and len(train) > 1 and passed.spill is None:
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
                      rows_test=passed.rows_test, target_stats=stats, spill=passed.spill)
    dataset.check_enough_rows()
    return dataset
