"""predict.mjs: the step list equals Keras, the module equals Python in Node, sizes hold."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
from conftest import run_cli

from mlbridge.export.standalone import read_steps, run_steps, write_standalone
from mlbridge.verify import node_predictions, parity_inputs, python_predictions


@pytest.fixture(params=["artists_bundle", "dnn_bundle"])
def bundle(request):
    return request.getfixturevalue(request.param)


def test_steps_run_with_numpy_equal_keras(bundle):
    x = parity_inputs(bundle)
    steps = read_steps(bundle.model)
    assert [s.op for s in steps][:2] == ["log1p", "normalize"]
    assert [s.op for s in steps][-2:] == ["rescale", "clip"]
    np.testing.assert_allclose(run_steps(steps, x), bundle.predict(
        {"twitter_followers": x[:, 0]}), rtol=1e-5, atol=1e-4)


def test_module_in_node_equals_python_on_test_rows_and_edges(bundle):
    x = parity_inputs(bundle)
    expected = python_predictions(bundle, x)
    np.testing.assert_allclose(node_predictions(bundle, x), expected, rtol=1e-4, atol=1e-3)


def test_module_sizes_and_readability(artists_bundle, dnn_bundle):
    linear = (artists_bundle.path / "web" / "predict.mjs").read_text()
    dnn = (dnn_bundle.path / "web" / "predict.mjs").read_text()
    assert len(linear.encode()) < 2 * 1024
    assert len(dnn.encode()) < 40 * 1024
    header = linear.splitlines()[0]
    assert 'bundle "artists"' in header and artists_bundle.metadata["created"] in header
    assert "twitter_followers (log)" in linear and '"log1p"' in linear
    kernel = artists_bundle.model.get_layer("standardized_output").get_weights()[0]
    assert str(np.float32(kernel[0, 0])) in linear  # the weight itself, readable
    assert "import " not in linear.replace("// ", "")  # no dependencies
    types = (artists_bundle.path / "web" / "predict.d.ts").read_text()
    assert "twitter_followers: Value | ArrayLike<Value>;" in types
    assert artists_bundle.metadata["standalone"] == {
        "file": "web/predict.mjs", "bytes": len(linear.encode())}


def node_errors(bundle, *inputs: str) -> list[str]:
    script = ("const { predict } = await import(process.argv[1]);"
              "for (const text of process.argv.slice(2)) {"
              "  try { predict(JSON.parse(text)); console.log('no error'); }"
              "  catch (e) { console.log(e.message); } }")
    module = (bundle.path / "web" / "predict.mjs").resolve().as_uri()
    done = subprocess.run(["node", "--input-type=module", "-e", script, module, *inputs],
                          capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


def test_module_validates_inputs_by_name(artists_bundle):
    assert node_errors(artists_bundle, '{"followers": [1]}', '{"twitter_followers": ["x"]}',
                       "null", '{"twitter_followers": "12"}') == [
        'missing feature "twitter_followers"',
        'feature "twitter_followers" has a value that is not a number: "x"',
        'missing feature "twitter_followers"',
        "no error"]


def test_unsupported_layer_skips_the_module_clearly(tmp_path):
    from mlbridge.layers import keras

    inputs = keras.Input(shape=(1,), name="features")
    model = keras.Model(inputs, keras.layers.Dense(1, activation="tanh", name="odd")(inputs))
    meta = write_standalone(model, tmp_path, {})
    assert meta["standalone"]["skipped"].startswith("layer 'odd' uses activation 'tanh'")
    assert not (tmp_path / "web" / "predict.mjs").exists()

    inputs = keras.Input(shape=(1,), name="features")
    model = keras.Model(inputs, keras.layers.BatchNormalization(name="bn")(inputs))
    meta = write_standalone(model, tmp_path, {})
    assert "layer 'bn' (BatchNormalization) is not supported" in meta["standalone"]["skipped"]


def test_quantized_dnn_is_smaller_and_verifies_with_its_tolerance(dnn_bundle):
    graph = dnn_bundle.metadata["graph"]
    assert graph["quantization"] == "float16"
    assert graph["bytes"]["float16"] < 0.8 * graph["bytes"]["float32"]  # model.json stays
    result = run_cli("verify", str(dnn_bundle.path), "--backend", "cpu")
    assert result.code == 0, result.stdout + result.stderr
    assert "float16-quantized" in " ".join(result.stdout.split())
    parity = json.loads((dnn_bundle.path / "metadata.json").read_text())["parity"]
    by_run = {c["runtime"]: c for c in parity["checks"]}
    assert set(by_run) == {"tfjs-cpu", "standalone-chromium", "standalone-node"}
    quantized = by_run["tfjs-cpu"]
    assert quantized["tolerance"]["why"] == "float16-quantized TF.js weights"
    assert quantized["max_abs_diff"] > by_run["standalone-node"]["max_abs_diff"]
    assert by_run["standalone-chromium"]["tolerance"]["rtol"] == 1e-4
