"""Running a serving model on raw inputs: tensors from numpy, and calls in chunks.

Shared by training (evaluation, calibration, the report), loading (`Bundle`) and
verify, below both the model and the heads, so neither needs the other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import keras

    from mlbridge.kinds import Column


def tensors(columns: list[Column], inputs: dict[str, np.ndarray]) -> dict[str, Any]:
    """Checked raw values by graph input → the tensors each input is fed, `[rows, width]`:
    float32 numbers, strings for a category, a text's multi-hot (`Column.feed`)."""
    import tensorflow as tf

    def one(column: Column) -> Any:
        values = column.feed(inputs[column.input])
        if values.dtype == object:
            return tf.constant(values.astype(str).astype(object), dtype=tf.string)
        return tf.constant(values, dtype=tf.float32)

    return {column.input: one(column) for column in columns}


def serving_values(model: keras.Model, columns: list[Column],
                   inputs: dict[str, np.ndarray]) -> np.ndarray:
    """Run the serving model on raw graph inputs in chunks; returns `[rows, outputs]`.

    The model is called directly rather than through `predict()`, which traces a new
    function for every model it sees (about half a second each, several times a run).
    """
    from mlbridge.kinds import rows_per_chunk

    rows = len(next(iter(inputs.values())))
    size = rows_per_chunk(sum(c.feed_width for c in columns))  # bounds memory
    parts = []
    for start in range(0, rows, size):
        chunk = {name: values[start:start + size] for name, values in inputs.items()}
        parts.append(np.asarray(model(tensors(columns, chunk), training=False),
                                dtype=np.float64))
    return np.vstack(parts) if parts else np.empty((0, model.output.shape[-1]))
