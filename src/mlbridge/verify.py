"""Check that the browser gives Python's answers, for every way the bundle can run.

Runs: TF.js in headless Chromium (webgl and cpu backends), the standalone predict.mjs in
Chromium, and predict.mjs in Node.js. Inputs are the bundle's test sample plus edge rows
for every feature (extreme numbers, unseen categories, missing values). Python's reference is
the unquantized SavedModel, the very graph that was converted, so any difference is the
converter's, the quantization's or the runtime's doing.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from mlbridge.bundle import Bundle, check_inputs, load
from mlbridge.errors import VerifyError
from mlbridge.features import CategoricalColumn

BACKENDS = ("webgl", "cpu")
RTOL, ATOL = 1e-4, 1e-3
#: Tolerances for a quantized TF.js graph, measured on the bundled data with margin
#: (see the README): relative, and absolute as a fraction of the output's range.
QUANTIZED_TOLERANCE = {"float16": (2e-3, 2e-3), "uint8": (2e-2, 2e-2)}

_PREDICT_IN_PAGE = """
async ({ url, options, columns }) => {
  const { loadModel } = await import("/static/mlbridge.js");
  const model = await loadModel(url, options);
  const values = await model.outputs(columns);
  model.dispose();
  return { backend: model.backend, values };
}
"""


#: A category value no training row had: it must take the out-of-vocabulary slot.
UNSEEN = "(a value never seen in training)"


def parity_inputs(bundle: Bundle) -> dict[str, list]:
    """Raw inputs by feature: the test sample, then edge rows for every feature.

    Edge rows hold the other features at a typical value (median, most frequent) and
    vary one: for a number its smallest and largest seen, 0, 1, ten times the largest,
    and missing; for a category its most frequent values, an unseen value, and missing.
    Missing is None for a number and "" for a category, as the clients send them.
    """
    columns = bundle.columns
    test = pd.read_csv(bundle.path / "test.csv", dtype=str, keep_default_na=False)
    rows = {c.name: list(c.values(test[c.name])) for c in columns}
    typical = {c.name: (c.vocabulary[0] if isinstance(c, CategoricalColumn) else c.fill)
               for c in columns}
    for column in columns:
        if isinstance(column, CategoricalColumn):
            edges = [*column.vocabulary[:3], UNSEEN, ""]
        else:
            edges = [column.min, column.max, 0.0, 1.0, 10 * column.max, math.nan]
        for name in rows:
            rows[name].extend(edges if name == column.name else [typical[name]] * len(edges))
    return {name: [None if isinstance(v, float) and math.isnan(v) else v for v in values]
            for name, values in rows.items()}


def python_predictions(bundle: Bundle, inputs: dict[str, list]) -> np.ndarray:
    """Predictions of the exported SavedModel (not the Keras object) for raw inputs."""
    from mlbridge._tf import quiet_tensorflow
    from mlbridge.model import tensors

    tf, _ = quiet_tensorflow()
    saved = tf.saved_model.load(str(bundle.path / "saved_model"))
    feeds = tensors(check_inputs(inputs, bundle.metadata["inputs"]))
    out = saved.serve(feeds).numpy().astype(np.float64)
    return out.reshape(len(out), -1)


def compare(name: str, expected: np.ndarray, got: np.ndarray, rtol: float,
            atol: float) -> dict:
    """Largest absolute and relative differences over every output column (the value and
    the interval's ends, or each class's probability), and whether all are within
    tolerance."""
    got = np.asarray(got, dtype=np.float64)
    if got.shape != expected.shape or not np.all(np.isfinite(got)):
        return {"runtime": name, "rows": len(expected), "passed": False,
                "max_abs_diff": None, "max_rel_diff": None,
                "error": f"got shape {list(got.shape)} for {list(expected.shape)}, "
                         f"{int(np.sum(~np.isfinite(got)))} not finite"}
    diff = np.abs(got - expected)
    rel = diff / np.maximum(np.abs(expected), 1e-12)
    return {"runtime": name, "rows": len(expected),
            "passed": bool(np.all(diff <= atol + rtol * np.abs(expected))),
            "max_abs_diff": float(diff.max()), "max_rel_diff": float(rel.max())}


_PREDICT_IN_NODE = """
const { outputs } = await import(process.argv[1]);
let text = "";
for await (const chunk of process.stdin) text += chunk;
process.stdout.write(JSON.stringify(outputs(JSON.parse(text))));
"""


def node_predictions(bundle: Bundle, inputs: dict[str, list]) -> np.ndarray:
    """Run web/predict.mjs in Node.js (the machine's `node` or Debian's `nodejs`)."""
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        raise VerifyError("Node.js not found", hint="install it: apt-get install -y nodejs")
    module = (bundle.path / "web" / "predict.mjs").resolve().as_uri()
    done = subprocess.run([node, "--input-type=module", "-e", _PREDICT_IN_NODE, module],
                          input=json.dumps(inputs), capture_output=True, text=True,
                          timeout=120, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise VerifyError(f"predict.mjs failed in Node.js: {last}")
    return np.array(json.loads(done.stdout), dtype=np.float64)


def browser_runs(bundle: Bundle, backends: tuple[str, ...]) -> dict[str, dict]:
    """The in-browser runs to check, named, with the options for `loadModel`."""
    runs = {f"tfjs-{backend}": {"runtime": "tfjs", "backend": backend} for backend in backends}
    if bundle.metadata.get("standalone", {}).get("file"):
        runs["standalone-chromium"] = {"runtime": "standalone"}
    return runs


def browser_predictions(bundle: Bundle, inputs: dict[str, list], runs: dict[str, dict],
                        browser: str | None) -> dict[str, tuple[str, np.ndarray]]:
    """Serve the bundle locally and predict `x` in Chromium, once per named run."""
    from playwright.sync_api import Error as PlaywrightError

    from mlbridge.browser import chromium
    from mlbridge.server import BackgroundServer, create_app

    url = f"/models/{bundle.path.name}/web/"
    results = {}
    with BackgroundServer(create_app(bundle)) as server, chromium(browser) as chrome:
        for name, options in runs.items():
            page = chrome.new_page()
            try:
                page.goto(f"{server.url}/healthz")
                answer = page.evaluate(_PREDICT_IN_PAGE,
                                       {"url": url, "options": options, "columns": inputs})
            except PlaywrightError as exc:
                message = str(exc).splitlines()[0]
                raise VerifyError(f"{name} failed in Chromium: {message}") from exc
            finally:
                page.close()
            results[name] = (answer["backend"], np.array(answer["values"], dtype=np.float64))
    return results


def tolerances(bundle: Bundle, rtol: float, atol: float) -> dict[str, dict]:
    """Tolerance per runtime: quantized TF.js weights get the quantization's tolerance."""
    plain = {"rtol": rtol, "atol": atol, "why": "float32 weights"}
    quantization = bundle.metadata.get("graph", {}).get("quantization", "none")
    if quantization == "none":
        return {"tfjs": plain, "standalone": plain}
    q_rtol, q_atol = QUANTIZED_TOLERANCE[quantization]
    output = bundle.metadata["output"]
    span = output["max"] - output["min"] if "max" in output else 1.0  # probabilities: 0..1
    return {"tfjs": {"rtol": q_rtol, "atol": q_atol * span,
                     "why": f"{quantization}-quantized TF.js weights"},
            "standalone": plain}


