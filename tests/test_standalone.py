"""predict.mjs: the step list equals Keras, the module equals Python in Node, sizes hold."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import run_cli

from mlbridge.bundle import load
from mlbridge.export.standalone import read_steps, run_steps, write_standalone
from mlbridge.inputs import check_inputs
from mlbridge.runtimes import NodeRuntime
from mlbridge.verify import parity_inputs, python_predictions


@pytest.fixture(params=["artists_bundle", "dnn_bundle", "cars_bundle"])
def bundle(request):
    return request.getfixturevalue(request.param)


def test_steps_run_with_numpy_equal_keras(bundle):
    inputs = parity_inputs(bundle)
    steps = read_steps(bundle.model, bundle.metadata["inputs"])
    ops = [s.op for s in steps]
    assert ops[:len(bundle.features)] == ["category" if c.kind == "categorical" else "number"
                                          for c in bundle.columns]
    assert ops[-3:] == ["rescale", "clip", "interval"]
    columns = list(check_inputs(inputs, bundle.metadata["inputs"]).values())
    np.testing.assert_allclose(run_steps(steps, columns), python_predictions(bundle, inputs),
                               rtol=1e-5, atol=1e-4)


def test_python_predicts_from_the_saved_steps_without_tensorflow(bundle):
    """`load(...).predict` runs steps.json with numpy: the SavedModel's answers, and no
    TensorFlow import (the CLI's `predict` takes under a second, not ten)."""
    inputs = parity_inputs(bundle)
    loaded = load(bundle.path)
    np.testing.assert_allclose(loaded.outputs(inputs), python_predictions(bundle, inputs),
                               rtol=1e-5, atol=1e-4)
    code = (f"import sys; from mlbridge import load; b = load({str(bundle.path)!r}); "
            f"b.predict({{{bundle.features[0]!r}: [None, 1]}}); "
            "assert 'tensorflow' not in sys.modules, 'imported TensorFlow'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_module_in_node_equals_python_on_test_rows_and_edges(bundle):
    inputs = parity_inputs(bundle)
    expected = python_predictions(bundle, inputs)
    got = NodeRuntime().run_module(bundle.path / "web" / "predict.mjs", inputs)["outputs"]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3)


def test_module_sizes_and_readability(artists_bundle, dnn_bundle):
    linear = (artists_bundle.path / "web" / "predict.mjs").read_text()
    dnn = (dnn_bundle.path / "web" / "predict.mjs").read_text()
    assert len(linear.encode()) < 7 * 1024  # most of it the input checks, readable
    assert len(dnn.encode()) < 40 * 1024
    header = linear.splitlines()[0]
    assert 'bundle "artists"' in header and artists_bundle.metadata["created"] in header
    assert "twitter_followers (log)" in linear and 'op: "number"' in linear
    kernel = artists_bundle.model.get_layer("standardized_output").get_weights()[0]
    assert str(np.float32(kernel[0, 0])) in linear  # the weight itself, readable
    assert "import " not in linear.replace("// ", "")  # no dependencies
    types = (artists_bundle.path / "web" / "predict.d.ts").read_text()
    assert '"twitter_followers"?: Value | ArrayLike<Value>;' in types  # left out: missing
    assert artists_bundle.metadata["standalone"] == {
        "file": "web/predict.mjs", "bytes": len(linear.encode())}


def test_categorical_module_carries_its_vocabulary_as_data(cars_bundle):
    module = (cars_bundle.path / "web" / "predict.mjs").read_text()
    origin = next(i for i in cars_bundle.metadata["inputs"] if i["name"] == "Origin")
    assert f"vocabulary: {json.dumps(origin['vocabulary'])}" in module
    assert "import " not in module.replace("// ", "")
    types = (cars_bundle.path / "web" / "predict.d.ts").read_text()
    assert '"Origin"?: Category | ArrayLike<Value>;' in types


def test_large_one_dimensional_arrays_are_written_as_base64():
    from mlbridge.export.standalone import _array

    assert _array(np.arange(300, dtype=np.float32)).startswith('f32("')
    assert _array(np.arange(300, dtype=np.float32)).endswith('")')
    assert _array(np.ones((20, 20), dtype=np.float32)).endswith(", 20, 20)")


def test_unsupported_layer_skips_the_module_clearly(tmp_path):
    from mlbridge.layers import NumericEncoding, keras

    spec = [{"name": "x", "input": "x", "kind": "numeric"}]
    inputs = keras.Input(shape=(1,), name="x")
    h = NumericEncoding(0.0, False, 0.0, 1.0, False, name="x_encode")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="tanh", name="odd")(h))
    meta = write_standalone(model, tmp_path, {"inputs": spec})
    assert meta["standalone"]["skipped"].startswith("layer 'odd' uses activation 'tanh'")
    assert not (tmp_path / "web" / "predict.mjs").exists()

    model = keras.Model(inputs, keras.layers.BatchNormalization(name="bn")(h))
    meta = write_standalone(model, tmp_path, {"inputs": spec})
    assert "layer 'bn' (BatchNormalization) is not supported" in meta["standalone"]["skipped"]


