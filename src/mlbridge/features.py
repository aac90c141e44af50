"""Choose each feature's transform from the training split, and apply it in numpy.

The same transforms are built into the model as Keras layers (see `layers.py`), so the
exported graph takes raw values; the numpy version here exists for the least-squares
baseline and for tests that check the graph against it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from mlbridge.errors import UsageError

TRANSFORMS = ("auto", "log", "none")
#: `auto` picks log for a non-negative feature whose sample skewness is above this.
SKEW_FOR_LOG = 2.0


@dataclass(frozen=True)
class FeatureSpec:
    """One input of the model: its column, its transform, and the range seen in training."""

    name: str
    transform: str
    min: float
    max: float

    def to_json(self) -> dict:
        return asdict(self)


def choose_transform(values: pd.Series, requested: str) -> str:
    """Return "log" or "none" for one feature, looking at training values only.

    `auto` takes log for counts such as follower numbers: never negative and heavily
    right-skewed, where a straight line in raw units fits the many small values badly.
    """
    if requested not in TRANSFORMS:
        raise UsageError(f"unknown transform '{requested}'", hint="use auto, log or none")
    if requested != "auto":
        return requested
    if values.min() < 0:
        return "none"
    return "log" if float(values.skew()) > SKEW_FOR_LOG else "none"


def choose_transforms(train: pd.DataFrame, features: list[str],
                      requested: str) -> list[FeatureSpec]:
    """Return a `FeatureSpec` per feature, in the given order (the graph's input order)."""
    return [
        FeatureSpec(name, choose_transform(train[name], requested),
                    float(train[name].min()), float(train[name].max()))
        for name in features
    ]


def log_mask(specs: list[FeatureSpec]) -> np.ndarray:
    """1.0 where a feature is log-transformed, else 0.0, in input order."""
    return np.array([spec.transform == "log" for spec in specs], dtype=np.float32)


def transform_values(specs: list[FeatureSpec], x: np.ndarray) -> np.ndarray:
    """Apply the transforms to a raw `[rows, features]` array: log1p(max(x, 0)) or x."""
    mask = log_mask(specs).astype(bool)
    out = np.asarray(x, dtype=np.float64).copy()
    out[:, mask] = np.log1p(np.maximum(out[:, mask], 0.0))
    return out
