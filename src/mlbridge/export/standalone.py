"""Keras model -> `predict.mjs`: a dependency-free ES module with the weights inside.

Three steps, so each can be checked alone:
1. `read_steps` turns the Keras model into a plain list of steps (log1p, normalize,
   dense, rescale, clip) that knows nothing of Keras or JavaScript. A layer it does not
   know stops here, and no module is written: never one that computes something else.
2. `run_steps` runs that list with numpy, so a test can compare it with Keras.
3. `emit_module` writes the list as JavaScript data plus a small fixed interpreter.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlbridge.errors import ExportError

if TYPE_CHECKING:
    import keras

#: Keras's epsilon, the floor of the standard deviation in `Normalization`.
EPSILON = 1e-7
#: Arrays up to this many numbers are written as literals a person can read; larger
#: ones as base64 little-endian float32, which is exact and a third of the size.
INLINE_LIMIT = 256
ACTIVATIONS = ("linear", "relu")


class UnsupportedModel(ExportError):
    """The model has a layer the standalone generator cannot reproduce exactly."""


@dataclass
class Step:
    """One operation on a row of values; `params` holds plain numbers and arrays."""

    op: str
    params: dict[str, Any] = field(default_factory=dict)
    name: str = ""


def read_steps(model: keras.Model) -> list[Step]:
    """Translate the serving model's layers, in order, into steps."""
    steps = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "InputLayer":
            continue
        if kind == "LogTransform":
            steps.append(Step("log1p", {"where": [m > 0 for m in layer.mask]}, layer.name))
        elif kind == "Normalization" and not layer.invert:
            steps.append(Step("normalize", {
                "mean": np.asarray(layer.mean, np.float32).reshape(-1),
                "variance": np.asarray(layer.variance, np.float32).reshape(-1)}, layer.name))
        elif kind == "Dense":
            activation = layer.activation.__name__
            if activation not in ACTIVATIONS:
                raise UnsupportedModel(f"layer '{layer.name}' uses activation '{activation}'")
            kernel, bias = (np.asarray(w, np.float32) for w in layer.get_weights())
            steps.append(Step("dense", {"kernel": kernel, "bias": bias,
                                        "relu": activation == "relu"}, layer.name))
        elif kind == "Rescaling" and np.ndim(layer.scale) == 0 and np.ndim(layer.offset) == 0:
            steps.append(Step("rescale", {"scale": float(layer.scale),
                                          "offset": float(layer.offset)}, layer.name))
        elif kind == "Clip":
            steps.append(Step("clip", {"low": layer.low, "high": layer.high}, layer.name))
        else:
            raise UnsupportedModel(f"layer '{layer.name}' ({kind}) is not supported by the "
                                   "standalone generator")
    return steps


def run_steps(steps: list[Step], x: np.ndarray) -> np.ndarray:
    """Run the steps on raw `[rows, features]` values with numpy; returns `[rows]`."""
    h = np.asarray(x, dtype=np.float64)
    for step in steps:
        p = step.params
        if step.op == "log1p":
            where = np.asarray(p["where"])
            h = np.where(where, np.log1p(np.maximum(h, 0.0)), h)
        elif step.op == "normalize":
            h = (h - p["mean"]) / np.maximum(np.sqrt(p["variance"].astype(np.float64)), EPSILON)
        elif step.op == "dense":
            h = h @ p["kernel"] + p["bias"]
            if p["relu"]:
                h = np.maximum(h, 0.0)
        elif step.op == "rescale":
            h = h * p["scale"] + p["offset"]
        elif step.op == "clip":
            h = np.clip(h, p["low"], p["high"])
    return h[:, 0]


def _number(value: float) -> str:
    """The shortest text that reads back as the same float32 (str of numpy float32)."""
    text = str(np.float32(value))
    return text[:-2] if text.endswith(".0") else text


