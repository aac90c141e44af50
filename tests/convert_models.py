"""Small, seeded Keras models for tests/test_convert.py, each needing a part of `convert`.

Tiny on purpose (a few units, short sequences, 32-64 pixel images): the point is the
ops they contain, not their accuracy. The custom layers live here too, registered with
Keras, so a test can load this file through `convert(..., imports=[...])`.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from keras import layers

PACKAGE = "mlbridge_tests"


@keras.saving.register_keras_serializable(package=PACKAGE)
class ScaledTanh(layers.Layer):
    """A custom layer with its own weight: k·tanh(x), one k per feature."""

    def build(self, input_shape):
        self.k = self.add_weight(shape=(input_shape[-1],), initializer="random_normal",
                                 name="k")

    def call(self, inputs):
        return self.k * keras.ops.tanh(inputs)


@keras.saving.register_keras_serializable(package=PACKAGE)
class Determinant(layers.Layer):
    """det of each 2x2 block of features: MatrixDeterminant, which TF.js does not have."""

    def call(self, inputs):
        blocks = keras.ops.reshape(inputs, (-1, inputs.shape[-1] // 4, 2, 2))
        return keras.ops.det(blocks)


def _seed(seed: int = 0) -> None:
    keras.utils.set_random_seed(seed)


def transformer() -> keras.Model:
    """Embedding + MultiHeadAttention + LayerNorm + exact gelu (Erfc in TensorFlow)."""
    _seed()
    tokens = keras.Input((8,), dtype="int32", name="tokens")
    x = layers.Embedding(50, 16, name="embed")(tokens)
    x = layers.LayerNormalization(name="attn_norm")(
        x + layers.MultiHeadAttention(2, 8, name="attention")(x, x))
    ff = layers.Dense(16, name="ff_out")(layers.Dense(32, activation="gelu", name="ff_in")(x))
    x = layers.LayerNormalization(name="ff_norm")(x + ff)
    out = layers.Dense(3, activation="softmax", name="classes")(
        layers.GlobalAveragePooling1D()(x))
    return keras.Model(tokens, out, name="text_transformer")


def recurrent() -> keras.Model:
    """GRU (full sequence) feeding an LSTM: two while loops in the graph."""
    _seed()
    seq = keras.Input((6, 4), name="sequence")
    x = layers.GRU(8, return_sequences=True, name="gru")(seq)
    x = layers.LSTM(8, name="lstm")(x)
    return keras.Model(seq, layers.Dense(2, name="head")(x), name="recurrent")


def calibrate(model: keras.Model, shape: tuple[int, ...], low: float = 0.0,
              high: float = 255.0) -> keras.Model:
    """Set every BatchNormalization's moving statistics from one batch of random data.

    With weights=None the moving statistics are 0 and 1, activations blow up or vanish
    layer after layer, and outputs come out constant: parity would compare nothing.
    One training-mode pass with momentum 0 makes each layer see normalized inputs.
    """
    norms = [la for la in model._flatten_layers() if isinstance(la, layers.BatchNormalization)]
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.momentum = 0.0
    data = np.random.default_rng(1).uniform(low, high, shape).astype("float32")
    model(data, training=True)
    for norm, momentum in zip(norms, momenta, strict=True):
        norm.momentum = momentum
    return model


def mobilenet_v3() -> keras.Model:
    """MobileNetV3Small, random weights: hard-swish after conv + bias (fused with oneDNN)."""
    _seed()
    model = keras.applications.MobileNetV3Small(weights=None, input_shape=(64, 64, 3),
                                                classes=5)
    return calibrate(model, (16, 64, 64, 3))


def efficientnet_like() -> keras.Model:
    """EfficientNet's MBConv in miniature: BatchNormalization(axis=3) after bias-free convs,
    which the converter folds into fused convs with a [1, 1, 1, C] bias (TF.js wasm: rank 1)."""
    _seed()
    image = keras.Input((32, 32, 3), name="image")
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(image)
    x = layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(x)
    x = layers.BatchNormalization(axis=3, name="stem_bn")(x)
    x = layers.Activation("swish", name="stem_activation")(x)
    h = layers.Conv2D(16, 1, use_bias=False, name="expand_conv")(x)
    h = layers.BatchNormalization(axis=3, name="expand_bn")(h)
    h = layers.Activation("swish", name="expand_activation")(h)
    h = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="dwconv")(h)
    h = layers.BatchNormalization(axis=3, name="dw_bn")(h)
    h = layers.Activation("swish", name="dw_activation")(h)
    se = layers.GlobalAveragePooling2D(keepdims=True, name="se_squeeze")(h)
    se = layers.Conv2D(4, 1, activation="swish", name="se_reduce")(se)
    se = layers.Conv2D(16, 1, activation="sigmoid", name="se_expand")(se)
    h = layers.Multiply(name="se_excite")([h, se])
    h = layers.Conv2D(8, 1, use_bias=False, name="project_conv")(h)
    h = layers.BatchNormalization(axis=3, name="project_bn")(h)
    x = layers.Add(name="residual")([h, x])
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    out = layers.Dense(5, activation="softmax", name="classes")(x)
    return calibrate(keras.Model(image, out, name="efficientnet_like"), (16, 32, 32, 3))


def grouped_conv() -> keras.Model:
    """Conv2D(groups=channels), as in ConvNeXt: Keras runs it as an XLA-compiled call."""
    _seed()
    image = keras.Input((6, 6, 8), name="image")
    x = layers.Conv2D(16, 3, groups=8, padding="same", name="grouped")(image)
    return keras.Model(image, layers.Conv2D(4, 1, name="pointwise")(x), name="grouped_conv")


def multi_io() -> keras.Model:
    """Two inputs and two outputs of identical shapes, declared in unsorted order."""
    _seed()
    b = keras.Input((3,), name="b_values")
    a = keras.Input((3,), name="a_values")
    hidden = layers.Dense(6, activation="relu", name="mix")(layers.Concatenate()([b, a]))
    return keras.Model([b, a], [layers.Dense(2, name="second")(hidden),
                                layers.Dense(2, name="first")(hidden)], name="multi_io")


def custom() -> keras.Model:
    """A registered custom layer with a weight, between two Dense layers."""
    _seed()
    x = keras.Input((4,), name="x")
    hidden = ScaledTanh(name="scaled_tanh")(layers.Dense(4, name="before")(x))
    return keras.Model(x, layers.Dense(1, name="after")(hidden), name="custom")


def unsupported() -> keras.Model:
    """A Determinant layer (MatrixDeterminant) between Dense layers: cannot be rewritten."""
    _seed()
    x = keras.Input((8,), name="x")
    det = Determinant(name="block_det")(layers.Dense(8, name="before")(x))
    return keras.Model(x, layers.Dense(1, name="after")(det), name="unsupported")


def legacy_h5() -> keras.Model:
    _seed()
    return keras.Sequential([keras.Input((5,), name="features"),
                             layers.Dense(8, activation="relu"), layers.Dense(2)], name="h5")


def recipe_saved_model(directory: Path) -> Path:
    """The reference recipe: Sequential([Normalization, Dense(1)]) → model.export(dir)."""
    _seed()
    norm = layers.Normalization(mean=[3.0, 1.0e5], variance=[4.0, 1.0e9])
    model = keras.Sequential([keras.Input((2,)), norm, layers.Dense(1)])
    model.export(str(directory), verbose=False)
    return directory


def save(model: keras.Model, path: Path) -> Path:
    """Save as .keras or .h5, by the path's suffix."""
    model.save(str(path))
    return path


