"""A number: imputed, optionally logged, standardized, all inside the graph."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from mlbridge.cells import parse_numbers
from mlbridge.errors import DataError, UsageError
from mlbridge.kinds.base import Column, _format

TRANSFORMS = ("auto", "log", "none")
#: `auto` picks log for a non-negative feature whose sample skewness is above this.
SKEW_FOR_LOG = 2.0
_EPSILON = 1e-7  # Keras's floor for a standard deviation


@dataclass
class NumericColumn(Column):
    """A number: missing → the training median (+ a missing flag where training had gaps),
    optional `log1p(max(x, 0))`, then standardized with the training mean and spread."""

    kind: ClassVar[str] = "numeric"
    dtype: ClassVar[str] = "float32"
    layer_suffix: ClassVar[str] = "encode"
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
                               name=self.layer_name)

    def may_note(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        return np.isnan(values) | (values > self.max) | (values < self.min)

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


