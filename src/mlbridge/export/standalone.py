"""Keras model -> `predict.mjs`: a dependency-free ES module with the weights inside.

Three steps, so each can be checked alone:
1. `read_steps` turns the Keras model into a plain list of steps (number, category,
   dense, rescale, clip) that knows nothing of Keras or JavaScript. A layer it does not
   know stops here, and no module is written: never one that computes something else.
2. `run_steps` runs that list with numpy, so a test can compare it with Keras.
3. `emit_module` writes the list as JavaScript data plus a small fixed interpreter, and
   the input checks of `web/inputs.js` (the same file `mlbridge.js` imports).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlbridge.errors import ExportError
from mlbridge.kinds.text import TextColumn

if TYPE_CHECKING:
    import keras

#: Arrays up to this many numbers are written as literals a person can read; larger
#: ones as base64 little-endian float32, which is exact and a third of the size.
INLINE_LIMIT = 256
ACTIVATIONS = ("linear", "relu", "sigmoid")
#: Layers that only route tensors: nothing to compute.
_PLUMBING = ("InputLayer", "Concatenate")


class UnsupportedModel(ExportError):
    """The model has a layer the standalone generator cannot reproduce exactly."""


@dataclass
class Step:
    """One operation on a row of values; `params` holds plain numbers and arrays."""

    op: str
    params: dict[str, Any] = field(default_factory=dict)
    name: str = ""


def _encoder_step(layer: Any, at: int, spec: dict) -> Step:
    """The step for the layer that encodes input number `at` (a feature, `spec`)."""
    kind = type(layer).__name__
    if kind == "Identity" and spec["kind"] == "text":  # the multi-hot comes made: its words
        return Step("text", {"at": at, "vocabulary": spec["vocabulary"]}, layer.name)
    if kind == "NumericEncoding":
        return Step("number", {"at": at, "fill": layer.fill, "log": layer.log,
                               "mean": layer.mean, "std": layer.std,
                               "flag": layer.indicator}, layer.name)
    if kind == "StringLookup" and layer.output_mode == "one_hot" and layer.num_oov_indices == 1:
        _oov, missing, *vocabulary = layer.get_vocabulary()
        if missing != "":
            raise UnsupportedModel(f"layer '{layer.name}' has no slot for missing values")
        return Step("category", {"at": at, "vocabulary": vocabulary}, layer.name)
    raise UnsupportedModel(f"layer '{layer.name}' ({kind}) is not supported by the "
                           "standalone generator")


def read_steps(model: keras.Model, inputs: list[dict]) -> list[Step]:
    """Translate the serving model into steps: encode each input, then the layers in order.

    `inputs` are the bundle's input specs (metadata), in the order the model concatenates
    their encodings.
    """
    encoders = {}
    for at, spec in enumerate(inputs):
        (layer,) = [layer for layer in model.layers if layer.name in (
            f"{spec['input']}_encode", f"{spec['input']}_lookup", f"{spec['input']}_words")]
        encoders[layer.name] = _encoder_step(layer, at, spec)
    steps = list(encoders.values())
    for layer in model.layers:
        kind = type(layer).__name__
        if kind in _PLUMBING or layer.name in encoders:
            continue
        if kind == "Dense":
            activation = layer.activation.__name__
            if activation not in ACTIVATIONS:
                raise UnsupportedModel(f"layer '{layer.name}' uses activation '{activation}'")
            kernel, bias = (np.asarray(w, np.float32) for w in layer.get_weights())
            steps.append(Step("dense", {"kernel": kernel, "bias": bias,
                                        "activation": activation}, layer.name))
        elif kind == "Rescaling" and np.ndim(layer.scale) == 0 and np.ndim(layer.offset) == 0:
            steps.append(Step("rescale", {"scale": float(layer.scale),
                                          "offset": float(layer.offset)}, layer.name))
        elif kind == "Clip":
            steps.append(Step("clip", {"low": layer.low, "high": layer.high}, layer.name))
        elif kind == "Interval":
            steps.append(Step("interval", {"half": layer.half_width, "low": layer.low,
                                           "high": layer.high}, layer.name))
        elif kind == "TwoClass":
            steps.append(Step("twoclass", {}, layer.name))
        elif kind == "Softmax":
            steps.append(Step("softmax", {}, layer.name))
        else:
            raise UnsupportedModel(f"layer '{layer.name}' ({kind}) is not supported by the "
                                   "standalone generator")
    return steps


def _width(steps: list[Step]) -> int:
    """Numbers a row's encoding holds: what running the steps in chunks must bound."""
    return sum(len(s.params["vocabulary"]) + (2 if s.op == "category" else 0)
               if s.op in ("category", "text") else 2 for s in steps
               if s.op in ("number", "category", "text"))


