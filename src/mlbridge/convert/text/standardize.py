"""What a TextVectorization's `standardize` does, read off TensorFlow, as steps for
preprocess.js: built-in modes as this Keras version writes them, and custom functions made
of ops the browser redoes exactly (ASCII lower-casing, regex replaces RE2 and JavaScript
agree on, stripping)."""

from __future__ import annotations

import re
from typing import Any

from mlbridge.convert.text.re2 import re2_to_js, rewrite_parts
from mlbridge.errors import UnsupportedModel

#: TensorFlow ops that turn a string into a string, which preprocess.js redoes exactly.
_STANDARDIZE_OPS = frozenset({"StringLower", "StaticRegexReplace", "StringStrip", "Identity"})
#: What a layer's "split" option emits in TensorFlow, where the standardization ends.
#: (`tf.strings.unicode_split` reshapes to a vector first, inside its "UnicodeSplit" scope.)
_SPLIT_OPS = {"whitespace": {"StringSplitV2"},
              "character": {"UnicodeDecode", "UnicodeDecodeWithOffsets", "UnicodeSplit/Reshape"},
              None: {"StringNGrams"}}
HINT = ("keep that preprocessing out of the model (run it on the page's text yourself and "
         "give the model the token ids), or use the layer's built-in options")



def class_name(layer: Any) -> str:
    return type(layer).__name__


def callable_name(fn: Any) -> str:
    return getattr(fn, "__name__", None) or type(fn).__name__


def standardize_steps(layer: Any) -> list[dict]:
    """What the layer's `standardize` does, as steps for preprocess.js, read from TensorFlow.

    The layer's own preprocessing is traced on a [batch] string tensor, and the chain of
    ops from the input to the split is read off the graph: so a built-in mode is taken
    as this Keras version writes it, and a custom function (keras.io's
    `custom_standardization`: lower, then regex replaces) is accepted when it is made of
    ops preprocess.js redoes exactly: StringLower (ASCII), StaticRegexReplace with a
    pattern in the subset RE2 and JavaScript agree on, StringStrip.
    """
    if class_name(layer) == "StringLookup" or layer._standardize is None:
        return []
    import tensorflow as tf

    what = (f"standardize={callable_name(layer._standardize)}" if callable(layer._standardize)
            else f"standardize='{layer._standardize}'")
    where = f"TextVectorization '{layer.name}' ({what})"
    try:
        traced = tf.function(layer._preprocess, autograph=False).get_concrete_function(
            tf.TensorSpec([None], tf.string))
    except Exception as exc:  # whatever the user's function raises on a symbolic tensor
        raise UnsupportedModel(f"{where} could not be traced by TensorFlow: "
                               f"{' '.join(str(exc).split())[:200]}", hint=HINT) from exc
    graph = traced.graph
    consumers: dict[str, list[Any]] = {}
    for op in graph.get_operations():
        for tensor in op.inputs:
            consumers.setdefault(tensor.name, []).append(op)
    (current,) = [op.outputs[0] for op in graph.get_operations() if op.type == "Placeholder"]
    steps: list[dict] = []
    while True:
        after = consumers.get(current.name, [])
        if not after:
            break  # the standardized text is the output (split=None, no ngrams)
        if len(after) > 1:
            raise UnsupportedModel(f"{where} uses its text in {len(after)} places "
                                   f"({', '.join(sorted({op.type for op in after}))}); "
                                   "mlbridge redoes a chain of string ops only", hint=HINT)
        (op,) = after
        if op.type not in _STANDARDIZE_OPS:
            scope = re.sub(r"_\d+$", "", op.name.split("/")[0])
            if {op.type, f"{scope}/{op.type}"} & _SPLIT_OPS.get(layer._split, set()):
                _check_split(op, where)
                break
            raise UnsupportedModel(f"{where} uses the TensorFlow op {op.type}, which mlbridge "
                                   "cannot redo in JavaScript exactly", hint=HINT)
        steps += _step(op, where)
        current = op.outputs[0]
    return steps


def _check_split(op: Any, where: str) -> None:
    if op.type == "StringSplitV2":
        from tensorflow.python.framework import tensor_util

        sep = tensor_util.constant_value(op.inputs[1])
        if sep is None or sep != b"" or op.get_attr("maxsplit") != -1:
            raise UnsupportedModel(f"{where} splits on {sep!r}, not on whitespace",
                                   hint="use split='whitespace'")


def _step(op: Any, where: str) -> list[dict]:
    if op.type == "Identity":
        return []
    if op.type == "StringLower":
        encoding = op.get_attr("encoding").decode()
        if encoding:
            raise UnsupportedModel(
                f"{where} lower-cases with encoding='{encoding}' (ICU's Unicode case "
                "mapping), which the browser's toLowerCase cannot be relied on to match",
                hint="use tf.strings.lower(x) without encoding (ASCII letters only), as "
                "Keras's own 'lower' does")
        return [{"op": "lower"}]
    if op.type == "StringStrip":
        return [{"op": "strip"}]
    pattern = op.get_attr("pattern").decode()
    rewrite = op.get_attr("rewrite").decode()
    try:
        source, nullable = re2_to_js(pattern)
        parts = rewrite_parts(rewrite)
    except ValueError as exc:
        raise UnsupportedModel(f"{where} replaces the regex {pattern!r}: {exc}",
                               hint="write the regex with literal characters, classes [...] "
                               "and escapes of punctuation only") from exc
    if nullable and op.get_attr("replace_global"):
        raise UnsupportedModel(f"{where} replaces the regex {pattern!r}, which matches the "
                               "empty string: RE2 and JavaScript step over empty matches "
                               "differently", hint="make the regex match at least one character")
    return [{"op": "replace", "pattern": source, "global": bool(op.get_attr("replace_global")),
             "rewrite": parts, "re2": pattern}]
