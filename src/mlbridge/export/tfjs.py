"""Keras model -> TensorFlow SavedModel -> TF.js graph model, in this process.

The Keras 3 `.keras` file cannot be converted to a TF.js layers model, so the route is
the graph model: `model.export()` writes a SavedModel, and the `tensorflowjs` library
(not its command-line tool) freezes and converts it. The graph already contains every
transform, so the browser feeds raw values.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from mlbridge.errors import ExportError

if TYPE_CHECKING:
    import keras

QUANTIZATIONS = ("none", "float16", "uint8")
#: Shards above this size would split the weights file; ours are tiny, so one shard.
_SHARD_BYTES = 64 * 1024 * 1024


def export_saved_model(model: keras.Model, directory: Path) -> None:
    """Write a TensorFlow SavedModel whose `serving_default` signature is the model."""
    try:
        model.export(str(directory), format="tf_saved_model", verbose=False)
    except Exception as exc:  # TensorFlow raises many types; the user needs one message
        raise ExportError(f"could not write the SavedModel: {exc}") from exc


def convert_to_graph_model(saved_model: Path, web: Path, quantize: str = "none") -> dict:
    """Convert a SavedModel into `web/model.json` + weights; return the model.json content."""
    if quantize not in QUANTIZATIONS:
        raise ExportError(f"unknown quantization '{quantize}'", hint="use float16 or uint8")
    from mlbridge._tf import captured_output, quiet_tensorflow

    quiet_tensorflow()
    # Only the trained weights (variables); never the encoders' constants, such as a
    # median of 94,661 followers that float16 (largest value 65,504) would make infinite.
    dtype_map = None if quantize == "none" else {quantize: ["*ReadVariableOp"]}
    with captured_output() as log:
        try:
            from tensorflowjs.converters import tf_saved_model_conversion_v2 as converter

            converter.convert_tf_saved_model(
                str(saved_model), str(web), quantization_dtype_map=dtype_map,
                weight_shard_size_bytes=_SHARD_BYTES,
            )
            failure = None
        except Exception as exc:  # the converter raises ValueError, TypeError, ... on bad graphs
            failure = exc
        printed = log.read_text(errors="replace").strip().splitlines()
    if failure is not None:
        last = printed[-1] if printed else ""
        raise ExportError(f"the TF.js converter failed: {failure} {last}".strip(),
                          hint="run with --debug for the converter's traceback") from failure
    model_json = web / "model.json"
    if not model_json.exists():
        raise ExportError("the TF.js converter finished but wrote no model.json")
    return json.loads(model_json.read_text())


def web_weight_bytes(web: Path) -> int:
    """Bytes of the graph model: model.json plus its weight shards."""
    return sum(p.stat().st_size for p in web.iterdir()
               if p.name == "model.json" or p.suffix == ".bin")


def write_tfjs(model: keras.Model, directory: Path, quantize: str = "none") -> dict:
    """Add `saved_model/` and the graph model in `web/`; return the `graph` metadata.

    With quantization the model is also converted unquantized, beside, only to record
    what quantizing saved.
    """
    export_saved_model(model, directory / "saved_model")
    web = directory / "web"
    convert_to_graph_model(directory / "saved_model", web, quantize)
    sizes = {quantize if quantize != "none" else "float32": web_weight_bytes(web)}
    if quantize != "none":
        plain = directory / ".unquantized"
        convert_to_graph_model(directory / "saved_model", plain)
        sizes["float32"] = web_weight_bytes(plain)
        shutil.rmtree(plain)
    return {"graph": {"format": "graph-model", "inputs": list(model.input),
                      "output": "output_0", "quantization": quantize, "bytes": sizes}}
