"""`convert`: models people bring, converted for real and run in Chromium on webgl and cpu.

Every model is built by tests/convert_models.py, saved, converted once per module and
verified against TensorFlow in the shared headless Chromium. The MobileNets are built
and converted in a child process with oneDNN on (TensorFlow's default on x86 Linux),
which is when grappler fuses hard-swish into convolutions; this process keeps oneDNN
off as mlbridge sets it, so both routes are exercised.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from conftest import tree_digest

from mlbridge.errors import UnsupportedModel, UsageError

TESTS = Path(__file__).resolve().parent
ADDEND = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)
ONEDNN_MODELS = ("mobilenet_v3",)
_ONEDNN_SCRIPT = """
import sys
from pathlib import Path
from mlbridge._tf import quiet_tensorflow
quiet_tensorflow()
sys.path.insert(0, sys.argv[1])
import convert_models as cm
from mlbridge.convert import convert
root = Path(sys.argv[2])
for name in sys.argv[3:]:
    convert(cm.save(getattr(cm, name)(), root / f"{name}.keras"), root / name)
"""


@pytest.fixture(scope="module")
def onednn(tmp_path_factory: pytest.TempPathFactory):
    """Start the oneDNN child first (it runs beside the other tests); wait when asked."""
    root = tmp_path_factory.mktemp("onednn")
    log = (root / "child.log").open("w")
    child = subprocess.Popen(
        [sys.executable, "-c", _ONEDNN_SCRIPT, str(TESTS), str(root), *ONEDNN_MODELS],
        env={**os.environ, "TF_ENABLE_ONEDNN_OPTS": "1"}, stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL)

    def wait() -> Path:
        if child.wait(timeout=600) != 0:
            raise AssertionError((root / "child.log").read_text()[-3000:])
        return root

    yield wait
    child.kill()
    child.wait()
    log.close()


@pytest.fixture(scope="module")
def tf():
    """TensorFlow, imported the way mlbridge imports it (options first, logs down)."""
    from mlbridge._tf import quiet_tensorflow

    return quiet_tensorflow()[0]


@pytest.fixture(scope="module")
def cm(onednn, tf):
    """tests/convert_models.py, imported after mlbridge has set TensorFlow's options."""
    import convert_models

    return convert_models


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("convert")


@pytest.fixture(scope="module")
def converted(cm, work):
    """convert() each named model at most once per module: name → (out, metadata)."""
    from mlbridge.convert import convert

    done: dict[str, tuple[Path, dict]] = {}
    logs: dict[str, list[str]] = {}

    def get(name: str, **options) -> tuple[Path, dict]:
        if name not in done:
            if name == "recipe":
                source = cm.recipe_saved_model(work / "recipe_saved_model")
            elif name == "legacy_h5":
                source = cm.save(cm.legacy_h5(), work / "legacy.h5")
            else:
                source = cm.save(getattr(cm, name)(), work / f"{name}.keras")
            out = work / f"{name}-web"
            logs[name] = []
            done[name] = out, convert(source, out, reporter=logs[name].append, **options)
        return done[name]

    get.logs = logs
    return get


def check_parity(out: Path, browser, cannot: dict[str, str] | None = None,
                 **options) -> dict:
    """verify_converted in the shared Chromium: every runtime passes, except WebGPU (no GPU
    here: unavailable, never failed) and those in `cannot`, {runtime: its own error}."""
    from mlbridge.convert import verify_converted

    if browser is not None:
        parity = verify_converted(out, chromium=browser, **options)
    else:  # the public route starts its own Playwright, which the shared one's thread refuses
        with ThreadPoolExecutor(1) as pool:
            parity = pool.submit(verify_converted, out, **options).result()
    cannot = cannot or {}
    for check in parity["checks"]:
        name = check["runtime"]
        if check.get("absent"):  # no file for this runtime (no model.tflite), said why
            assert check["status"] == "unsupported" and any(
                reason in check["error"] for reason in cannot.values()), check
        elif name.endswith("webgpu"):
            assert check["status"] == "unavailable" and "WebGPU" in check["error"], check
        elif name in cannot:
            assert check["status"] == "unsupported" and cannot[name] in check["error"], check
        else:
            assert check["status"] == "passed", check
            assert check["backend"] == name.split("-")[1] and check["ms_per_prediction"] > 0
    assert parity["passed"]
    assert parity["ranking"] and not set(parity["ranking"]) & set(cannot)
    for path in (out / "metadata.json", out / "web" / "metadata.json"):
        saved = json.loads(path.read_text())
        assert saved["parity"] == parity and saved["runtimes"]["ranking"] == parity["ranking"]
    return parity


