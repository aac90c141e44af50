"""Models you bring with text layers: the graph starts after them, the page runs them.

`web/preprocess.js` must give exactly the ids (or multi-hots) Keras's own layer gives:
one table of layer configurations and strings runs against both. Then whole models
convert, and verify on every runtime against the model as given (strings in).
"""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from conftest import ROOT, run_cli

from mlbridge.errors import UnsupportedModel


@pytest.fixture(scope="module")
def cm():
    """tests/convert_models.py, imported after mlbridge has set TensorFlow's options."""
    from mlbridge._tf import quiet_tensorflow

    quiet_tensorflow()
    import convert_models

    return convert_models


STRINGS = ["The movie was GREAT!", "I loved it. I LOVED IT!!! the film, the movie: great x 12",
           "", "   ", "!!!...", "unknownword anotherone", "Café café CAFÉ cafe\u0301",
           "naïve NAÏVE", "İstanbul ΣΑΣ", "don't DON'T", "a\u00a0b c\td\ne\x0bf\rg\u3000h",
           "the<br />movie<br /><br />was great", "x-ray e-mail a_b (x) [x] #1 ~",
           "emoji 👍🏽 🎬film", "[UNK] unk", "the " * 30]
GENRES = ["rock", "Rock", "pop", "", "jazz", "Blues", "blues", "électro", "e\u0301lectro",
          "[UNK]", "metal", " rock"]


def layer_cases(cm):
    from keras import layers

    def tv(**options):
        return layers.TextVectorization(**{"vocabulary": cm.WORDS, **options})

    return [
        ("lower and strip punctuation, whitespace, int, length 12",
         tv(output_sequence_length=12), STRINGS, (1,)),
        ("multi_hot", tv(output_mode="multi_hot"), STRINGS, (1,)),
        ("keras.io's custom standardization",
         tv(standardize=cm.custom_standardization, output_sequence_length=12), STRINGS, (1,)),
        ("standardize None, no length (the longest row)", tv(standardize=None), STRINGS, (1,)),
        ("length 3: cut", tv(output_sequence_length=3), STRINGS, (1,)),
        ("ngrams (1, 3), count", tv(ngrams=(1, 3), output_mode="count",
                                    vocabulary=[*cm.WORDS, "i loved it", "the the"]),
         STRINGS, (1,)),
        ("split by character", tv(split="character", output_sequence_length=16,
                                  vocabulary=list("abcdefghijklmnopqrstuvwxyzé ")), STRINGS, (1,)),
        ("StringLookup int", layers.StringLookup(
            vocabulary=["rock", "pop", "jazz", "Blues", "électro"]), GENRES, (1,)),
        ("StringLookup one_hot", layers.StringLookup(
            vocabulary=["rock", "pop", "jazz"], output_mode="one_hot"), GENRES, (1,)),
        ("StringLookup multi_hot of three", layers.StringLookup(
            vocabulary=["rock", "pop", "jazz"], output_mode="multi_hot"), GENRES, (3,)),
    ]


def test_preprocess_js_gives_exactly_what_keras_gives(cm):
    """Every configuration, every string: Keras's layer in Python, preprocess.js in Node."""
    import keras

    from mlbridge.convert.text.layers import describe, python_preprocess

    table = []
    for name, layer, strings, shape in layer_cases(cm):
        source = keras.Input(shape, dtype="string", name="text")
        spec = describe(layer, source, layer(source), "text")
        data = np.array(strings, dtype=object).reshape(-1, *shape)
        expected = python_preprocess(layer, data)
        table.append({"name": name, "spec": spec, "strings": data.ravel().tolist(),
                      "shape": list(data.shape), "expected": expected.ravel().tolist(),
                      "expected_shape": list(expected.shape)})
    script = (f"import {{ preprocess }} from "
              f"{json.dumps((ROOT / 'src/mlbridge/web/preprocess.js').as_uri())};"
              "let text = ''; for await (const c of process.stdin) text += c;"
              "const got = JSON.parse(text).map((c) => preprocess(c.spec, "
              "{ values: c.strings, shape: c.shape }));"
              "console.log(JSON.stringify(got.map((g) => ({ values: Array.from(g.values), "
              "shape: g.shape }))));")
    done = subprocess.run(["node", "--input-type=module", "-e", script], capture_output=True,
                          input=json.dumps(table), text=True, check=True, timeout=60)
    for case, got in zip(table, json.loads(done.stdout), strict=True):
        assert got["shape"] == case["expected_shape"], case["name"]
        assert got["values"] == case["expected"], case["name"]


