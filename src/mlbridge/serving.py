"""Running a serving model on raw inputs: tensors from numpy, and calls in chunks.

Shared by training (evaluation, calibration, the report), loading (`Bundle`) and
verify, below both the model and the heads, so neither needs the other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import keras


def tensors(inputs: dict[str, np.ndarray]) -> dict[str, Any]:
    """Raw graph inputs as `[rows, 1]` tensors: float32 numbers, or strings."""
    import tensorflow as tf

    def one(values: np.ndarray) -> Any:
        values = np.asarray(values).reshape(-1, 1)
        if values.dtype == object:
            return tf.constant(values.astype(str).astype(object), dtype=tf.string)
        return tf.constant(values, dtype=tf.float32)

    return {name: one(values) for name, values in inputs.items()}


#: Rows per call when predicting: bounds memory (a one-hot of 1,000 values is 4 KB a row).
PREDICT_CHUNK = 65536


def serving_values(model: keras.Model, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """Run the serving model on raw graph inputs in chunks; returns `[rows, outputs]`.

    The model is called directly rather than through `predict()`, which traces a new
    function for every model it sees (about half a second each, several times a run).
    """
    rows = len(next(iter(inputs.values())))
    parts = []
    for start in range(0, rows, PREDICT_CHUNK):
        chunk = {name: values[start:start + PREDICT_CHUNK] for name, values in inputs.items()}
        parts.append(np.asarray(model(tensors(chunk), training=False), dtype=np.float64))
    return np.vstack(parts) if parts else np.empty((0, model.output.shape[-1]))