# --- Text models: a TextVectorization or StringLookup on a string input -------------------

WORDS = ["the", "movie", "was", "great", "bad", "not", "a", "film", "i", "loved", "it",
         "hated", "café", "naïve", "don't", "br", "12", "x"]
REVIEWS = ["The movie was GREAT!", "bad film, i hated it<br />", "i loved it... naïve?",
           "not a great movie", "Café 12 x", "", "was it bad? not bad"]


@keras.saving.register_keras_serializable(package=PACKAGE)
def custom_standardization(text):
    """keras.io's "text classification from scratch": lower, drop "<br />", punctuation."""
    import re
    import string

    import tensorflow as tf

    lowercase = tf.strings.lower(text)
    stripped = tf.strings.regex_replace(lowercase, "<br />", " ")
    return tf.strings.regex_replace(stripped, f"[{re.escape(string.punctuation)}]", "")


def text_classifier() -> keras.Model:
    """keras.io's flow: a TextVectorization adapted on texts, with its custom standardize,
    then a classifier model nested in the end-to-end one (Embedding, Conv1D, pooling)."""
    _seed()
    vectorize = layers.TextVectorization(max_tokens=40, output_mode="int",
                                         output_sequence_length=12, name="vectorize",
                                         standardize=custom_standardization)
    vectorize.adapt(REVIEWS * 3)
    ids = keras.Input((12,), dtype="int64", name="ids")
    x = layers.GlobalMaxPooling1D()(layers.Conv1D(8, 3, activation="relu")(
        layers.Embedding(40, 8)(ids)))
    inner = keras.Model(ids, layers.Dense(1, activation="sigmoid")(x), name="classifier")
    text = keras.Input((1,), dtype="string", name="text")
    return keras.Model(text, inner(vectorize(text)), name="end_to_end")


def text_multi_hot() -> keras.Model:
    """Words as a multi-hot (lower and strip punctuation, whitespace), then Dense layers."""
    _seed()
    text = keras.Input((1,), dtype="string", name="text")
    x = layers.TextVectorization(max_tokens=50, output_mode="multi_hot", vocabulary=WORDS,
                                 name="vectorize")(text)
    x = layers.Dense(8, activation="relu", name="hidden")(x)
    return keras.Model(text, layers.Dense(1, activation="sigmoid", name="score")(x),
                       name="text_multi_hot")


def string_lookup() -> keras.Model:
    """A StringLookup on the string input (ids) into an Embedding, beside a number."""
    _seed()
    genre = keras.Input((1,), dtype="string", name="genre")
    stars = keras.Input((1,), name="stars")
    x = layers.StringLookup(vocabulary=["rock", "pop", "jazz", "Blues", "électro"],
                            name="lookup")(genre)
    x = layers.GlobalAveragePooling1D(name="pool")(layers.Embedding(8, 4, name="embed")(x))
    x = layers.Concatenate()([x, stars])
    return keras.Model([genre, stars], layers.Dense(1, name="score")(x), name="string_lookup")


@keras.saving.register_keras_serializable(package=PACKAGE)
def shout(text):
    """Upper-casing: an op (StringUpper) the browser is not trusted to redo exactly."""
    import tensorflow as tf

    return tf.strings.upper(text)


def text_shouting() -> keras.Model:
    """A TextVectorization whose standardize the browser cannot redo: refused, exit 2."""
    _seed()
    text = keras.Input((1,), dtype="string", name="text")
    x = layers.TextVectorization(vocabulary=WORDS, standardize=shout,
                                 output_sequence_length=4, name="vectorize")(text)
    x = layers.GlobalAveragePooling1D()(layers.Embedding(50, 4)(x))
    return keras.Model(text, layers.Dense(1)(x), name="shouting")
