"""Heads: what the model outputs, one small class per kind of answer.

A head knows its target (what it learns from the training split), its output layers
(training and serving), its loss, its metrics and baselines, how its predictions are
written to a table, and how it describes itself in `metadata.json` (`output`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from mlbridge.evaluate import least_squares, regression_metrics

if TYPE_CHECKING:
    import keras

    from mlbridge.features import EncodedSplits


@dataclass
class RegressionHead:
    """A number in target units, clipped to the target's range.

    The model learns a standardized target (mean 0, std 1), which lets Adam converge in
    a handful of epochs where raw 0-100 targets need hundreds; the serving graph adds
    the inverse scaling and the clip.
    """

    task: ClassVar[str] = "regression"
    loss: ClassVar[str] = "mean_squared_error"
    name: str
    min: float
    max: float
    declared_range: list[float] | None = None
    mean: float = 0.0
    std: float = 1.0

    @classmethod
    def fit(cls, name: str, y_train: np.ndarray,
            declared_range: tuple[float, float] | None = None) -> RegressionHead:
        low, high = declared_range or (float(np.min(y_train)), float(np.max(y_train)))
        return cls(name, float(low), float(high),
                   list(declared_range) if declared_range else None,
                   float(np.mean(y_train)), float(np.std(y_train)) or 1.0)

    def training_target(self, y: np.ndarray) -> np.ndarray:
        return ((np.asarray(y, dtype=np.float64) - self.mean) / self.std).astype(np.float32)

    def outputs(self, h: Any) -> tuple[Any, Any]:
        """`(training output, serving output)` on top of the features' last layer `h`."""
        from mlbridge.layers import Clip, keras

        standardized = keras.layers.Dense(1, name="standardized_output")(h)
        in_units = keras.layers.Rescaling(scale=self.std, offset=self.mean,
                                          name="to_target_units")(standardized)
        return standardized, Clip(self.min, self.max, name="clip")(in_units)

    def metrics(self, y_true: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
        return regression_metrics(y_true, predicted)

    def baselines(self, encoded: EncodedSplits) -> dict[str, dict[str, float]]:
        """Predict-the-mean, and closed-form least squares on the same encoded features."""
        y_test = encoded.y_test
        mean = np.full(len(y_test), float(np.mean(encoded.y_train)))
        fitted = least_squares(encoded.train_blocks(), encoded.test_blocks(), (self.min, self.max))
        return {"mean": regression_metrics(y_test, mean),
                "least_squares": regression_metrics(y_test, fitted)}

    def table_columns(self, predicted: np.ndarray) -> dict[str, np.ndarray]:
        """The columns `predict --data` adds."""
        return {f"predicted_{self.name}": np.asarray(predicted).reshape(-1)}

    def to_json(self) -> dict:
        return {"task": self.task, **asdict(self)}

    @classmethod
    def from_json(cls, meta: dict) -> RegressionHead:
        return cls(**{f.name: meta[f.name] for f in fields(cls) if f.name in meta})


def serving_values(model: keras.Model, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """Run the serving model on raw graph inputs in batches; returns `[rows, outputs]`."""
    import tensorflow as tf

    rows = len(next(iter(inputs.values())))
    if rows == 0:
        return np.empty((0, 1))
    tensors = {name: tf.constant(np.asarray(v).reshape(-1, 1),
                                 dtype=tf.string if np.asarray(v).dtype == object else
                                 tf.float32) for name, v in inputs.items()}
    out = model.predict(tensors, batch_size=65536, verbose=0)
    return np.asarray(out, dtype=np.float64).reshape(rows, -1)