def run_steps(steps: list[Step], columns: list[np.ndarray]) -> np.ndarray:
    """Run the steps with numpy on raw columns (float with NaN, or str with "").

    Returns the serving output, `[rows, k]`, as the graph does; `Bundle.predict` uses it
    so that predicting needs no TensorFlow.
    """
    from mlbridge.kinds import rows_per_chunk

    rows, size = len(columns[0]), rows_per_chunk(_width(steps))
    if rows > size:
        return np.vstack([run_steps(steps, [c[start:start + size] for c in columns])
                          for start in range(0, rows, size)])
    h = np.zeros((rows, 0))
    for step in steps:
        p = step.params
        if step.op == "number":
            x = np.asarray(columns[p["at"]], dtype=np.float64)
            v = np.where(np.isnan(x), p["fill"], x)
            if p["log"]:
                v = np.log1p(np.maximum(v, 0.0))
            parts = [(v - p["mean"]) / p["std"]] + ([np.isnan(x)] if p["flag"] else [])
            h = np.column_stack([h, *parts])
        elif step.op == "category":
            slots = {v: i + 2 for i, v in enumerate(p["vocabulary"])}
            index = [1 if v == "" else slots.get(v, 0) for v in columns[p["at"]]]
            one_hot = np.zeros((rows, len(p["vocabulary"]) + 2))
            one_hot[np.arange(rows), index] = 1.0
            h = np.hstack([h, one_hot])
        elif step.op == "text":
            h = np.hstack([h, TextColumn("", "", vocabulary=p["vocabulary"]).encode(
                columns[p["at"]])])
        elif step.op == "dense":
            h = h @ p["kernel"] + p["bias"]
            if p["activation"] == "relu":
                h = np.maximum(h, 0.0)
            elif p["activation"] == "sigmoid":
                h = 1.0 / (1.0 + np.exp(-h))
        elif step.op == "rescale":
            h = h * p["scale"] + p["offset"]
        elif step.op == "clip":
            h = np.clip(h, p["low"], p["high"])
        elif step.op == "interval":
            h = np.hstack([h, np.maximum(h - p["half"], p["low"]),
                           np.minimum(h + p["half"], p["high"])])
        elif step.op == "twoclass":
            h = np.hstack([1.0 - h, h])
        elif step.op == "softmax":
            e = np.exp(h - h.max(axis=1, keepdims=True))
            h = e / e.sum(axis=1, keepdims=True)
    return h


def save_steps(steps: list[Step], path: Path) -> None:
    """Write the steps as JSON, arrays as nested lists of their float32 values (exact)."""
    def plain(value: Any) -> Any:
        return np.asarray(value, np.float32).tolist() if isinstance(value, np.ndarray) else value

    path.write_text(json.dumps([{"op": s.op, "name": s.name,
                                 "params": {k: plain(v) for k, v in s.params.items()}}
                                for s in steps], separators=(",", ":")))


def load_steps(path: Path) -> list[Step]:
    """The steps `save_steps` wrote, weights back as float32 arrays."""
    steps = []
    for raw in json.loads(path.read_text()):
        params = dict(raw["params"])
        for key in ("kernel", "bias"):
            if key in params:
                params[key] = np.asarray(params[key], np.float32)
        steps.append(Step(raw["op"], params, raw["name"]))
    return steps


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
    shape = ", ".join(str(n) for n in values.shape)
    return f'f32("{encoded}", {shape})' if values.ndim == 2 else f'f32("{encoded}")'