def _plain(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _array(values: np.ndarray) -> str:
    values = np.asarray(values, np.float32)
    if values.size <= INLINE_LIMIT:
        if values.ndim == 1:
            return "[" + ", ".join(_number(v) for v in values) + "]"
        return "[" + ", ".join(_array(row) for row in values) + "]"
    encoded = base64.b64encode(values.astype("<f4").tobytes()).decode()
    return f'f32("{encoded}", {values.shape[0]}, {values.shape[1]})'


def _step_js(step: Step) -> str:
    p = step.params
    fields = {
        "log1p": lambda: f"where: {json.dumps(p['where'])}",
        "normalize": lambda: f"mean: {_array(p['mean'])}, variance: {_array(p['variance'])}",
        "dense": lambda: (("relu: true, " if p["relu"] else "") + f"bias: {_array(p['bias'])},"
                          f"\n    kernel: {_array(p['kernel'])}"),
        "rescale": lambda: f"scale: {_number(p['scale'])}, offset: {_number(p['offset'])}",
        "clip": lambda: f"low: {_number(p['low'])}, high: {_number(p['high'])}",
    }[step.op]()
    comment = f" // {step.name}" if step.name and step.name != step.op else ""
    return f'  {{ op: "{step.op}", {fields} }},{comment}'


_RUNTIME_FILE = Path(__file__).with_name("standalone_runtime.js")
_MARKER = "// ---- the interpreter"


def _runtime(with_decoder: bool) -> str:
    """The fixed JavaScript of the module: the interpreter, and the decoder if needed."""
    decoder, _, interpreter = _RUNTIME_FILE.read_text().partition(_MARKER)
    interpreter = interpreter.split("\n", 1)[1]
    return (decoder if with_decoder else "") + interpreter


def emit_module(steps: list[Step], metadata: dict) -> str:
    """The text of predict.mjs for these steps; metadata names the bundle and features.

    The header line says which bundle and when; the exported `metadata` carries only
    what a caller needs (the module must stay under 2 KB for the linear model).
    """
    inputs = ", ".join(f"{i['name']} ({i['transform']})" for i in metadata["inputs"])
    output = metadata["output"]
    meta = {"kind": metadata["model"]["kind"],
            "features": [i["name"] for i in metadata["inputs"]],
            "target": output["name"], "min": _plain(output["min"]), "max": _plain(output["max"])}
    steps_js = "\n".join(_step_js(step) for step in steps)
    return (
        f"// Generated from mlbridge bundle \"{metadata['name']}\" ({meta['kind']}, "
        f"trained {metadata['created']}); do not edit.\n"
        f"// Inputs: {inputs}. Output: {output['name']} in [{output['min']:g}, "
        f"{output['max']:g}].\n"
        f"export const metadata = {json.dumps(meta, separators=(',', ':'))};\n"
        f"const STEPS = [\n{steps_js}\n];\n{_runtime('f32(' in steps_js)}"
    )


def emit_types(metadata: dict) -> str:
    """predict.d.ts: the feature names as a TypeScript interface."""
    fields = "\n".join(f"  {i['name']}: Value | ArrayLike<Value>;" for i in metadata["inputs"])
    return (
        "// Types for predict.mjs, generated by mlbridge.\n"
        "type Value = number | string;\n"
        f"export interface Inputs {{\n{fields}\n}}\n"
        "/** Predictions in target units, one per input row. Throws on a missing or "
        "non-numeric feature. */\n"
        "export declare function predict(inputs: Inputs): number[];\n"
        "export declare const metadata: {\n  kind: string; features: string[]; target: string;\n"
        "  min: number; max: number;\n};\n"
    )


def write_standalone(model: keras.Model, directory: Path, metadata: dict) -> dict:
    """Add web/predict.mjs and web/predict.d.ts, or say in metadata why they are missing."""
    try:
        steps = read_steps(model)
    except UnsupportedModel as exc:
        return {"standalone": {"skipped": f"{exc.message}; predict.mjs was not written "
                               "(the TF.js export is unaffected)"}}
    module = emit_module(steps, metadata)
    (directory / "web").mkdir(exist_ok=True)
    (directory / "web" / "predict.mjs").write_text(module)
    (directory / "web" / "predict.d.ts").write_text(emit_types(metadata))
    return {"standalone": {"file": "web/predict.mjs", "bytes": len(module.encode())}}