def test_local_server_serves_only_its_directories(tmp_path: Path) -> None:
    from mlbridge.localhttp import serve

    site, vendor = tmp_path / "site", tmp_path / "vendor"
    site.mkdir()
    vendor.mkdir()
    (site / "index.html").write_text("<p>hi</p>")
    (site / "app.mjs").write_text("export const a = 1;")
    (vendor / "lib.js").write_text("var b = 2;")
    (tmp_path / "secret.txt").write_text("no")
    with serve({"/": site, "/vendor": vendor}) as server:
        def get(path: str) -> tuple[int, str, str]:
            try:
                with urllib.request.urlopen(server.url + path) as response:
                    return response.status, response.headers["Content-Type"], response.read()
            except urllib.error.HTTPError as error:
                return error.code, "", b""

        assert get("/")[0] == 200
        assert get("/app.mjs")[:2] == (200, "text/javascript")
        assert get("/vendor/lib.js") == (200, "text/javascript", b"var b = 2;")
        for escape in ("/../secret.txt", "/vendor/../../secret.txt", "/%2e%2e/secret.txt",
                       "/vendor/%2e%2e/%2e%2e/secret.txt", "/vendor/", "/missing.js"):
            assert get(escape)[0] == 404, escape
    assert server.url.startswith("http://127.0.0.1:")


def test_bad_paths_and_options_fail_before_anything_is_written(tmp_path: Path) -> None:
    from mlbridge.convert import convert

    out = tmp_path / "out"
    text = tmp_path / "notes.keras"
    text.write_text("not a model")
    (tmp_path / "empty_dir").mkdir()
    cases = [(tmp_path / "missing.keras", {}, UsageError, "no model at"),
             (text, {}, UnsupportedModel, "neither a Keras zip archive nor an HDF5 file"),
             (tmp_path / "empty_dir", {}, UnsupportedModel, "not a TensorFlow SavedModel"),
             (text, {"quantize": "int4"}, UsageError, "unknown quantization")]
    for model, options, error, message in cases:
        with pytest.raises(error, match=message) as caught:
            convert(model, out, **options)
        assert caught.value.hint and caught.value.exit_code == 2
    archive = tmp_path / "looks_like.keras"
    archive.write_bytes(b"PK\x03\x04 a zip header and nothing else")
    with pytest.raises(UsageError, match="no module named no_such_module_here"):
        convert(archive, out, imports=["no_such_module_here"])
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty_dir", "looks_like.keras",
                                                          "notes.keras"]


def stock_convert(saved_model: Path, web: Path) -> None:
    """The TF.js converter as the recipe runs it: no rewrites, no op check of ours."""
    from mlbridge._tf import captured_output, quiet_tensorflow
    from mlbridge.export.converter import saved_model_converter

    quiet_tensorflow()
    with captured_output():
        saved_model_converter().convert_tf_saved_model(str(saved_model), str(web))