def _step_js(step: Step) -> str:
    p = step.params
    fields = {
        "number": lambda: (f"at: {p['at']}, fill: {_number(p['fill'])}, "
                           + ("log: true, " if p["log"] else "")
                           + ("flag: true, " if p["flag"] else "")
                           + f"mean: {_number(p['mean'])}, std: {_number(p['std'])}"),
        "category": lambda: f"at: {p['at']}, vocabulary: {json.dumps(p['vocabulary'])}",
        "text": lambda: f"at: {p['at']}, vocabulary: {json.dumps(p['vocabulary'])}",
        "dense": lambda: ((f'activation: "{p["activation"]}", '
                           if p["activation"] != "linear" else "")
                          + f"bias: {_array(p['bias'])},\n    kernel: {_array(p['kernel'])}"),
        "rescale": lambda: f"scale: {_number(p['scale'])}, offset: {_number(p['offset'])}",
        "clip": lambda: f"low: {_number(p['low'])}, high: {_number(p['high'])}",
        "interval": lambda: (f"half: {_number(p['half'])}, low: {_number(p['low'])}, "
                             f"high: {_number(p['high'])}"),
        "twoclass": lambda: "",
        "softmax": lambda: "",
    }[step.op]()
    comment = f" // {step.name}" if step.name and step.name != step.op else ""
    fields = f" {fields}" if fields else ""
    return f'  {{ op: "{step.op}",{fields} }},{comment}'


_RUNTIME_FILE = Path(__file__).with_name("standalone_runtime.js")
_WEB = Path(__file__).parents[1] / "web"
#: Browser modules whose code predict.mjs carries too (one source for every runtime):
#: always the input checks and the answers; the category lookup when a step needs it.
_SHARED_FILES = [_WEB / "inputs.js", _WEB / "answers.js"]
_SHARED_BY_STEP = {"category": _WEB / "lookups.js", "text": _WEB / "text.js"}


def _without_header(text: str) -> str:
    lines = text.splitlines(keepends=True)
    return "".join(lines[next(i for i, line in enumerate(lines) if not line.startswith("//")):])


def _sections() -> dict[str, str]:
    """The runtime file's sections by name (`// ---- name` starts one)."""
    parts = _RUNTIME_FILE.read_text().split("// ---- ")[1:]
    return {part.split("\n", 1)[0].strip(): part.split("\n", 1)[1] for part in parts}


def _runtime(ops: list[str], with_decoder: bool) -> str:
    """The fixed JavaScript of the module: only the step kinds it uses, the decoder only
    when some weights are base64, then the input checks, the answers and the interpreter."""
    sections = _sections()
    used = list(dict.fromkeys(ops))
    code = [sections["f32"]] if with_decoder else []
    code += [sections[op] for op in used]
    shared = _SHARED_FILES + [_SHARED_BY_STEP[op] for op in used if op in _SHARED_BY_STEP]
    code += [_without_header(path.read_text()) for path in shared]
    code += [f"const step = {{ {', '.join(used)} }};\n", sections["interpreter"]]
    return "".join(code)