def verify(path: str | Path, browser: str | None = None,
           backends: tuple[str, ...] = BACKENDS, rtol: float = RTOL,
           atol: float = ATOL) -> dict:
    """Run every parity check, record the result in metadata.json, and return it."""
    bundle = load(path)
    inputs = parity_inputs(bundle)
    expected = python_predictions(bundle, inputs)
    tolerance = tolerances(bundle, rtol, atol)
    runs = browser_runs(bundle, backends)
    answers = browser_predictions(bundle, inputs, runs, browser)
    sums: dict[str, float] = {}
    if "standalone-chromium" in runs:
        answers["standalone-node"] = ("node", node_predictions(bundle, inputs))
    if bundle.labels is not None:
        for name, (_, values) in answers.items():
            totals = np.asarray(values, dtype=np.float64).sum(axis=1)
            sums[name] = float(np.max(np.abs(totals - 1.0))) if len(totals) else 0.0
    checks = []
    for name, (used, values) in answers.items():
        tol = tolerance[name.split("-")[0]]
        check = compare(name, expected, values, tol["rtol"], tol["atol"])
        check.update(backend=used, tolerance=tol, columns=bundle.head.columns)
        if name in sums:  # probabilities must sum to 1 within float32 rounding
            check["max_sum_error"] = sums[name]
            if sums[name] > 1e-5:
                check.update(passed=False, error=f"probabilities sum to 1 ± {sums[name]:.1e}")
        asked = runs.get(name, {}).get("backend")
        if asked and used != asked:
            check.update(passed=False, error=f"asked for {asked}, TF.js used {used}")
        checks.append(check)
    parity = {"checked": datetime.now(UTC).isoformat(timespec="seconds"),
              "reference": "SavedModel (Python, unquantized)", "inputs": len(expected),
              "passed": all(c["passed"] for c in checks), "checks": checks}
    if "standalone" in bundle.metadata and "file" not in bundle.metadata["standalone"]:
        parity["standalone_skipped"] = bundle.metadata["standalone"]["skipped"]
    bundle.update_metadata(parity=parity)
    return parity