def test_text_transformer_needs_erfc_rewrite_and_matches(converted, browser, tmp_path) -> None:
    out, meta = converted("transformer")
    with pytest.raises(ValueError, match="Erfc"):  # the stock route, for the record
        stock_convert(out / "saved_model", tmp_path / "stock")
    assert [(r["name"], r["where"]) for r in meta["rewrites"]] == [
        ("erfc-as-one-minus-erf", ["ff_in"]), ("einsum-as-matmul", ["attention"])]
    assert meta["signature"]["inputs"] == [{
        "name": "tokens", "dtype": "int32", "tfjs_dtype": "int32", "shape": [None, 8],
        "tensor": "tokens:0", "range": [0, 49],
        "range_from": "size of the lookup table (e.g. Embedding) it indexes"}]
    graph = json.loads((out / "web" / "model.json").read_text())["modelTopology"]
    assert {"Erf", "Sub"} <= {node["op"] for node in graph["node"]}
    assert "Erfc" not in {node["op"] for node in graph["node"]}
    assert "Einsum" not in {node["op"] for node in graph["node"]}  # TF.js wasm has no kernel
    parity = check_parity(out, browser)
    assert parity["shapes"] == {"tokens": [4, 8]}


def test_metadata_is_complete_in_both_copies(converted) -> None:
    out, meta = converted("transformer")
    assert meta["schema_version"] == 2 and meta["kind"] == "converted"
    assert meta["source"]["format"] == "keras" and len(meta["source"]["sha256"]) == 64
    assert set(meta["versions"]) >= {"tensorflow", "keras", "tensorflowjs", "python"}
    graph = meta["graph"]
    assert graph["quantization"] == "none"
    assert graph["bytes"]["weights"] == graph["bytes"]["weights_float32"] > 0
    on_disk = {p.relative_to(out).as_posix(): p.stat().st_size
               for p in out.rglob("*") if p.is_file() and p.name != "metadata.json"}
    assert meta["files"] == on_disk and "saved_model/saved_model.pb" in on_disk
    assert "web/model.json" in on_disk
    web = json.loads((out / "web" / "metadata.json").read_text())
    assert web["source"]["path"] == "transformer.keras"
    assert {k: v for k, v in web.items() if k not in ("source", "parity", "runtimes")} == \
        {k: v for k, v in meta.items() if k != "source"}
    litert = meta["litert"]
    assert litert["file"] == "web/model.tflite" and litert["batch"] == 1
    assert litert["inputs"] == [{"name": "tokens", "dtype": "int32", "shape": [1, 8]}]
    assert litert["outputs"] == [{"name": "output_0", "dtype": "float32", "shape": [1, 3]}]
    assert on_disk["web/model.tflite"] == litert["bytes"]
    assert not list(out.parent.glob(".*partial"))


def test_recurrent_model_runs_after_loop_rewrite(converted, browser, tmp_path) -> None:
    from mlbridge.runtimes import TfjsRuntime, page_server

    out, meta = converted("recurrent")
    # The stock graph converts but TF.js cannot run its while loops.
    stock_convert(out / "saved_model", tmp_path / "stock")
    (tmp_path / "stock" / "metadata.json").write_text((out / "web" / "metadata.json").read_text())
    x = {"sequence": {"shape": [1, 6, 4], "dtype": "float32", "values": [0.5] * 24}}
    with page_server(tmp_path / "stock") as server:
        stock = TfjsRuntime("cpu").run(browser, server, "/model/", x, x, table=False)
    assert "Cannot compute the outputs" in stock["error"]
    loop, bias = meta["rewrites"]
    assert loop["name"] == "loop-switch-control-edges"
    assert loop["where"] == ["gru", "lstm"]
    assert "Rewrite loop-switch-control-edges: 11 node(s) in gru, lstm" in \
        converted.logs["recurrent"]
    # The LSTM cell's x·W + h·U is fused as a matmul whose "bias" is a tensor: TF.js wasm
    # takes a [units] bias only, so that add is taken out of the fused node.
    assert (bias["name"], bias["where"]) == ("rank-one-bias", ["lstm"])
    # TFLite's built-in ops have no TensorList for Keras 3's loops: no model.tflite, and
    # the reason recorded; LiteRT is never offered for this model.
    assert meta["litert"] == {"skipped": "TFLite's built-in ops cannot express: "
                                         "TensorListReserve"}
    check_parity(out, browser, {"litert-wasm": "TensorListReserve"})