def test_quantized_dnn_is_smaller_and_verifies_with_its_tolerance(dnn_bundle):
    graph = dnn_bundle.metadata["graph"]
    assert graph["quantization"] == "float16"
    assert graph["bytes"]["float16"] < 0.8 * graph["bytes"]["float32"]  # model.json stays
    result = run_cli("verify", str(dnn_bundle.path), "--runtime", "tfjs-cpu", "--runtime",
                     "litert-wasm", "--runtime", "standalone", "--runtime", "standalone-node")
    assert result.code == 0, result.stdout + result.stderr
    assert "float16-quantized" in " ".join(result.stdout.split())
    parity = json.loads((dnn_bundle.path / "metadata.json").read_text())["parity"]
    by_run = {c["runtime"]: c for c in parity["checks"]}
    assert set(by_run) == {"tfjs-cpu", "litert-wasm", "standalone", "standalone-node"}
    quantized = by_run["tfjs-cpu"]
    assert quantized["tolerance"]["why"] == "float16-quantized TF.js weights"
    assert quantized["max_abs_diff"] > by_run["standalone-node"]["max_abs_diff"]
    # The .tflite and predict.mjs are never quantized: the plain tolerance holds them.
    for name in ("standalone", "litert-wasm"):
        assert by_run[name]["tolerance"]["rtol"] == 1e-4 and by_run[name]["status"] == "passed"


_ANSWERS_IN_NODE = """
const { predict, predictInterval, metadata } = await import(process.argv[1]);
const inputs = JSON.parse(process.argv[2]);
let ranges = null;
try { ranges = predictInterval(inputs); } catch (e) { ranges = e.message; }
console.log(JSON.stringify({ answers: predict(inputs), ranges, metadata }));
"""


def node_answers(bundle, inputs: dict) -> dict:
    module = (bundle.path / "web" / "predict.mjs").resolve().as_uri()
    done = subprocess.run(["node", "--input-type=module", "-e", _ANSWERS_IN_NODE, module,
                           json.dumps(inputs)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_module_answers_labels_with_probabilities(species_bundle):
    inputs = {"island": ["Dream"], "bill_length_mm": [49], "bill_depth_mm": [18],
              "flipper_length_mm": [195], "body_mass_g": [3700], "sex": ["female"],
              "year": [2008]}
    got = node_answers(species_bundle, inputs)
    (answer,) = got["answers"]
    assert answer["label"] == species_bundle.predict_labels(inputs)[0]
    assert list(answer["probabilities"]) == species_bundle.labels
    assert sum(answer["probabilities"].values()) == pytest.approx(1.0, abs=1e-6)
    assert "no interval" in got["ranges"] and got["metadata"]["task"] == "classification"
    types = (species_bundle.path / "web" / "predict.d.ts").read_text()
    assert 'type Label = "Adelie" | "Chinstrap" | "Gentoo";' in types


def test_module_keeps_numbers_and_adds_an_interval_export(artists_bundle):
    got = node_answers(artists_bundle, {"twitter_followers": [1000, 2e6]})
    expected = artists_bundle.predict_interval({"twitter_followers": [1000, 2e6]})
    assert got["answers"] == pytest.approx(expected[:, 0].tolist(), abs=1e-3)
    np.testing.assert_allclose([[r["value"], r["lower"], r["upper"]] for r in got["ranges"]],
                               expected, atol=1e-3)
    types = (artists_bundle.path / "web" / "predict.d.ts").read_text()
    assert "export declare function predictInterval(" in types


def test_uint8_quantized_bundle_trains_exports_and_verifies(small_artists, tmp_path):
    """uint8 end to end, through the CLI: the smallest weights, checked in Chromium."""
    out = tmp_path / "uint8"
    trained = run_cli("train", str(small_artists), "--target", "popularity", "--features",
                      "twitter_followers", "--model", "dnn", "--epochs", "20", "--quantize",
                      "uint8", "--out", str(out), "-q")
    assert trained.code == 0, trained.stderr
    graph = json.loads((out / "metadata.json").read_text())["graph"]
    assert graph["quantization"] == "uint8"
    assert graph["bytes"]["uint8"] < 0.7 * graph["bytes"]["float32"]  # model.json stays
    result = run_cli("verify", str(out), "--runtime", "tfjs-cpu", "--runtime", "tfjs-wasm")
    assert result.code == 0, result.stdout + result.stderr
    assert "uint8-quantized" in " ".join(result.stdout.split())
