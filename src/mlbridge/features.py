"""Column kinds: how each kind of feature is learnt, encoded in the graph, and described.

Each kind is one small class, the way Keras keeps one class per layer, and each knows
four things: how to learn its statistics from the training split (`fit`); the Keras
layer that applies them inside the exported graph (`layer`); the same encoding in numpy
(`encode`, for the least-squares baseline and the tests); and how it describes itself in
`metadata.json` (`to_json`, read back by `from_json`). The browser feeds raw values (a
number or NaN, a string or ""); no transform is ever re-implemented in JavaScript
except by `predict.mjs`, whose steps are read from the trained graph.

`choose_columns` decides, on the training split, what kind each column is and which
columns cannot help (left out, each with its reason).
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from mlbridge.dataset import NUMERIC_SHARE, Dataset, parse_numbers
from mlbridge.errors import DataError, UsageError

TRANSFORMS = ("auto", "log", "none")
#: `auto` picks log for a non-negative feature whose sample skewness is above this.
SKEW_FOR_LOG = 2.0
#: A category needs this many training rows to get its own slot; rarer ones share the
#: out-of-vocabulary slot (a weight learnt from a handful of rows is mostly noise).
MIN_COUNT = 5
#: At most this many categories per feature, the most frequent first. Measured in
#: `make bench` ("Vocabulary cap"): see the README for why this size.
MAX_VOCABULARY = 1000
#: Text columns with distinct values on at least this share of rows look like ids/names.
ID_LIKE_SHARE = 0.9
_DATE = re.compile(r"^(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})"
                   r"([ T]\d{1,2}:\d{2}(:\d{2})?.*)?$")
_EPSILON = 1e-7  # Keras's floor for a standard deviation
#: The converter names a lookup table's resource inputs unknown, unknown_1, ...
_RESERVED = re.compile(r"unknown(_\d+)?")


def _format(x: float) -> str:
    """A number as notes show it: at most 2 decimals, thousands separators from 10,000 on
    (so a year reads 2008), exactly as web/notes.js formats it."""
    text = (f"{x:,.2f}" if abs(x) >= 10000 else f"{x:.2f}").rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def notes(columns: list[Column], row: list[Any]) -> list[str]:
    """The notes for one row of checked raw values, in the columns' order."""
    return [text for column, value in zip(columns, row, strict=True)
            if (text := column.note(value)) is not None]


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


@dataclass
class Column(ABC):
    """One model input: its column name, its graph input name, and what training taught."""

    kind: ClassVar[str]
    dtype: ClassVar[str]
    name: str
    input: str

    @abstractmethod
    def values(self, column: pd.Series) -> np.ndarray:
        """Raw table text → what the graph input takes (float64 with NaN, or str with "")."""

    @abstractmethod
    def encode(self, values: np.ndarray) -> np.ndarray:
        """The graph's encoding in numpy: `[rows, width]` float64."""

    @abstractmethod
    def layer(self) -> Any:
        """The Keras layer that encodes this input inside the graph."""

    @abstractmethod
    def describe(self) -> str:
        """One line for the summary: what was learnt."""

    @abstractmethod
    def note(self, value: Any) -> str | None:
        """Why the model is guessing for this raw value, or None (same rules: notes.js)."""

    def to_json(self) -> dict:
        return {"name": self.name, "input": self.input, "kind": self.kind, "dtype": self.dtype,
                **{k: v for k, v in asdict(self).items() if k not in ("name", "input")}}

    @staticmethod
    def from_json(meta: dict) -> Column:
        kind = {cls.kind: cls for cls in (NumericColumn, CategoricalColumn)}[meta["kind"]]
        names = {f.name for f in fields(kind)}
        return kind(**{k: v for k, v in meta.items() if k in names})