def emit_module(steps: list[Step], metadata: dict) -> str:
    """The text of predict.mjs for these steps; metadata names the bundle and features.

    The header line says which bundle and when; the exported `metadata` carries only
    what a caller needs.
    """
    inputs = ", ".join(f"{i['name']} ({i.get('transform', i['kind'])})"
                       for i in metadata["inputs"])
    output = metadata["output"]
    meta = {"kind": metadata["model"]["kind"], "task": output["task"],
            "features": [{"name": i["name"], "kind": i["kind"]} for i in metadata["inputs"]],
            "target": output["name"], "columns": output["columns"],
            "other": metadata.get("other_columns", [])}
    if output["task"] == "classification":
        meta["labels"] = output["labels"]
        described = f"probabilities of {', '.join(output['labels'])}"
    else:
        meta.update(min=_plain(output["min"]), max=_plain(output["max"]))
        described = f"{output['name']} in [{output['min']:g}, {output['max']:g}]"
        if output.get("half_width") is not None:
            meta["interval"] = output["interval"]
            described += f", with its {output['interval']:.0%} interval"
    steps_js = "\n".join(_step_js(step) for step in steps)
    return (
        f"// Generated from mlbridge bundle \"{metadata['name']}\" ({meta['kind']}, "
        f"trained {metadata['created']}); do not edit.\n"
        f"// Inputs: {inputs}. Output: {described}.\n"
        f"export const metadata = {json.dumps(meta, separators=(',', ':'))};\n"
        f"const STEPS = [\n{steps_js}\n];\n"
        f"{_runtime([step.op for step in steps], 'f32(' in steps_js)}"
    )


def emit_types(metadata: dict) -> str:
    """predict.d.ts: the feature names as a TypeScript interface, the answers' shapes."""
    fields = "\n".join(
        f"  {json.dumps(i['name'])}?: {'Category' if i['kind'] == 'categorical' else 'Value'}"
        " | ArrayLike<Value>;" for i in metadata["inputs"])
    output = metadata["output"]
    if output["task"] == "classification":
        labels = " | ".join(json.dumps(label) for label in output["labels"])
        answer = (f"type Label = {labels};\n/** The most probable label, and each label's "
                  "probability (they sum to 1). */\nexport interface Answer {\n  label: "
                  "Label;\n  probabilities: Record<Label, number>;\n}\n")
        result, interval = "Answer", ""
    else:
        answer, result = "", "number"
        interval = ("/** The value and its interval: a new row's true value lies within "
                    "[lower, upper] with the coverage in `metadata.interval` (throws if the "
                    "model has no interval). */\nexport declare function predictInterval("
                    "inputs: Inputs): { value: number; lower: number; upper: number }[];\n")
    return (
        "// Types for predict.mjs, generated by mlbridge.\n"
        "/** A number (or a number as text); null, undefined, NaN and \"\" mean missing. */\n"
        "type Value = number | string | null | undefined;\n"
        "/** A category's text (a number is read as its text); unseen values are 'other'. */\n"
        "type Category = string | number | null | undefined;\n"
        f"export interface Inputs {{\n{fields}\n}}\n{answer}"
        f"/** One answer per input row{' (in target units)' if result == 'number' else ''}. "
        "A feature left out is missing. Throws on a name that is not a feature or a value "
        "that is not a number. */\n"
        f"export declare function predict(inputs: Inputs): {result}[];\n{interval}"
        "/** The model's raw output rows: [value, lower, upper] or one probability per label. */\n"
        "export declare function outputs(inputs: Inputs): number[][];\n"
        "export declare const metadata: {\n  kind: string; task: \"regression\" | "
        "\"classification\";\n"
        "  features: { name: string; kind: \"numeric\" | \"categorical\" }[];\n"
        "  /** The table's other columns: ignored when a whole record is passed. */\n"
        "  other: string[];\n"
        "  target: string; columns: string[]; labels?: string[]; min?: number; max?: number;\n"
        "  interval?: number;\n};\n"
    )


def write_standalone(model: keras.Model, directory: Path, metadata: dict) -> dict:
    """Add web/predict.mjs, web/predict.d.ts and steps.json (what Python predicts with),
    or say in metadata why they are missing."""
    try:
        steps = read_steps(model, metadata["inputs"])
    except UnsupportedModel as exc:
        return {"standalone": {"skipped": f"{exc.message}; predict.mjs was not written "
                               "(the TF.js export is unaffected)"}}
    module = emit_module(steps, metadata)
    save_steps(steps, directory / "steps.json")
    (directory / "web").mkdir(exist_ok=True)
    (directory / "web" / "predict.mjs").write_text(module)
    (directory / "web" / "predict.d.ts").write_text(emit_types(metadata))
    return {"standalone": {"file": "web/predict.mjs", "bytes": len(module.encode())}}
