"""Finding a model's text layers, describing them for preprocess.js, and cutting the model
after them (sharing its weights)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlbridge.convert.text.standardize import HINT, callable_name, class_name, standardize_steps
from mlbridge.errors import ExportError, UnsupportedModel

#: The Keras layers this module can move out of the graph.
TEXT_LAYERS = ("TextVectorization", "StringLookup")
_MODES = {"TextVectorization": ("int", "multi_hot", "count", "tf_idf"),
          "StringLookup": ("int", "one_hot", "multi_hot", "count", "tf_idf")}


@dataclass
class TextInput:
    """One call of a text layer on a model input: what the browser does before the graph."""

    layer: Any  # the Keras layer (TextVectorization or StringLookup)
    source: Any  # the model's string input (a KerasTensor)
    output: Any  # the layer's output in the model (a KerasTensor)
    name: str = ""  # the converted graph's input fed with the layer's output
    spec: dict = field(default_factory=dict)


def _graph(model: Any) -> Any:
    """The functional graph of a model (a Sequential keeps one inside), or None."""
    import keras

    if isinstance(model, keras.Sequential):
        return getattr(model, "_functional", None)
    return model if hasattr(model, "_nodes_by_depth") else None


def find_text_layers(model: Any) -> list[Any]:
    """Every TextVectorization and StringLookup in the model, nested models included
    (not the StringLookup inside a TextVectorization: it is part of that layer)."""
    found = []
    for layer in model._flatten_layers(include_self=False, recursive=False):
        found += [layer] if class_name(layer) in TEXT_LAYERS else find_text_layers(layer)
    return found


def plan(model: Any) -> list[TextInput]:
    """The text layers to move out of `model`'s graph, checked and described; [] if none.

    Each must be called on a model input directly, at the model's top level, and that
    input must go to text layers only: the rest of the model then starts exactly at their
    outputs. Ordered by the model's inputs, so metadata and graph inputs are stable.
    """
    layers = find_text_layers(model)
    if not layers:
        return []
    graph = _graph(model)
    if graph is None:
        raise UnsupportedModel(
            f"{class_name(layers[0])} '{layers[0].name}' is inside {type(model).__name__} "
            f"'{model.name}', a subclassed model mlbridge cannot cut into pieces",
            hint="build the model with the functional API: keras.Input(dtype='string') → "
            "the text layer → the rest")
    top = {id(la) for la in graph.layers}
    for layer in layers:
        if id(layer) not in top:
            inside = next(la.name for la in graph.layers
                          if any(t is layer for t in find_text_layers(la)))
            raise UnsupportedModel(
                f"{class_name(layer)} '{layer.name}' is inside the nested model '{inside}'; "
                "mlbridge can only move text preprocessing out when it is a layer of the "
                "model itself",
                hint="call the text layer on the string input in the outer model "
                "(keras.io's end-to-end model: Input → TextVectorization → inner model)")
    inputs = {id(t): t for t in graph.inputs}
    uses: dict[int, list[Any]] = {}  # model input → the nodes that take it
    found = []
    for nodes in graph._nodes_by_depth.values():
        for node in nodes:
            for tensor in node.input_tensors:
                if id(tensor) in inputs:
                    uses.setdefault(id(tensor), []).append(node)
            if class_name(node.operation) not in TEXT_LAYERS:
                continue
            layer = node.operation
            sources = node.input_tensors
            if len(sources) != 1 or id(sources[0]) not in inputs:
                came = sources[0]._keras_history.operation.name if sources else "nothing"
                raise UnsupportedModel(
                    f"{class_name(layer)} '{layer.name}' takes its text from layer '{came}', not "
                    "from a model input: mlbridge can only run text preprocessing outside "
                    "the graph when it is the first thing done to an input", hint=HINT)
            if any(id(out) in {id(o) for o in graph.outputs} for out in node.outputs):
                raise UnsupportedModel(
                    f"{class_name(layer)} '{layer.name}' is an output of the model: there is "
                    "no model after it to convert", hint="convert the model that takes its "
                    "token ids, and run the layer in Python")
            found.append(TextInput(layer, sources[0], node.outputs[0]))
    order = {id(t): k for k, t in enumerate(graph.inputs)}
    found.sort(key=lambda item: (order[id(item.source)], item.layer.name))
    text_nodes = {id(t.output) for t in found}
    for item in found:
        others = [n.operation.name for n in uses[id(item.source)]
                  if not any(id(o) in text_nodes for o in n.outputs)]
        if others:
            raise UnsupportedModel(
                f"input '{item.source.name}' goes to {class_name(item.layer)} '{item.layer.name}' "
                f"and also to {', '.join(sorted(set(others)))}: mlbridge can only run text "
                "preprocessing outside the graph when the input goes to text layers alone",
                hint=HINT)
    per_input: dict[int, int] = {}
    for item in found:
        per_input[id(item.source)] = per_input.get(id(item.source), 0) + 1
    for item in found:
        alone = per_input[id(item.source)] == 1
        item.name = item.source.name if alone else f"{item.source.name}_{item.layer.name}"
        item.spec = describe(item.layer, item.source, item.output, item.name)
    return found


def check_layer(layer: Any, source: Any) -> None:
    """Stop with UnsupportedModel when preprocess.js cannot redo `layer` exactly."""
    kind = class_name(layer)
    lookup = layer._lookup_layer if kind == "TextVectorization" else layer

    def refuse(why: str, hint: str = HINT) -> None:
        raise UnsupportedModel(f"{kind} '{layer.name}' {why}", hint=hint)

    mode = layer._output_mode if kind == "TextVectorization" else layer.output_mode
    if mode not in _MODES[kind]:
        refuse(f"has output_mode '{mode}', which mlbridge does not redo in JavaScript "
               f"(it does: {', '.join(_MODES[kind])})")
    if getattr(lookup, "invert", False):
        refuse("has invert=True (ids to strings): the browser gets no strings out of a graph "
               "converted for LiteRT.js")
    if lookup.sparse:
        refuse("has sparse=True; TF.js and LiteRT.js take dense tensors only",
               hint="use sparse=False (the default)")
    if lookup.vocabulary_dtype != "string":
        refuse(f"looks up {lookup.vocabulary_dtype} values, not strings")
    if lookup.num_oov_indices != 1:
        refuse(f"has num_oov_indices={lookup.num_oov_indices}: "
               + ("an unknown token is an error in Keras" if lookup.num_oov_indices == 0
                  else "unknown tokens are spread over buckets by FarmHash, which the "
                  "browser does not have"), hint="use num_oov_indices=1 (the default)")
    if getattr(lookup, "encoding", "utf-8").lower().replace("_", "-") not in ("utf-8", "utf8"):
        refuse(f"decodes text as {lookup.encoding}; the browser's strings are UTF-8")
    if lookup.vocabulary_size() <= lookup._token_start_index():
        refuse("has no vocabulary yet", hint="call adapt() or pass vocabulary= before saving")
    rank = len(source.shape)
    if kind == "StringLookup":
        if mode == "one_hot" and (rank > 2 or (rank == 2 and source.shape[1] != 1)):
            refuse(f"one-hot encodes an input of shape {list(source.shape)}; mlbridge "
                   "does it for one string a row, shape [batch] or [batch, 1]")
        if mode in ("multi_hot", "count", "tf_idf") and rank > 2:
            refuse(f"encodes an input of rank {rank}; mlbridge does it for [batch, k]")
        return
    if layer._ragged:
        refuse("has ragged=True; TF.js and LiteRT.js take dense tensors only",
               hint="use ragged=False with output_sequence_length")
    if callable(layer._split):
        refuse(f"splits with {callable_name(layer._split)}, a function mlbridge cannot "
               "redo in JavaScript", hint="use split='whitespace' or 'character'")
    if layer._split is not None and rank == 2 and source.shape[1] != 1:
        refuse(f"takes an input of shape {list(source.shape)}; Keras splits [batch] or "
               "[batch, 1] only")
    if layer._split is None and rank != 2:
        refuse(f"has split=None on an input of shape {list(source.shape)}; mlbridge takes "
               "[batch, 1] there", hint="use keras.Input(shape=(1,), dtype='string')")
    standardize_steps(layer)  # raises when a custom standardize is not redone exactly



# --- the spec ---------------------------------------------------------------------------

def describe(layer: Any, source: Any, output: Any, name: str) -> dict:
    """The JSON-able spec preprocess.js follows (metadata `preprocess.steps`, one per input).

    `vocabulary` is the layer's own, special tokens included, so a token's id is its
    position; `oov_index` is what an unknown token gets; `mask_token` ("" for
    TextVectorization) is 0 in "int" mode and dropped in the others.
    """
    check_layer(layer, source)
    kind = class_name(layer)
    lookup = layer._lookup_layer if kind == "TextVectorization" else layer
    mode = layer._output_mode if kind == "TextVectorization" else layer.output_mode
    spec: dict[str, Any] = {
        "input": name, "from": source.name, "layer": layer.name, "class": kind,
        "from_shape": list(source.shape), "standardize": standardize_steps(layer),
        "split": layer._split if kind == "TextVectorization" else None,
        "ngrams": list(layer._ngrams) if kind == "TextVectorization" and layer._ngrams
        else None,
        "vocabulary": [str(t) for t in lookup.get_vocabulary(include_special_tokens=True)],
        "mask_token": lookup.mask_token, "oov_index": int(lookup._oov_start_index()),
        "output_mode": mode,
    }
    if mode == "int":
        spec["sequence_length"] = (layer._output_sequence_length
                                   if kind == "TextVectorization" else None)
        spec["dtype"] = "int32"
    else:
        spec["depth"] = int(python_preprocess(layer, np.array([[""]], dtype=object)).shape[-1])
        spec["dtype"] = "float32"
        if mode == "tf_idf":
            spec["idf_weights"] = [float(w) for w in
                                   np.asarray(lookup.idf_weights_const, dtype=np.float32)]
    spec["shape"] = graph_input_shape(layer, source, spec)
    return spec


def graph_input_shape(layer: Any, source: Any, spec: dict) -> list[int | None]:
    """The converted graph's input for this layer: the shape the layer really gives.

    Not the layer's static output shape: Keras 3.15 says (None, 1, depth) for a
    multi-hot TextVectorization on (None, 1) that gives (batch, depth).
    """
    dummy = np.full([1, *[d or 1 for d in source.shape[1:]]], "", dtype=object)
    shape: list[int | None] = [None, *python_preprocess(layer, dummy).shape[1:]]
    if spec["output_mode"] == "int" and (spec["split"] or spec["ngrams"]) \
            and spec["sequence_length"] is None:
        shape[-1] = None  # the longest row of each batch
    return shape


# --- running it -------------------------------------------------------------------------

def python_preprocess(layer: Any, strings: np.ndarray) -> np.ndarray:
    """The layer itself on `strings` (the reference preprocess.js must equal), as the
    dtype the converted graph takes (int32 ids, float32 encodings)."""
    import tensorflow as tf

    values = np.asarray(layer(tf.constant(np.asarray(strings, dtype=object).astype(str))))
    return values.astype(np.int32 if values.dtype.kind in "iu" else np.float32)


def split_model(model: Any, items: list[TextInput]) -> Any:
    """The model after its text layers: each text layer's output is an input (named
    `TextInput.name`, int32 ids or float32 encodings), other inputs stay as they are; the
    layers (and so the weights) are the model's own, not copies."""
    import keras

    graph = _graph(model)
    replaced = {id(item.source) for item in items}
    cut = [item.output for item in items] + [t for t in graph.inputs if id(t) not in replaced]
    rest = keras.Model(cut, graph.outputs, name=f"{model.name}_after_text")
    fresh = [keras.Input(shape=tuple(item.spec["shape"][1:]), dtype=item.spec["dtype"],
                         name=item.name) for item in items]
    fresh += [keras.Input(shape=tuple(t.shape[1:]), dtype=t.dtype, name=t.name)
              for t in graph.inputs if id(t) not in replaced]
    # clone_model with the identity as clone_function re-calls the same layers on the new
    # inputs: one flat graph, the weights shared (and int32 ids instead of Keras's int64,
    # which TF.js and LiteRT.js take natively).
    split = keras.models.clone_model(rest, input_tensors=fresh, clone_function=lambda la: la)
    split.name = model.name  # graph scopes stay the model's own for error messages
    return split


