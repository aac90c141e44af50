"""Load a table, check it against what was asked, clean it, and split it 80/20.

Everything here is pandas and numpy only, so bad input is rejected in well under a
second, before TensorFlow is imported. Every row that is dropped is counted under
exactly one reason, because "where did my rows go?" is the first question a user
asks of a model trained on fewer rows than the file has.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from mlbridge.cells import clean_text, parse_numbers
from mlbridge.errors import DataError, UsageError
from mlbridge.reading import Source, open_table, require_columns

#: A column is numeric when at least this share of its present values are numbers; the
#: few others ("unknown", "n.a.", typos) count as unusable. Used for features and target.
NUMERIC_SHARE = 0.95
TASKS = ("regression", "classification")
#: A target with more distinct labels than this looks like an id or a name, not a class.
MAX_CLASSES = 50
#: Fewer usable rows than this cannot give a meaningful 80/20 split.
MIN_ROWS = 10
TEST_FRACTION = 0.2


@dataclass(frozen=True)
class Dataset:
    """The cleaned table split into train and test, with the count of every dropped row.

    Feature columns stay text (stripped, "" where missing): what kind each one is
    (number or category) is decided later, on the training split, by `features.py`.
    `features` are the columns asked for, or every column but the target and the key
    when none were (`features_given` tells which, since only asked-for columns may fail).
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

    @property
    def rows_used(self) -> int:
        return len(self.train) + len(self.test)

    def with_features(self, features: list[str]) -> Dataset:
        """The same rows with only these feature columns (those chosen as model inputs)."""
        columns = [*([self.key] if self.key else []), *features, self.target]
        return replace(self, train=self.train[columns], test=self.test[columns],
                       features=list(features))

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


def row_hashes(frame: pd.DataFrame, seed: int) -> np.ndarray:
    """A 64-bit hash per row, salted by `seed`, that reads a number as its value: "0",
    "0.0" and a Parquet 0.0 are the same cell, so a table hashes alike in every format."""
    salt = f"{seed:016d}"[-16:]
    hashed = np.zeros(len(frame), dtype=np.uint64)
    for name in frame.columns:
        column = frame[name]
        numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        is_number = ~np.isnan(numbers)
        text = np.where(is_number, "", column.astype(str).to_numpy(dtype=object))
        cell = (pd.util.hash_array(np.where(is_number, numbers + 0.0, 0.0), hash_key=salt)
                ^ pd.util.hash_array(text.astype(object), hash_key=salt))
        hashed = hashed * np.uint64(1_000_003) + cell  # wraps around: mixing, not counting
    return hashed


def split(frame: pd.DataFrame, seed: int, key: str | None = None
          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cut 80/20 by a hash of each row: of its key where there is one (a repeated key's
    rows stay together), else of the whole row; salted by `seed`.

    So the same row is on the same side at any size, in any file order, in any format
    and in any batch of a stream: a split that needs no shuffle of the whole table and
    no second look at it. It is not stratified: each class goes 80/20 on average, by
    chance. The training rows come back in a seeded random order, which the calibration
    and validation cuts rely on.
    """
    hashed = row_hashes(frame[[key]] if key else frame, seed)
    test = hashed % np.uint64(10_000) < TEST_FRACTION * 10_000
    if not test.any() or test.all():  # a handful of rows: still one on each side
        test = hashed == hashed.min()
    train = frame[~test]
    order = np.random.default_rng(seed).permutation(len(train))
    return train.iloc[order], frame[test]


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
                 text: list[str] | None = None) -> Dataset:
    """Read, validate, clean and split a table: the whole first stage in one call.

    No `features` means every column but the target and the key (the next stage leaves
    out those that cannot help). Columns are checked against the header before the
    file is parsed.
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
    frame, source = table.read()
    task = choose_task(frame[target], task)
    if task == "classification" and target_range is not None:
        raise UsageError(f"--target-range does not apply: '{target}' holds labels, not "
                         "numbers", hint="leave --target-range out, or pass --task regression")
    cleaned, dropped, hints = clean(frame, target, features, key, target_range, task)
    labels = None
    if task == "classification":
        labels = label_order(cleaned[target])
        check_labels(labels, target)
    train, test = split(cleaned, seed, key)
    dataset = Dataset(train=train, test=test, features=features, target=target, key=key,
                      source=source, rows_read=len(frame), dropped=dropped, hints=hints,
                      features_given=given, task=task, labels=labels, header=columns)
    dataset.check_enough_rows()
    return dataset
