"""Column choice: which columns become model inputs, of which kind, and which are left out.

`choose_columns` decides, on the training split, what kind each column is (a number, a
category or text: the kinds are in `kinds/`) and which columns cannot help (left out, each
with its reason). `graph_inputs` and `EncodedSplits` turn a table into what the graph
takes and what the baselines fit on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlbridge.cells import parse_numbers
from mlbridge.cleaning import NUMERIC_SHARE
from mlbridge.dataset import Dataset
from mlbridge.errors import DataError
from mlbridge.kinds import (
    MAX_WORDS,
    MIN_COUNT,
    MIN_ROWS,
    CategoricalColumn,
    Column,
    NumericColumn,
    TextColumn,
    rows_per_chunk,
    words,
)

#: Text columns with distinct values on at least this share of rows look like ids/names.
ID_LIKE_SHARE = 0.9
#: A column is free text when at least this share of its values have two words or more...
TEXT_WORDS_SHARE = 0.5
#: ... and at least this share of its values differ (else it is a category of phrases).
TEXT_DISTINCT_SHARE = 0.2
_DATE = re.compile(r"^(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})"
                   r"([ T]\d{1,2}:\d{2}(:\d{2})?.*)?$")
#: The converter names a lookup table's resource inputs unknown, unknown_1, ...
_RESERVED = re.compile(r"unknown(_\d+)?")


def graph_name(name: str, taken: set[str]) -> str:
    """A TensorFlow-safe, unique input name for a column ("Bill length (mm)" → bill_length_mm_).

    Lower case, because a SavedModel lower-cases its placeholders while keeping the
    signature's keys: "Horsepower" would be fed as one name and found as another.
    """
    base = re.sub(r"[^a-z0-9_]", "_", name.lower()) or "feature"
    if not base[0].isalpha() or _RESERVED.fullmatch(base):
        base = f"f_{base}"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}_{n}"
    taken.add(candidate)
    return candidate



def looks_like_text(cells: pd.Series) -> bool:
    """Free text rather than a category: most values have several words, and many values
    differ (a title, a name, a list of genres; "New York" among ten cities stays a
    category)."""
    present = cells[cells != ""].iloc[:2000]
    if present.empty:
        return False
    several = present.map(lambda value: len(words(value)) >= 2).mean()
    return bool(several >= TEXT_WORDS_SHARE and present.nunique() >= TEXT_DISTINCT_SHARE
                * len(present))


def _left_out_reason(cells: pd.Series, numbers: np.ndarray | None, kind: str) -> str | None:
    """Why a column chosen automatically cannot help, or None if it can."""
    present = cells[cells != ""]
    if present.empty:
        return "empty in every row"
    distinct = present.nunique()
    if distinct == 1:
        return f"one value only ({present.iloc[0]!r})"
    if numbers is None:
        sample = present.iloc[:200]
        if sample.str.match(_DATE).mean() > 0.9:
            return "looks like a date"
        if kind == "categorical" and len(present) >= 20 and distinct >= ID_LIKE_SHARE * len(
                present):
            return "a different value on (nearly) every row, like an id or a name"
    else:
        x = numbers[~np.isnan(numbers)]
        whole = np.all(x == np.round(x))
        if whole and distinct == len(x) >= 20 and np.ptp(x) < 1.1 * len(x):
            return "a different whole number on every row, like a row id"
    return None


@dataclass
class ColumnChoice:
    """The model's inputs in graph order, and the columns left out with their reasons."""

    columns: list[Column]
    left_out: dict[str, str]


def _kind(name: str, cells: pd.Series, numeric: bool, categorical: set[str],
          text: set[str]) -> str:
    if name in text:
        return "text"
    if name in categorical:
        return "categorical"
    if numeric:
        return "numeric"
    return "text" if looks_like_text(cells) else "categorical"


