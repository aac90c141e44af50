"""Models you bring: convert your own Keras model or SavedModel for the browser.

    load → SavedModel → (rewrites inside the TF.js converter) → web/model.json
                      → (TensorFlow's TFLite converter, batch 1)  → web/model.tflite
                      → metadata

`convert` writes `OUT/saved_model/` (the SavedModel that was converted), `OUT/web/`
(model.json and weight shards, model.tflite for LiteRT.js) and `metadata.json` in both,
into a staging directory beside OUT that is renamed into place at the end: a failed
conversion leaves OUT as it was. `verify_converted` then runs the SavedModel in Python
and every runtime in headless Chromium, and records the differences. Rewrites
(rewrites/) are exact fixes for what TF.js lacks; what cannot be rewritten stops the
conversion with the ops and the layers they come from.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from mlbridge.atomic import write_json
from mlbridge.bundle import check_replace, file_sizes, versions
from mlbridge.convert import text
from mlbridge.convert.graph import QUANTIZATIONS, Conversion, convert_saved_model
from mlbridge.convert.load import (
    check_imports,
    copy_saved_model,
    detect_format,
    export_saved_model,
    import_modules,
    layer_names,
    load_keras,
    read_signature,
    source_digest,
)
from mlbridge.convert.parity import verify_converted
from mlbridge.convert.signature import describe
from mlbridge.errors import UsageError
from mlbridge.export.litert import write_converted

__all__ = ["SCHEMA_VERSION", "convert", "verify_converted"]

SCHEMA_VERSION = 2
KIND = "converted"
Reporter = Callable[[str], None]
_ITEM_BYTES = {"float32": 4, "int32": 4, "bool": 1, "complex64": 8, "float16": 2}


def convert(model: str | Path, out: str | Path, quantize: str = "none",
            imports: Sequence[str] = (), reporter: Reporter | None = None,
            replace: bool = False) -> dict:
    """Convert MODEL (.keras, .h5 or SavedModel directory) into OUT; return its metadata.

    A bundle already at OUT is replaced when it was converted from a model of the same
    file name; anything else there stops with an error unless `replace`.

    `imports` are modules (names or .py paths) imported first, so custom layers they
    register load. `reporter`, if given, is called with one line per step.
    """
    from mlbridge.atomic import check_out, remove_abandoned, staging

    say = reporter or (lambda _message: None)
    if quantize not in QUANTIZATIONS:
        raise UsageError(f"unknown quantization '{quantize}'",
                         hint=f"use one of: {', '.join(QUANTIZATIONS)}")
    source, fmt = detect_format(model)
    out = check_out(out, "metadata.json", "bundle")
    if out.resolve() == source.resolve() or out.resolve() in source.resolve().parents:
        raise UsageError(f"--out {out} would replace the model being converted",
                         hint="pass a new directory for the output")
    check_replace(out, str(model), "", replace)
    check_imports(imports)
    for line in remove_abandoned(out):
        say(line)
    from mlbridge._tf import quiet_tensorflow

    say("Loading TensorFlow")
    quiet_tensorflow()  # before the user's modules, which may import TensorFlow themselves
    import_modules(imports)
    with staging(out) as tmp:
        saved_model = tmp / "saved_model"
        graph_saved_model = saved_model  # what the converters take
        conversion = Conversion()
        preprocess = None
        if fmt == "saved_model":
            say(f"Copying the SavedModel {source}")
            copy_saved_model(source, saved_model)
            text.check_saved_model(saved_model, conversion)  # exit 2, not the converter's 1
        else:
            say(f"Loading {source} ({fmt})")
            keras_model = load_keras(source)
            graph_model, preprocess = text.cut(keras_model, say)  # exit 2 if it cannot
            conversion.layer_names, conversion.model_name = layer_names(graph_model), \
                graph_model.name
            say("Exporting the SavedModel")
            export_saved_model(keras_model, saved_model)  # the model as given: verify's reference
            if preprocess:
                graph_saved_model = tmp / ".graph_saved_model"  # removed below
                export_saved_model(graph_model, graph_saved_model)
        signature = read_signature(graph_saved_model)
        say("Converting to a TF.js graph model")
        model_json = convert_saved_model(graph_saved_model, tmp / "web", signature, quantize,
                                         conversion)
        for rewrite in conversion.applied:
            say(f"Rewrite {rewrite['name']}: {rewrite['nodes']} node(s) in "
                f"{', '.join(rewrite['where'][:5])}")
        say("Converting to a LiteRT model (model.tflite)")
        litert = write_converted(graph_saved_model, tmp / "web")
        if graph_saved_model != saved_model:
            shutil.rmtree(graph_saved_model)
        if "skipped" in litert:
            say(f"No model.tflite: {litert['skipped']}")
        metadata = {
            "schema_version": SCHEMA_VERSION,
            "kind": KIND,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "source": {"path": str(model), "format": fmt, **source_digest(source)},
            "signature": describe(signature, model_json, conversion.int_ranges),
            "rewrites": conversion.applied,
            **({"preprocess": preprocess} if preprocess else {}),
            "graph": graph_section(tmp / "web", model_json, quantize),
            "litert": litert,
            "files": file_sizes(tmp),  # before the metadata files are written
            "versions": versions(),
        }
        write_metadata(tmp, metadata)
    say(f"Wrote {out}")
    return metadata


def graph_section(web: Path, model_json: dict, quantize: str) -> dict:
    """Format, quantization and sizes; `weights_float32` is what the weights were unquantized."""
    weights = sum(p.stat().st_size for p in web.glob("*.bin"))
    float32 = 0
    for group in model_json.get("weightsManifest", []):
        for spec in group["weights"]:
            count = 1
            for dim in spec["shape"]:
                count *= dim
            float32 += count * _ITEM_BYTES.get(spec["dtype"], 4)
    model_bytes = (web / "model.json").stat().st_size
    return {"format": "graph-model", "quantization": quantize,
            "bytes": {"model.json": model_bytes, "weights": weights,
                      "total": model_bytes + weights, "weights_float32": float32}}


def write_metadata(root: Path, metadata: dict) -> None:
    """`metadata.json` at the top and in web/; the browser's copy names the file, not its path."""
    write_json(root / "metadata.json", metadata)
    web = {**metadata, "source": {**metadata["source"],
                                  "path": Path(metadata["source"]["path"]).name}}
    write_json(root / "web" / "metadata.json", web)
