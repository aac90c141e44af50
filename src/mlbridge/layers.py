"""The small Keras layers mlbridge adds so that the whole pipeline is one graph.

Importing this module imports TensorFlow; only the training and loading code does so.
Every layer uses only ops that the TF.js converter and runtime support
(IsNan, SelectV2, Log1p, Maximum, Minimum, Sub, RealDiv, Cast, ConcatV2).
"""

from __future__ import annotations

from mlbridge._tf import quiet_tensorflow

_tf, keras = quiet_tensorflow()
ops = keras.ops


@keras.saving.register_keras_serializable(package="mlbridge")
class NumericEncoding(keras.layers.Layer):
    """One raw number `[batch, 1]` (NaN = missing) → its encoding `[batch, 1 or 2]`.

    missing → `fill`; optional `log1p(max(x, 0))`; `(x - mean) / std`; then, when
    training had gaps, a second column that is 1 where the value was missing. Clamping
    at 0 before the log means a negative raw value gives the prediction for 0, not NaN.
    """

    def __init__(self, fill: float, log: bool, mean: float, std: float, indicator: bool,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.fill, self.log, self.indicator = float(fill), bool(log), bool(indicator)
        self.mean, self.std = float(mean), float(std)

    def call(self, x):
        missing = ops.isnan(x)
        h = ops.where(missing, ops.cast(self.fill, x.dtype), x)
        if self.log:
            h = ops.log1p(ops.maximum(h, 0.0))
        h = (h - self.mean) / self.std
        if self.indicator:
            h = ops.concatenate([h, ops.cast(missing, x.dtype)], axis=-1)
        return h

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 2 if self.indicator else 1)

    def get_config(self) -> dict:
        return {**super().get_config(), "fill": self.fill, "log": self.log, "mean": self.mean,
                "std": self.std, "indicator": self.indicator}


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


@keras.saving.register_keras_serializable(package="mlbridge")
class Interval(keras.layers.Layer):
    """A value `[batch, 1]` → `[batch, 3]`: value, value - half_width, value + half_width.

    The ends are clipped to the target's range like the value. One output with the value
    first keeps `output[0][0]` the value for a client that knows nothing of intervals.
    """

    def __init__(self, half_width: float, low: float, high: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.half_width, self.low, self.high = float(half_width), float(low), float(high)

    def call(self, x):
        lower = ops.maximum(x - self.half_width, self.low)
        upper = ops.minimum(x + self.half_width, self.high)
        return ops.concatenate([x, lower, upper], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 3)

    def get_config(self) -> dict:
        return {**super().get_config(), "half_width": self.half_width, "low": self.low,
                "high": self.high}


@keras.saving.register_keras_serializable(package="mlbridge")
class TwoClass(keras.layers.Layer):
    """A sigmoid's probability p `[batch, 1]` → `[batch, 2]`: (1 - p, p), in label order."""

    def call(self, p):
        return ops.concatenate([1.0 - p, p], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 2)


@keras.saving.register_keras_serializable(package="mlbridge")
class SlotOneHot(keras.layers.Layer):
    """A category's slot `[batch, 1]` (int32) → its one-hot `[batch, width]`.

    The same numbers as `StringLookup(..., output_mode="one_hot")` gives for the value
    the slot stands for: the LiteRT model (export/litert.py) starts here, after the
    lookup, because LiteRT.js has no string tensors; the page looks the slot up itself
    (web/lookups.js).
    """

    def __init__(self, width: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.width = int(width)

    def call(self, slot):
        return ops.one_hot(ops.squeeze(slot, axis=-1), self.width, dtype="float32")

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.width)

    def get_config(self) -> dict:
        return {**super().get_config(), "width": self.width}