def choose_columns(dataset: Dataset, categorical: list[str] | None = None,
                   transform: str = "auto", text: list[str] | None = None,
                   max_words: int = MAX_WORDS) -> ColumnChoice:
    """Decide each feature's kind on the training split, and fit it.

    A column is numeric when at least 95% of the values present in the training split
    are numbers (the rest count as missing); otherwise it is text when most values have
    several words and many differ (`looks_like_text`), else a category. `categorical`
    and `text` force a kind. Columns chosen automatically (no `--features`) that cannot
    help are left out with a reason; columns the user named fail instead, since
    silently ignoring them would surprise.
    """
    forced_categories, forced_text = set(categorical or []), set(text or [])
    columns: list[Column] = []
    left_out: dict[str, str] = {}
    taken: set[str] = set()
    for name in dataset.features:
        cells = CategoricalColumn.text(dataset.train[name])
        parsed = parse_numbers(cells)
        _, missing, not_numeric = parsed
        present = max(int((~missing).sum()), 1)
        numeric = not_numeric.sum() <= (1 - NUMERIC_SHARE) * present
        kind = _kind(name, cells, numeric, forced_categories, forced_text)
        reason = _left_out_reason(cells, parsed[0] if kind == "numeric" else None, kind)
        if reason is not None and (not dataset.features_given or reason.startswith(
                ("empty", "one value"))):
            if dataset.features_given:
                adds = ("it is empty in every row of the training split" if reason.startswith(
                    "empty") else f"it has {reason} in the training split, so it adds nothing")
                raise DataError(f"feature '{name}': {adds}",
                                hint=f"leave '{name}' out of --features")
            left_out[name] = reason
            continue
        input_name = graph_name(name, taken)
        if kind == "numeric":
            columns.append(NumericColumn.fit(name, input_name, cells, transform, parsed))
            continue
        if kind == "text":
            column: Column = TextColumn.fit(name, input_name, cells, max_words)
            empty = (f"text with no word in at least {MIN_ROWS} rows of the training split "
                     "but not in all of them")
        else:
            column = CategoricalColumn.fit(name, input_name, cells)
            empty = f"no value occurs {MIN_COUNT} times in the training split"
        if not column.vocabulary:
            if dataset.features_given:
                raise DataError(f"feature '{name}': {empty}, so it adds nothing",
                                hint=f"leave '{name}' out of --features, or pass more rows")
            left_out[name] = empty
            continue
        columns.append(column)
    if not columns:
        why = "; ".join(f"{name}: {reason}" for name, reason in left_out.items())
        raise DataError(f"no usable feature column is left in {dataset.source.location}"
                        + (f" ({why})" if why else ""),
                        hint="pass a table with at least one informative column besides "
                        "the target and the key")
    return ColumnChoice(columns, left_out)


def encode(columns: list[Column], frame: pd.DataFrame) -> np.ndarray:
    """All inputs of a table encoded as the graph does it, side by side: `[rows, width]`."""
    return np.hstack([c.encode(c.values(frame[c.name])) for c in columns])


def graph_inputs(columns: list[Column], frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The raw values each graph input takes, by input name, from a table of text."""
    return {c.input: c.values(frame[c.name]) for c in columns}


@dataclass
class EncodedSplits:
    """The training and test splits, encoded as the graph does, on demand and in chunks.

    Built from the raw graph inputs (`graph_inputs`), which are parsed once. Baselines
    (least squares, logistic regression) fit on exactly the model's encoding; chunks
    keep a million rows with a one-hot category within memory.
    """

    columns: list[Column]
    x_train: dict[str, np.ndarray]
    x_test: dict[str, np.ndarray]
    y_train: np.ndarray
    y_test: np.ndarray
    @property
    def chunk(self) -> int:
        return rows_per_chunk(sum(c.width for c in self.columns))

    def train_blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for i, block in enumerate(encoded_blocks(self.columns, self.x_train)):
            yield block, self.y_train[i * self.chunk:(i + 1) * self.chunk]

    def test_blocks(self) -> Iterator[np.ndarray]:
        yield from encoded_blocks(self.columns, self.x_test)


def encoded_blocks(columns: list[Column], x: dict[str, np.ndarray]) -> Iterator[np.ndarray]:
    """Raw graph inputs encoded as the graph does, in chunks of `rows_per_chunk` rows:
    memory bounded whatever the rows and the width."""
    rows = len(next(iter(x.values())))
    chunk = rows_per_chunk(sum(c.width for c in columns))
    for start in range(0, rows, chunk):
        yield np.hstack([c.encode(x[c.input][start:start + chunk]) for c in columns])
