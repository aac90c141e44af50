"""A model → `web/model.tflite` for LiteRT.js, by TensorFlow's own `TFLiteConverter`.

LiteRT.js refuses a dynamic batch dimension, so every input is fixed at batch 1
(`mlbridge.js` runs a batch row by row), and it has no string tensors, so a trained
bundle's LiteRT model starts after the category lookups: each category is fed as its
slot (an int32 the page looks up, web/lookups.js) and one-hot encoded inside. Only
TFLite's built-in ops are allowed (LiteRT.js has no TensorFlow "flex" ops) and nothing
is quantized, so the file computes the SavedModel's function in float32. A model the
converter cannot take is recorded as `{"skipped": reason}`: LiteRT is then unsupported
for that bundle, never a silent substitute.
"""

from __future__ import annotations

import re
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import keras

    from mlbridge.kinds import Column

FILE = "model.tflite"


def lite_model(serving: keras.Model, columns: list[Column]) -> keras.Model:
    """The serving model at batch 1, each input as `Column.lite_dtype` (a category's slot
    instead of its text), sharing the serving model's layers and weights."""
    from mlbridge.layers import keras

    inputs = {c.input: keras.Input((c.feed_width,), batch_size=1, name=c.input,
                                   dtype=c.lite_dtype) for c in columns}
    h: Any = [c.lite_encoder(serving)(inputs[c.input]) for c in columns]
    encoders = {c.layer_name for c in columns}
    for layer in serving.layers:
        if isinstance(layer, keras.layers.InputLayer) or layer.name in encoders:
            continue
        if isinstance(h, list) and not isinstance(layer, keras.layers.Concatenate):
            (h,) = h  # one input: no Concatenate in the graph
        h = layer(h)
    return keras.Model(inputs, h, name="mlbridge_litert")


def convert(saved_model: Path) -> bytes:
    """TensorFlow's converter on a SavedModel's `serving_default`, every input at batch 1.

    The signature's own function is traced again with fixed shapes, as a function of the
    same keyword arguments: the .tflite's inputs keep the signature's names and its
    outputs the names of the signature's outputs. A dimension of unknown size other
    than the batch cannot be fixed without knowing the model (a sequence length, an image
    size), so it stops with a ValueError naming the input.
    """
    from mlbridge._tf import captured_output, quiet_tensorflow

    tf, _ = quiet_tensorflow()
    loaded = tf.saved_model.load(str(saved_model))
    serving = loaded.signatures["serving_default"]
    specs = {}
    for name, spec in serving.structured_input_signature[1].items():
        shape = [1, *spec.shape.as_list()[1:]] if spec.shape.rank else None
        if shape is None or None in shape:
            raise ValueError(f"input {name} has shape {spec.shape.as_list() if shape else '?'}: "
                             "LiteRT.js needs every size but the batch fixed")
        specs[name] = tf.TensorSpec(shape, spec.dtype, name=name)

    @tf.function
    def fixed(**inputs: Any) -> Any:
        return serving(**inputs)

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [fixed.get_concrete_function(**specs)], loaded)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    with captured_output():  # the MLIR converter logs from C++
        return converter.convert()


def describe(model: bytes) -> dict[str, list[dict]]:
    """The .tflite's serving signature: inputs and outputs with names, dtypes, shapes."""
    from mlbridge._tf import quiet_tensorflow

    tf, _ = quiet_tensorflow()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
        runner = tf.lite.Interpreter(model_content=model).get_signature_runner()

    def entries(details: dict) -> list[dict]:
        return [{"name": name, "dtype": np_name(d["dtype"]), "shape": [int(n) for n in d["shape"]]}
                for name, d in sorted(details.items())]

    return {"inputs": entries(runner.get_input_details()),
            "outputs": entries(runner.get_output_details())}


def np_name(dtype: Any) -> str:
    import numpy as np

    return np.dtype(dtype).name


def reason(exc: Exception) -> str:
    """The converter's complaint in one line: the ops it could not take, when it says."""
    text = " ".join(str(exc).split())
    ops = sorted(set(re.findall(r"'tf\.(\w+)'", text)))
    if ops:
        return f"TFLite's built-in ops cannot express: {', '.join(ops)}"
    if isinstance(exc, ValueError) and "LiteRT.js needs" in text:
        return text
    return f"the TFLite converter failed: {text[:300]}"


def write(model: bytes, web: Path, extra: dict | None = None) -> dict:
    """Write web/model.tflite; return the `litert` metadata section."""
    web.mkdir(parents=True, exist_ok=True)
    (web / FILE).write_bytes(model)
    return {"file": f"web/{FILE}", "bytes": len(model), "batch": 1, **describe(model),
            **(extra or {})}


def write_converted(saved_model: Path, web: Path) -> dict:
    """Add web/model.tflite for a SavedModel someone brought; the `litert` section."""
    try:
        return write(convert(saved_model), web)
    except Exception as exc:  # the converter raises ConverterError, ValueError, ...
        return {"skipped": reason(exc)}


def write_litert(serving: keras.Model, columns: list[Column], directory: Path) -> dict:
    """Add web/model.tflite for a trained bundle; return `{"litert": section}`."""
    from mlbridge._tf import quiet_tensorflow

    tf, _ = quiet_tensorflow()
    # Keras exports a dynamic batch whatever the Input says: the signature fixes it.
    specs = {c.input: tf.TensorSpec((1, c.feed_width), c.lite_dtype, name=c.input)
             for c in columns}
    try:
        with tempfile.TemporaryDirectory(dir=directory) as tmp:
            lite_model(serving, columns).export(str(Path(tmp) / "lite"), verbose=False,
                                                input_signature=[specs])
            model = convert(Path(tmp) / "lite")
    except Exception as exc:  # the converter raises ConverterError, ValueError, ...
        return {"litert": {"skipped": reason(exc)}}
    slots = [c.input for c in columns if c.lite_dtype == "int32"]
    extra = {"slots": slots} if slots else {}
    return {"litert": write(model, directory / "web", extra)}