def test_efficientnet_like_batch_norm_bias_is_made_rank_one_for_wasm(converted, browser,
                                                                       tmp_path) -> None:
    from mlbridge.runtimes import TfjsRuntime, page_server

    out, meta = converted("efficientnet_like")
    # Without the rewrite, wasm stops: the converter folds BatchNormalization(axis=3) into
    # fused convs whose bias is [1, 1, 1, C].
    stock_convert(out / "saved_model", tmp_path / "stock")
    (tmp_path / "stock" / "metadata.json").write_text((out / "web" / "metadata.json").read_text())
    x = {"image": {"shape": [1, 32, 32, 3], "dtype": "float32", "values": [0.5] * 3072}}
    with page_server(tmp_path / "stock") as server:
        stock = TfjsRuntime("wasm").run(browser, server, "/model/", x, x, table=False)
    assert "FusedConv2D only supports rank-1 bias but got rank 4" in stock["error"]
    [rewrite] = meta["rewrites"]
    assert rewrite["name"] == "rank-one-bias" and rewrite["nodes"] == 3
    assert rewrite["where"] == ["expand_bn", "project_bn", "stem_bn"]
    check_parity(out, browser)


def test_grouped_convolution_is_inlined_and_made_depthwise(converted, browser) -> None:
    out, meta = converted("grouped_conv")
    assert [(r["name"], r["where"]) for r in meta["rewrites"]] == [
        ("inline-compiled-calls", ["grouped"]), ("grouped-conv-as-depthwise", ["grouped"])]
    ops = {n["op"] for n in json.loads((out / "web" / "model.json").read_text())
           ["modelTopology"]["node"]}
    assert "DepthwiseConv2dNative" in ops or "FusedDepthwiseConv2dNative" in ops
    assert "StatefulPartitionedCall" not in ops
    check_parity(out, browser)


def test_multi_input_output_names_and_user_sample(converted, browser, work) -> None:
    out, meta = converted("multi_io")
    signature = meta["signature"]
    assert [i["name"] for i in signature["inputs"]] == ["a_values", "b_values"]
    assert [o["name"] for o in signature["outputs"]] == ["output_0", "output_1"]
    assert meta["rewrites"] == []
    check_parity(out, browser)
    rng = np.random.default_rng(7)
    sample = work / "sample.npz"
    np.savez(sample, a_values=rng.normal(size=(3, 3)) * 100, b_values=rng.normal(size=(3, 3)))
    parity = check_parity(out, browser, sample=sample, runtimes=("tfjs-cpu", "litert-wasm"))
    assert [c["runtime"] for c in parity["checks"]] == ["tfjs-cpu", "litert-wasm"]
    assert parity["from"] == str(sample) and parity["inputs"] == 3
    assert parity["shapes"] == {"a_values": [3, 3], "b_values": [3, 3]}
    np.savez(sample, a_values=np.zeros((2, 3)))
    with pytest.raises(UsageError, match="lacks input"):
        check_parity(out, browser, sample=sample)


def test_custom_layer_needs_its_module_imported(cm, converted, browser, work,
                                                monkeypatch) -> None:
    import keras

    from mlbridge.convert import convert

    source = cm.save(cm.custom(), work / "custom_layer.keras")
    registry = keras.saving.get_custom_objects()
    for k, form in enumerate(("convert_models", str(TESTS / "convert_models.py"))):
        out = work / f"custom-web-{k}"
        monkeypatch.delitem(registry, "mlbridge_tests>ScaledTanh")
        monkeypatch.delitem(sys.modules, "convert_models")
        with pytest.raises(UnsupportedModel, match="ScaledTanh") as caught:
            convert(source, out)
        assert "--import" in caught.value.hint
        assert not out.exists()
        meta = convert(source, out, imports=[form])
        assert meta["signature"]["inputs"][0]["name"] == "x"
    check_parity(out, browser)


def test_legacy_h5_file_verified_in_its_own_chromium(converted) -> None:
    out, meta = converted("legacy_h5")
    assert meta["source"]["format"] == "h5"
    assert meta["signature"]["inputs"][0]["name"] == "features"
    check_parity(out, None, runtimes=("tfjs-cpu", "tfjs-wasm"))


