"""What verify needs of a model whose text layers run in the page: the ops a SavedModel
lacks, named before the converter runs; the model's own string inputs; test texts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mlbridge.errors import UnsupportedModel


def check_saved_model(saved_model: Path, conversion: Any) -> None:
    """Name the ops TF.js lacks in a SavedModel's serving function, before its converter runs.

    Why before: the converter freezes with TensorFlow 2's utilities inside `except
    BaseException` and then falls back to TensorFlow 1's. A SavedModel holding a resource
    its serving function never captures (the MutableHashTable `adapt()` leaves in a
    TextVectorization or StringLookup: keras.io's flow) fails the first (KeyError in
    tensorflowjs's `_get_resource_ids_maps`) and the second stops with "Identity is not in
    graph": exit 1, before mlbridge's own op check (graph.convert_hooks) ever sees the
    graph. Freezing here the way that check would see it gives exit 2 with the ops named.
    """
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    from mlbridge._tf import quiet_tensorflow
    from mlbridge.convert.graph import raise_unsupported, unsupported_nodes
    from mlbridge.export.converter import saved_model_converter

    tf, _ = quiet_tensorflow()
    saved_model_converter()  # makes tensorflowjs's op list importable (supported_ops)
    loaded = tf.saved_model.load(str(saved_model))
    try:
        frozen = convert_variables_to_constants_v2(loaded.signatures["serving_default"])
    except Exception:  # whatever cannot be frozen here is left to the converter to report
        return
    found = unsupported_nodes(frozen.graph.as_graph_def())
    if not found:
        return
    try:
        raise_unsupported(found, conversion)
    except UnsupportedModel as exc:
        if any(op.startswith(("String", "Unicode", "Regex", "RaggedBincount"))
               for op in found.values()):
            # A SavedModel has no Keras layers left to cut at: the .keras file has.
            exc.hint = ("text preprocessing (TextVectorization, StringLookup) runs in the page "
                        "when you convert the Keras model itself: pass its .keras file")
        raise


def reference_signature(metadata: dict) -> dict:
    """The inputs the SavedModel (the model as given) takes, for verify: its string inputs
    in place of the graph inputs the text layers feed; the outputs are the graph's."""
    section = metadata.get("preprocess")
    signature = metadata["signature"]
    if not section:
        return signature
    fed = {spec["input"] for spec in section["steps"]}
    others = [spec for spec in signature["inputs"] if spec["name"] not in fed]
    return {"inputs": [*section["inputs"], *others], "outputs": signature["outputs"]}


def reference_inputs(metadata: dict, seed: int = 0, rows: int = 8) -> dict[str, np.ndarray]:
    """verify's test inputs for a model with text layers: texts (`sample_texts`) for its
    string inputs, seeded random values (signature.random_inputs) for the others."""
    from mlbridge.convert.signature import random_inputs

    signature = reference_signature(metadata)
    steps = {spec["from"]: spec for spec in (metadata.get("preprocess") or {}).get("steps", [])}
    others = {"inputs": [s for s in signature["inputs"] if s["name"] not in steps]}
    values = random_inputs(others, seed) if others["inputs"] else {}
    for name, spec in steps.items():
        values[name] = sample_texts(spec, rows, seed)
    if values and others["inputs"]:  # one batch size for all inputs
        batch = min(len(v) for v in values.values())
        values = {k: v[:batch] for k, v in values.items()}
    return values


_SAMPLE_EXTRAS = ["Hello,", "WORLD!", "naïve", "Ünïcödé", "e-mail", "don't", "<br />", "42",
                  "zzz", "a.b", "  ", "\t", "ÉCOLE", "(ok)", "x" * 3]


def sample_texts(spec: dict, rows: int, seed: int = 0) -> np.ndarray:
    """Seeded test strings for a text input, shaped (rows, *the model input's shape).

    For a TextVectorization: vocabulary words and others (punctuation, capitals, unicode,
    "<br />", tabs), some rows longer than the sequence length, the first row empty. For
    a StringLookup: whole values, in the vocabulary's case or upper-cased, unknown, "".
    """
    rng = np.random.default_rng(seed)
    words = spec["vocabulary"][spec["oov_index"] + 1:] or ["word"]  # after "" and [UNK]
    inner = [d or 1 for d in spec["from_shape"][1:]]
    if spec["class"] == "StringLookup":
        pool = [*words, *(w.upper() for w in words), "unknown", ""]
        values = [str(rng.choice(pool)) for _ in range(rows * int(np.prod(inner)))]
        return np.array(values, dtype=object).reshape(rows, *inner)
    texts = [""]
    for _ in range(rows - 1):
        picked = []
        for _ in range(int(rng.integers(1, 2 * (spec.get("sequence_length") or 8) + 2))):
            word = (str(rng.choice(words)) if rng.random() < 0.7
                    else str(rng.choice(_SAMPLE_EXTRAS)))
            picked.append(word.upper() if rng.random() < 0.2 else word)
        texts.append(("" if spec["split"] == "character" else " ").join(picked))
    return np.array(texts[:rows], dtype=object).reshape(rows, *inner)
