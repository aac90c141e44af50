"""Keras model -> TensorFlow SavedModel -> TF.js graph model, in this process.

The Keras 3 `.keras` file cannot be converted to a TF.js layers model, so the route is
the graph model: `model.export()` writes a SavedModel, and the `tensorflowjs` library
(not its command-line tool) freezes and converts it. The graph already contains every
transform, so the browser feeds raw values.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from mlbridge.errors import ExportError

if TYPE_CHECKING:
    import keras

def export_saved_model(model: keras.Model, directory: Path) -> None:
    """Write a TensorFlow SavedModel whose `serving_default` signature is the model."""
    try:
        model.export(str(directory), format="tf_saved_model", verbose=False)
    except Exception as exc:  # TensorFlow raises many types; the user needs one message
        raise ExportError(f"could not write the SavedModel: {exc}") from exc


def convert_to_graph_model(saved_model: Path, web: Path, quantize: str = "none") -> dict:
    """Convert a SavedModel into `web/model.json` + weights; return the model.json content.

    The same route as `mlbridge convert` (convert/graph.py): the converter with the exact
    rewrites TF.js needs, and an op check that stops before anything is written.
    """
    from mlbridge.convert.graph import Conversion, convert_saved_model
    from mlbridge.convert.load import read_signature

    return convert_saved_model(saved_model, web, read_signature(saved_model), quantize,
                               Conversion())


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