def test_recipe_saved_model(converted, browser, work) -> None:
    out, meta = converted("recipe")
    assert meta["source"]["format"] == "saved_model"
    assert tree_digest(out / "saved_model") == tree_digest(work / "recipe_saved_model")
    check_parity(out, browser)


def test_unsupported_op_names_ops_and_layers_and_writes_nothing(cm, converted, work) -> None:
    from mlbridge.convert import convert

    source = cm.save(cm.unsupported(), work / "unsupported.keras")
    fresh = work / "unsupported-web"
    with pytest.raises(UnsupportedModel) as caught:
        convert(source, fresh)
    assert "MatrixDeterminant (in block_det)" in caught.value.message
    assert caught.value.hint and caught.value.exit_code == 2
    assert not fresh.exists()
    existing, _ = converted("legacy_h5")
    before = tree_digest(existing)
    with pytest.raises(UsageError, match=r"holds another model \(converted from legacy.h5\)"):
        convert(source, existing)  # made from another model: kept unless asked
    with pytest.raises(UnsupportedModel, match="MatrixDeterminant"):
        convert(source, existing, replace=True)
    assert tree_digest(existing) == before
    assert not list(work.glob(".*partial"))


def test_float16_weights_use_looser_tolerance(cm, browser, work) -> None:
    from mlbridge.convert import convert

    source = cm.save(cm.multi_io(), work / "quantized.keras")
    meta = convert(source, work / "quantized-web", quantize="float16")
    sizes = meta["graph"]["bytes"]
    assert meta["graph"]["quantization"] == "float16"
    assert sizes["weights"] < 0.55 * sizes["weights_float32"]
    parity = check_parity(work / "quantized-web", browser)
    assert {rule["why"] for rule in parity["tolerance"].values()} == \
        {"float16-quantized TF.js weights"}


def test_mobilenet_v3_converted_with_onednn_runs_on_every_runtime(onednn, cm, browser) -> None:
    from mlbridge.convert.parity import python_outputs
    from mlbridge.convert.signature import random_inputs

    root = onednn()
    v3 = json.loads((root / "mobilenet_v3" / "metadata.json").read_text())
    rewrite, bias = v3["rewrites"]
    assert rewrite["name"] == "unfuse-activation" and rewrite["nodes"] >= 5
    assert all(w.startswith("activation") for w in rewrite["where"])
    assert bias["name"] == "rank-one-bias"  # hard-sigmoid's +3: a scalar bias
    assert "_FusedHardSwish" not in (root / "mobilenet_v3" / "web" / "model.json").read_text()
    for name in ONEDNN_MODELS:
        check_parity(root / name, browser)
        # Calibrated batch norm: the classes differ from image to image, not a constant.
        meta = json.loads((root / name / "metadata.json").read_text())
        inputs = random_inputs(meta["signature"])
        python = python_outputs(root / name / "saved_model", inputs, meta["signature"])
        assert python["output_0"].std(axis=0).max() > 1e-3


def test_verify_refuses_what_is_not_a_converted_model(tmp_path: Path) -> None:
    from mlbridge.convert import verify_converted

    with pytest.raises(UsageError, match="not a converted model"):
        verify_converted(tmp_path)


