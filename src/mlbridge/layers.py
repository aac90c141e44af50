"""The two small Keras layers mlbridge adds so that the whole pipeline is one graph.

Importing this module imports TensorFlow; only the training and loading code does so.
Both layers use only ops that the TF.js converter and runtime support
(Log1p, Maximum, Minimum, Mul, AddV2, Sub).
"""

from __future__ import annotations

from mlbridge._tf import quiet_tensorflow

_tf, keras = quiet_tensorflow()
ops = keras.ops


@keras.saving.register_keras_serializable(package="mlbridge")
class LogTransform(keras.layers.Layer):
    """`log1p(max(x, 0))` on the features where `mask` is 1; the others pass through.

    Clamping at 0 means a negative raw value (which training never saw for a log
    feature) gives the prediction for 0 instead of NaN.
    """

    def __init__(self, mask: list[float], **kwargs) -> None:
        super().__init__(**kwargs)
        self.mask = [float(m) for m in mask]

    def call(self, x):
        mask = ops.convert_to_tensor(self.mask, dtype=x.dtype)
        logged = ops.log1p(ops.maximum(x, 0.0))
        return logged * mask + x * (1.0 - mask)

    def get_config(self) -> dict:
        return {**super().get_config(), "mask": self.mask}


@keras.saving.register_keras_serializable(package="mlbridge")
class Clip(keras.layers.Layer):
    """Clip predictions to the target's range, so the page never shows 104 out of 100."""

    def __init__(self, low: float, high: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.low, self.high = float(low), float(high)

    def call(self, x):
        return ops.minimum(ops.maximum(x, self.low), self.high)

    def get_config(self) -> dict:
        return {**super().get_config(), "low": self.low, "high": self.high}