def split_inputs(items: list[TextInput], inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The split model's inputs from the original model's: text layers run in Python."""
    out = dict(inputs)
    for item in items:
        out[item.name] = python_preprocess(item.layer, inputs[item.source.name])
    for item in items:
        if item.source.name != item.name:
            out.pop(item.source.name, None)
    return out


def split_difference(model: Any, split: Any, items: list[TextInput],
                     inputs: dict[str, np.ndarray]) -> float:
    """max |split(preprocess(x)) - model(x)| over every output: 0.0 when the cut is exact."""
    import keras
    import tensorflow as tf

    graph = _graph(model)
    whole = model(keras.tree.pack_sequence_as(
        graph._inputs_struct, [tf.constant(inputs[t.name]) for t in graph.inputs]))
    fed = split_inputs(items, inputs)
    part = split(keras.tree.pack_sequence_as(
        split._inputs_struct, [tf.constant(fed[t.name]) for t in split.inputs]))
    pairs = zip(tf.nest.flatten(whole), tf.nest.flatten(part), strict=True)
    return max(float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)),
                            initial=0.0)) for a, b in pairs)


def metadata_section(items: list[TextInput], model: Any) -> dict:
    """metadata.json's `preprocess`: the model's own string inputs and one spec per text
    layer, in the order mlbridge.js applies them (before any runtime)."""
    graph = _graph(model)
    sources = {id(item.source) for item in items}
    return {
        "inputs": [{"name": t.name, "dtype": "string", "shape": [None, *t.shape[1:]]}
                   for t in graph.inputs if id(t) in sources],
        "steps": [item.spec for item in items],
        "module": "web/preprocess.js",
        "why": "TF.js has no StringLower/StringSplitV2 (no string kernels on wasm) and "
               "LiteRT.js no strings: the graph starts after the text layers",
    }


def cut(model: Any, say: Callable[[str], None]) -> tuple[Any, dict | None]:
    """The model the converters take, and metadata's `preprocess` section: the model
    itself and None when it has no text layers; else the model after them, checked to
    compute exactly what the whole model does on sample texts (`split_difference`)."""
    from mlbridge.convert.text.reference import sample_texts

    items = plan(model)  # exit 2 for text layers JavaScript cannot redo
    if not items:
        return model, None
    say("Text preprocessing in the page (web/preprocess.js): " + ", ".join(
        f"{i.spec['class']} '{i.layer.name}'" for i in items))
    split = split_model(model, items)
    texts = {t.name: sample_texts(next(i.spec for i in items if i.source is t), 16)
             for t in model.inputs if any(i.source is t for i in items)}
    if len(texts) == len(model.inputs):  # every input is text: the whole model can run here
        difference = split_difference(model, split, items, texts)
        if difference != 0.0:
            raise ExportError(f"the model after its text layers differs from the whole model "
                              f"by {difference:g}", hint="report this, with the model")
    return split, metadata_section(items, model)