@pytest.mark.parametrize(("fused", "activation"), [
    (["BiasAdd", "_FusedHardSwish"], lambda y: y * np.clip(y + 3, 0, 6) / 6),
    (["BiasAdd", "_MklSwish"], lambda y: y / (1 + np.exp(-y))),
    (["BiasAdd", "GeluExact"], lambda y: 0.5 * y * (1 + np.vectorize(math.erf)(y / 2**0.5))),
    (["BiasAdd", "GeluApproximate"],
     lambda y: 0.5 * y * (1 + np.tanh((2 / np.pi) ** 0.5 * (y + 0.044715 * y**3)))),
    (["BiasAdd", "Tanh"], np.tanh),
    (["BiasAdd", "Add", "Relu"], lambda y: np.maximum(y + ADDEND, 0)),
])
def test_unfused_activation_computes_the_fused_function(tf, fused, activation) -> None:
    """Each activation oneDNN can fuse, rebuilt from plain ops, run by TensorFlow itself."""
    from mlbridge.convert.rewrites import UnfuseActivation

    rng = np.random.default_rng(3)
    x, w, b = (rng.normal(size=s).astype(np.float32) * 2 for s in ((2, 3), (3, 4), (4,)))
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.placeholder(tf.float32, [2, 3], name="x")
        for name, value in (("w", w), ("b", b), ("addend", ADDEND)):
            tf.constant(value, name=name)
    graph_def = graph.as_graph_def()
    args = ["b", "addend"] if "Add" in fused else ["b"]
    node = graph_def.node.add(name="dense", op="_FusedMatMul", input=["x", "w", *args])
    node.attr["T"].type = tf.float32.as_datatype_enum
    node.attr["num_args"].i = len(args)
    node.attr["fused_ops"].list.s.extend(op.encode() for op in fused)
    graph_def.node.add(name="out", op="Identity", input=["dense"]).attr["T"].type = \
        tf.float32.as_datatype_enum
    rewrite = UnfuseActivation()
    assert rewrite.applies(graph_def)
    assert rewrite.apply(graph_def) == ["dense"]
    assert not rewrite.applies(graph_def)
    with tf.Graph().as_default() as rewritten:
        tf.graph_util.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=rewritten) as session:
        got = session.run("out:0", {"x:0": x})
    np.testing.assert_allclose(got, activation(x @ w + b), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("equation", "left", "right"), [
    ("BTNH,BSNH->BNTS", [None, 8, 2, 8], [None, 6, 2, 8]),  # MultiHeadAttention's two
    ("BNTS,BSNH->BTNH", [None, 2, 8, 6], [None, 6, 2, 8]),
    ("abc,cde->abde", [None, None, 16], [16, 2, 8]),  # EinsumDense, unknown sizes
    ("aecd,abcd->acbe", [None, 8, 2, 8], [None, 8, 2, 8]),  # tf.keras 2's attention
    ("ab,cd->abcd", [None, 3], [4, 5]),  # an outer product
    ("ab,ab->", [3, 4], [3, 4]),  # a full contraction
    ("xbyc,bcz->zbxy", [3, None, 4, 5], [None, 5, 6]),
])
def test_einsum_as_matmul_computes_the_einsum(tf, equation, left, right) -> None:
    """Each equation rewritten to transposes and a batched matmul, run by TensorFlow."""
    from mlbridge.convert.rewrites.einsum import EinsumAsMatMul, plan_equation

    rng = np.random.default_rng(0)
    labels = equation.split("->")[0].split(",")
    size = {label: 3 + k for k, label in enumerate(sorted(set("".join(labels))))}
    for shape, names in ((left, labels[0]), (right, labels[1])):
        size.update({n: d for n, d in zip(names, shape, strict=True) if d is not None})
    graph = tf.Graph()
    with graph.as_default():
        a = tf.compat.v1.placeholder(tf.float32, left, name="a")
        b = tf.compat.v1.placeholder(tf.float32, right, name="b")
        tf.identity(tf.raw_ops.Einsum(inputs=[a, b], equation=equation), name="result")
    graph_def = graph.as_graph_def()
    assert EinsumAsMatMul().apply(graph_def) and "Einsum" not in {n.op for n in graph_def.node}
    x = {name: rng.standard_normal([size[n] for n in names]).astype(np.float32)
         for name, names in (("a:0", labels[0]), ("b:0", labels[1]))}
    with tf.compat.v1.Session(graph=graph) as session:
        want = session.run("result:0", x)
    with tf.Graph().as_default() as rewritten:
        tf.graph_util.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=rewritten) as session:
        got = session.run("result:0", x)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    for unsupported in ("abc->cba", "aab,bc->ac", "...ab,bc->...ac", "abc,cd->ad"):
        assert plan_equation(unsupported) is None  # left for the op check to name