def test_what_the_browser_cannot_redo_is_refused_naming_the_layer(cm):
    import keras
    import tensorflow as tf
    from keras import layers

    from mlbridge.convert.text.layers import describe

    refused = [
        (layers.TextVectorization(vocabulary=cm.WORDS, standardize=cm.shout), "StringUpper"),
        (layers.TextVectorization(vocabulary=cm.WORDS, split=lambda x: tf.strings.split(
            x, sep=",")), "a function mlbridge cannot redo"),
        (layers.TextVectorization(vocabulary=cm.WORDS, ragged=True), "ragged=True"),
        (layers.StringLookup(vocabulary=["a"], num_oov_indices=2), "num_oov_indices=2"),
    ]
    for layer, reason in refused:
        source = keras.Input((1,), dtype="string", name="text")
        with pytest.raises(UnsupportedModel, match=reason) as caught:
            describe(layer, source, layer(source), "text")
        assert f"'{layer.name}'" in caught.value.message and caught.value.exit_code == 2


@pytest.fixture(scope="module")
def text_models(cm, tmp_path_factory):
    from mlbridge.convert import convert

    work = tmp_path_factory.mktemp("text-models")
    done = {}
    for name in ("text_classifier", "text_multi_hot", "string_lookup"):
        source = cm.save(getattr(cm, name)(), work / f"{name}.keras")
        done[name] = work / f"{name}-web", convert(source, work / f"{name}-web")
    return done


@pytest.mark.parametrize("name", ["text_classifier", "text_multi_hot", "string_lookup"])
def test_a_text_model_converts_and_agrees_on_every_runtime(text_models, name, browser):
    from mlbridge.convert import verify_converted

    out, meta = text_models[name]
    section = meta["preprocess"]
    assert section["module"] == "web/preprocess.js" and section["steps"]
    graph_ops = {n["op"] for n in json.loads((out / "web" / "model.json").read_text())
                 ["modelTopology"]["node"]}
    assert not {"StringLower", "StringSplitV2", "LookupTableFindV2"} & graph_ops
    assert meta["litert"]["file"] == "web/model.tflite"  # no strings left for LiteRT.js
    parity = verify_converted(out, chromium=browser)
    for check in parity["checks"]:
        expected = "unavailable" if check["runtime"].endswith("webgpu") else "passed"
        assert check["status"] == expected, check
    assert parity["passed"] and parity["shapes"][section["inputs"][0]["name"]][0] >= 4


def test_keras_ios_flow_converts_from_the_cli_and_a_savedmodel_exits_2(cm, tmp_path):
    """The issue's case: `mlbridge convert` of keras.io's text classifier used to exit 1
    ("Identity is not in graph"). As a .keras file it converts; as a SavedModel, whose
    layers are gone, it exits 2 naming the ops, with a hint to pass the .keras file."""
    source = cm.save(cm.text_classifier(), tmp_path / "classifier.keras")
    converted = run_cli("convert", str(source), "--import", str(ROOT / "tests" /
                        "convert_models.py"), "--out", str(tmp_path / "web"))
    assert converted.code == 0, converted.stderr
    assert "Text preprocessing in the page (web/preprocess.js): TextVectorization " \
           "'vectorize'" in converted.stderr
    saved = tmp_path / "saved"
    with ThreadPoolExecutor(1) as pool:  # a SavedModel of the whole model (strings in)
        pool.submit(lambda: cm.text_classifier().export(str(saved), verbose=False)).result()
    refused = run_cli("convert", str(saved), "--out", str(tmp_path / "web2"))
    assert refused.code == 2 and "Traceback" not in refused.stderr
    assert "StringLower" in refused.stderr and "pass its .keras file" in refused.stderr
    shouting = cm.save(cm.text_shouting(), tmp_path / "shouting.keras")
    result = run_cli("convert", str(shouting), "--import", str(ROOT / "tests" /
                     "convert_models.py"), "--out", str(tmp_path / "web3"))
    assert result.code == 2 and "StringUpper" in result.stderr and "'vectorize'" in \
        result.stderr
    assert not (tmp_path / "web3").exists()
