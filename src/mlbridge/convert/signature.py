"""The converted model's inputs and outputs, as recorded in metadata.json, and test inputs.

Names are the SavedModel signature's keys, which are also what TF.js's `executeAsync`
accepts (its model.json `signature` maps them to graph tensors). Unknown dimensions are
`null`. Test inputs follow the signature: a batch of 4 where the batch is unknown, 8
for other unknown dimensions, N(0, 1) floats, and ints inside the smallest lookup table
they index (read from the graph at conversion), else 0..9.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mlbridge.errors import UsageError

BATCH = 4
FREE_DIM = 8
DEFAULT_INT_RANGE = (0, 9)
_WORDS = np.array(["the", "a", "model", "browser", "python", "", "unknown", "42"])


def _dtype_name(enum: int) -> str:
    import tensorflow as tf

    return tf.dtypes.as_dtype(enum).name


def tfjs_dtype(dtype: str) -> str:
    """The dtype TF.js uses for a TensorFlow dtype (it has float32, int32, bool, string)."""
    if dtype.startswith(("float", "bfloat")):
        return "float32"
    if dtype.startswith(("int", "uint")):
        return "int32"
    return {"bool": "bool", "string": "string", "complex64": "complex64"}.get(dtype, dtype)


def _shape(tensor_shape: Any) -> list[int | None] | None:
    if tensor_shape.unknown_rank:
        return None
    return [int(d.size) if d.size >= 0 else None for d in tensor_shape.dim]


def describe(signature: Any, model_json: dict, int_ranges: dict[str, int]) -> dict:
    """The `signature` section of metadata.json."""
    tfjs = model_json.get("signature", {})
    section: dict[str, list] = {"inputs": [], "outputs": []}
    for kind in ("inputs", "outputs"):
        infos = getattr(signature, kind)
        for key in sorted(infos):
            dtype = _dtype_name(infos[key].dtype)
            entry: dict[str, Any] = {"name": key, "dtype": dtype, "tfjs_dtype": tfjs_dtype(dtype),
                                     "shape": _shape(infos[key].tensor_shape)}
            if key in tfjs.get(kind, {}):
                entry["tensor"] = tfjs[kind][key]["name"]
            elif kind == "inputs":
                entry["unused"] = True  # freezing removed it: nothing reads this input
            if key in int_ranges:
                entry["range"] = [0, int_ranges[key] - 1]
                entry["range_from"] = "size of the lookup table (e.g. Embedding) it indexes"
            section[kind].append(entry)
    return section


def concrete_shape(shape: list[int | None] | None) -> list[int]:
    if shape is None:
        return [BATCH]
    return [d if d is not None else (BATCH if k == 0 else FREE_DIM) for k, d in enumerate(shape)]


def random_inputs(signature: dict, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded inputs shaped and typed from the metadata `signature` section."""
    rng = np.random.default_rng(seed)
    values = {}
    for spec in signature["inputs"]:
        shape, dtype = concrete_shape(spec["shape"]), spec["dtype"]
        if dtype.startswith(("float", "bfloat")):
            values[spec["name"]] = rng.standard_normal(shape).astype(np.float32)
        elif dtype.startswith(("int", "uint")):
            low, high = spec.get("range", DEFAULT_INT_RANGE)
            values[spec["name"]] = rng.integers(low, high + 1, size=shape).astype(dtype)
        elif dtype == "bool":
            values[spec["name"]] = rng.random(shape) < 0.5
        elif dtype == "string":
            values[spec["name"]] = rng.choice(_WORDS, size=shape).astype(object)
        else:
            raise UsageError(f"cannot make test values for input {spec['name']} of dtype {dtype}",
                             hint="pass your own inputs with --sample FILE.npz")
    return values


def sample_inputs(signature: dict, sample: str | Path) -> dict[str, np.ndarray]:
    """The user's inputs from an .npz whose keys are the input names, checked and cast."""
    path = Path(sample)
    if not path.is_file():
        raise UsageError(f"no sample file at {path}", hint="pass an .npz made with "
                         "numpy.savez(path, **{input_name: array})")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except Exception as exc:  # not a zip, a pickled object array, a truncated file...
        raise UsageError(f"{path} is not a numpy .npz file: {exc}",
                         hint="write it with numpy.savez(path, **{input_name: array})") from exc
    names = [spec["name"] for spec in signature["inputs"]]
    missing = [n for n in names if n not in arrays]
    if missing:
        raise UsageError(f"{path} lacks input(s) {', '.join(missing)} (it has: "
                         f"{', '.join(sorted(arrays)) or 'nothing'})",
                         hint=f"the model's inputs are: {', '.join(names)}")
    values = {}
    for spec in signature["inputs"]:
        array = arrays[spec["name"]]
        want = spec["shape"]
        if want is not None and (array.ndim != len(want) or any(
                w is not None and w != d for w, d in zip(want, array.shape, strict=True))):
            raise UsageError(f"input {spec['name']} in {path} has shape {list(array.shape)}, "
                             f"the model takes {want}", hint="null means any size")
        dtype = object if spec["dtype"] == "string" else spec["dtype"]
        values[spec["name"]] = array.astype(dtype)
    return values
