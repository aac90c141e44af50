"""Text preprocessing layers of a brought Keras model, moved out of the converted graph.

A `TextVectorization` (keras.io's "text classification from scratch") or a `StringLookup`
on a string input cannot run in the browser as TensorFlow ops: TF.js 4.22 has no op that
lower-cases (StringLower) and no StringSplitV2 (what `tf.strings.split` emits), its wasm
backend has no string kernels at all, its LookupTableFindV2 drops the key's shape (a
`[batch, 1]` StringLookup comes out `[batch]`), and LiteRT.js has no string tensors. So
the model is split at those layers:

    strings ─ text layer (Python: the layer itself; browser: web/preprocess.js) ─ ids
    ids ─ the rest of the model (the converted graph and model.tflite) ─ outputs

`plan` finds the text layers and checks each can be redone exactly in JavaScript;
`split_model` builds the rest of the model from new inputs taking the layers' outputs
(int32 token ids, or float32 multi-hot/counts), sharing the model's layers and weights;
`describe` is the JSON-able spec of what a layer does, which `preprocess.js` follows.
What cannot be redone exactly (a custom split, a regex outside the subset RE2 and
JavaScript agree on, hashed OOV buckets, ...) stops with `UnsupportedModel` (exit 2)
naming the layer and why.

Keras's rules, as its code has them (keras/src/layers/preprocessing/text_vectorization.py
and index_lookup.py, Keras 3.15), each one checked against the layer by the case table
in tests/test_convert_text.py: "lower" is `tf.strings.lower`, which lower-cases ASCII letters only
("É" stays); "strip_punctuation" removes Python's `string.punctuation` (ASCII only);
"whitespace" splits on runs of ASCII space, \\t, \\n, \\v, \\f, \\r (not U+00A0, U+2003, ...);
in "int" mode 0 is the mask (padding, and the empty token), 1 the OOV token, the
vocabulary from 2; sequences are cut and zero-padded at the end; in the other modes the
OOV token is 0 and the mask token counts for nothing.
"""


from mlbridge.convert.text.layers import (
    TextInput,
    cut,
    metadata_section,
    plan,
    python_preprocess,
    split_difference,
    split_model,
)
from mlbridge.convert.text.reference import (
    check_saved_model,
    reference_inputs,
    reference_signature,
    sample_texts,
)

__all__ = ["TextInput", "check_saved_model", "cut", "metadata_section", "plan", "python_preprocess",
           "reference_inputs", "reference_signature", "sample_texts", "split_difference",
           "split_model"]