@dataclass
class NumericColumn(Column):
    """A number: missing → the training median (+ a missing flag where training had gaps),
    optional `log1p(max(x, 0))`, then standardized with the training mean and spread."""

    kind: ClassVar[str] = "numeric"
    dtype: ClassVar[str] = "float32"
    transform: str = "none"
    min: float = 0.0
    max: float = 0.0
    fill: float = 0.0
    missing_indicator: bool = False
    missing_in_training: int = 0
    unparsable_in_training: int = 0
    negative_in_training: int = 0
    mean: float = 0.0
    std: float = 1.0

    @classmethod
    def fit(cls, name: str, input_name: str, train: pd.Series, transform: str,
            parsed: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> NumericColumn:
        """Learn from the training values (`parsed`: their `parse_numbers`, if at hand)."""
        x, _, not_numeric = parsed or parse_numbers(train)
        seen = x[~np.isnan(x)]
        column = cls(name, input_name, transform=choose_transform(seen, transform),
                     min=float(seen.min()), max=float(seen.max()), fill=float(np.median(seen)),
                     missing_indicator=bool(np.isnan(x).any()),
                     missing_in_training=int(np.isnan(x).sum()),
                     unparsable_in_training=int(not_numeric.sum()))
        if column.transform == "log":
            column.negative_in_training = int((seen < 0).sum())
            if column.max <= 0:
                raise DataError(f"every value of '{name}' is 0 or negative, so the log "
                                "transform (log1p of max(x, 0)) makes it constant",
                                hint=f"use --transform none, or fix the sign of '{name}'")
        transformed = column._transformed(x)
        column.mean = float(transformed.mean())
        column.std = float(max(transformed.std(), _EPSILON))
        return column

    def values(self, column: pd.Series) -> np.ndarray:
        return parse_numbers(column)[0]  # missing and unparsable alike become NaN

    def _transformed(self, x: np.ndarray) -> np.ndarray:
        filled = np.where(np.isnan(x), self.fill, np.asarray(x, dtype=np.float64))
        return np.log1p(np.maximum(filled, 0.0)) if self.transform == "log" else filled

    def encode(self, values: np.ndarray) -> np.ndarray:
        x = np.asarray(values, dtype=np.float64)
        z = (self._transformed(x) - self.mean) / self.std
        parts = [z, np.isnan(x).astype(np.float64)] if self.missing_indicator else [z]
        return np.column_stack(parts)

    @property
    def width(self) -> int:
        return 2 if self.missing_indicator else 1

    def layer(self) -> Any:
        from mlbridge.layers import NumericEncoding

        return NumericEncoding(fill=self.fill, log=self.transform == "log", mean=self.mean,
                               std=self.std, indicator=self.missing_indicator,
                               name=f"{self.input}_encode")

    def note(self, value: Any) -> str | None:
        name = self.name
        if math.isnan(value):
            return f"{name} is missing: the model used {_format(self.fill)}, the training median"
        if value > self.max:
            times = math.floor(value / self.max) if self.max > 0 else 0
            return (f"{name} is {times}× the largest seen in training ({_format(self.max)})"
                    if times >= 2 else
                    f"{name} is above the largest seen in training ({_format(self.max)})")
        if value < self.min:
            return f"{name} is below the smallest seen in training ({_format(self.min)})"
        return None

    def describe(self) -> str:
        unparsable = (f" ({self.unparsable_in_training:,} not numbers)"
                      if self.unparsable_in_training else "")
        gaps = (f"; {self.missing_in_training:,} missing{unparsable} → {self.fill:g} + flag"
                if self.missing_indicator else "")
        negative = (f"; {self.negative_in_training:,} negative count as 0"
                    if self.negative_in_training else "")
        return f"number, {self.transform}{gaps}{negative}"


@dataclass
class CategoricalColumn(Column):
    """A category: the frequent training values each get a one-hot slot; rare and unseen
    values share the out-of-vocabulary slot; a missing value ("") has a slot of its own."""

    kind: ClassVar[str] = "categorical"
    dtype: ClassVar[str] = "string"
    vocabulary: list[str] = field(default_factory=list)
    distinct_in_training: int = 0
    folded_values: int = 0
    folded_rows: int = 0
    missing_in_training: int = 0
    min_count: int = MIN_COUNT

    #: The lookup's slots, in the one-hot's order: out-of-vocabulary first, then missing.
    OOV_SLOT: ClassVar[int] = 0
    MISSING_SLOT: ClassVar[int] = 1

    @classmethod
    def fit(cls, name: str, input_name: str, train: pd.Series,
            max_vocabulary: int = MAX_VOCABULARY) -> CategoricalColumn:
        text = cls.text(train)
        present = text[text != ""]
        counts = present.value_counts()
        counts = counts.iloc[np.lexsort((counts.index.to_numpy(dtype=str), -counts.to_numpy()))]
        kept = counts[counts >= MIN_COUNT].iloc[:max_vocabulary]
        return cls(name, input_name, vocabulary=kept.index.tolist(),
                   distinct_in_training=len(counts), folded_values=len(counts) - len(kept),
                   folded_rows=int(counts.sum() - kept.sum()),
                   missing_in_training=int((text == "").sum()))

    @staticmethod
    def text(column: pd.Series) -> pd.Series:
        """Numbers and text alike as stripped strings; missing tokens were made "" on read."""
        return column.astype(str).str.strip()

    def values(self, column: pd.Series) -> np.ndarray:
        from mlbridge.dataset import clean_text

        return clean_text(column).to_numpy(dtype=object)

    def slots(self, values: np.ndarray) -> np.ndarray:
        """The one-hot slot of each value: 0 unseen, 1 missing, 2.. the vocabulary."""
        index = {v: i + 2 for i, v in enumerate(self.vocabulary)}
        return np.array([index.get(v, self.MISSING_SLOT if v == "" else self.OOV_SLOT)
                         for v in map(str, values)], dtype=np.int64)

    def encode(self, values: np.ndarray) -> np.ndarray:
        return np.eye(self.width)[self.slots(values)]

    @cached_property
    def known(self) -> frozenset[str]:
        return frozenset(self.vocabulary)

    def labels(self, values: np.ndarray) -> np.ndarray:
        """Each value as the model sees it: itself if kept, else "(other)" or "(missing)"."""
        names = np.array(["(other)", "(missing)", *self.vocabulary], dtype=object)
        return names[self.slots(values)]

    @property
    def width(self) -> int:
        return len(self.vocabulary) + 2

    def layer(self) -> Any:
        from mlbridge.layers import keras

        return keras.layers.StringLookup(vocabulary=["", *self.vocabulary], num_oov_indices=1,
                                         output_mode="one_hot", name=f"{self.input}_lookup")

    def note(self, value: Any) -> str | None:
        if value == "":
            return f"{self.name} is missing"
        if value not in self.known:
            return f'"{value}" is not a {self.name} the model knows: counted as other'
        return None

    def describe(self) -> str:
        folded = (f", {self.folded_values:,} folded into 'other' ({self.folded_rows:,} rows)"
                  if self.folded_values else "")
        gaps = f", {self.missing_in_training:,} missing" if self.missing_in_training else ""
        return f"category, {len(self.vocabulary):,} values kept{folded}{gaps}"


def choose_transform(values: np.ndarray, requested: str) -> str:
    """Return "log" or "none" for one numeric feature, from training values only.

    `auto` takes log for counts such as follower numbers: never negative and heavily
    right-skewed, where a straight line in raw units fits the many small values badly.
    """
    if requested not in TRANSFORMS:
        raise UsageError(f"unknown transform '{requested}'", hint="use auto, log or none")
    if requested != "auto":
        return requested
    if len(values) == 0 or values.min() < 0:
        return "none"
    return "log" if float(pd.Series(values).skew()) > SKEW_FOR_LOG else "none"


def _left_out_reason(text: pd.Series, numbers: np.ndarray | None) -> str | None:
    """Why a column chosen automatically cannot help, or None if it can."""
    present = text[text != ""]
    if present.empty:
        return "empty in every row"
    distinct = present.nunique()
    if distinct == 1:
        return f"one value only ({present.iloc[0]!r})"
    if numbers is None:
        sample = present.iloc[:200]
        if sample.str.match(_DATE).mean() > 0.9:
            return "looks like a date"
        if len(present) >= 20 and distinct >= ID_LIKE_SHARE * len(present):
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


def choose_columns(dataset: Dataset, categorical: list[str] | None = None,
                   transform: str = "auto") -> ColumnChoice:
    """Decide each feature's kind on the training split, and fit it.

    A column is numeric when at least 95% of the values present in the training split
    are numbers (the rest count as missing), unless `categorical` names it; otherwise it
    is a category. Columns chosen
    automatically (no `--features`) that cannot help are left out with a reason;
    columns the user named fail instead, since silently ignoring them would surprise.
    """
    forced = set(categorical or [])
    columns: list[Column] = []
    left_out: dict[str, str] = {}
    taken: set[str] = set()
    for name in dataset.features:
        text = CategoricalColumn.text(dataset.train[name])
        parsed = parse_numbers(text)
        _, missing, not_numeric = parsed
        present = max(int((~missing).sum()), 1)
        numeric = name not in forced and not_numeric.sum() <= (1 - NUMERIC_SHARE) * present
        reason = _left_out_reason(text, parsed[0] if numeric else None)
        if reason is not None and (not dataset.features_given or reason.startswith(
                ("empty", "one value"))):
            if dataset.features_given:
                adds = ("it is empty in every row of the training split" if reason.startswith(
                    "empty") else f"it has {reason} in the training split, so it adds nothing")
                raise DataError(f"feature '{name}': {adds}",
                                hint=f"leave '{name}' out of --features")
            left_out[name] = reason
            continue
        if numeric:
            columns.append(NumericColumn.fit(name, graph_name(name, taken), text, transform,
                                             parsed))
            continue
        column = CategoricalColumn.fit(name, graph_name(name, taken), text)
        if not column.vocabulary:
            reason = f"no value occurs {MIN_COUNT} times in the training split"
            if dataset.features_given:
                raise DataError(f"feature '{name}': {reason}, so it adds nothing",
                                hint=f"leave '{name}' out of --features, or pass more rows")
            left_out[name] = reason
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
    chunk: int = 65536

    def _blocks(self, x: dict[str, np.ndarray]) -> Iterator[np.ndarray]:
        rows = len(next(iter(x.values())))
        for start in range(0, rows, self.chunk):
            yield np.hstack([c.encode(x[c.input][start:start + self.chunk])
                             for c in self.columns])

    def train_blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for i, block in enumerate(self._blocks(self.x_train)):
            yield block, self.y_train[i * self.chunk:(i + 1) * self.chunk]

    def test_blocks(self) -> Iterator[np.ndarray]:
        yield from self._blocks(self.x_test)
