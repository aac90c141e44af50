"""Does the converted graph compute what the SavedModel computes? Python vs Chromium.

The reference is the SavedModel's `serving_default` signature run by TensorFlow (the
graph before conversion and before any rewrite). The candidate is the TF.js graph model
run by `page/runner.js` in headless Chromium, once per backend, on the same inputs.
Values travel as flat JSON numbers: float32 survives that exactly.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from mlbridge.atomic import write_json
from mlbridge.convert.signature import random_inputs, sample_inputs, tfjs_dtype
from mlbridge.errors import UsageError, VerifyError
from mlbridge.resources import TFJS_FILE, tfjs_dir
from mlbridge.verify import QUANTIZED_TOLERANCE

PAGE_DIR = Path(__file__).resolve().parent / "page"
BACKENDS = ("webgl", "cpu")
_RUN = "async (args) => (await import('/runner/runner.js')).run(args)"


def python_outputs(saved_model: Path, inputs: dict[str, np.ndarray],
                   signature: dict) -> dict[str, np.ndarray]:
    """Run the SavedModel's serving signature in TensorFlow."""
    from mlbridge._tf import quiet_tensorflow

    tf, _ = quiet_tensorflow()
    fn = tf.saved_model.load(str(saved_model)).signatures["serving_default"]
    dtypes = {spec["name"]: spec["dtype"] for spec in signature["inputs"]}
    feed = {name: tf.constant(value, dtype=dtypes[name]) for name, value in inputs.items()}
    return {name: np.asarray(tensor) for name, tensor in fn(**feed).items()}


def _page_inputs(inputs: dict[str, np.ndarray], signature: dict) -> list[dict]:
    specs = {spec["name"]: spec for spec in signature["inputs"]}
    page = []
    for name, value in inputs.items():
        if specs[name].get("unused"):
            continue
        dtype = tfjs_dtype(specs[name]["dtype"])
        flat = value.ravel()
        values = ([v.decode() if isinstance(v, bytes) else str(v) for v in flat]
                  if dtype == "string" else flat.tolist())
        page.append({"name": name, "shape": list(value.shape), "dtype": dtype,
                     "values": values})
    return page


def run_in_browser(web: Path, inputs: list[dict], outputs: list[str],
                   backends: tuple[str, ...], browser: Any) -> dict[str, dict]:
    """{backend: {"outputs": [...]} or {"error": message}} from one page in `browser`."""
    from playwright.sync_api import Error

    from mlbridge.localhttp import serve

    tfjs = tfjs_dir()
    results = {}
    with serve({"/model": web, "/vendor/tfjs": tfjs, "/runner": PAGE_DIR}) as server:
        page = browser.new_page()
        try:
            page.goto(f"{server.url}/runner/index.html")
            for backend in backends:
                results[backend] = page.evaluate(_RUN, {
                    "tfjsUrl": f"/vendor/tfjs/{TFJS_FILE}", "modelUrl": "/model/model.json",
                    "backend": backend, "inputs": inputs, "outputs": outputs})
        except Error as exc:
            raise VerifyError(f"the parity page could not run: {str(exc).splitlines()[0]}",
                              hint="check that Chromium starts: chromium --headless "
                              "--version") from exc
        finally:
            page.close()
    return results


def compare(python: np.ndarray, browser: dict, rtol: float, atol: float) -> dict:
    """Worst absolute and relative difference of one output, and whether it is within tolerance."""
    if list(python.shape) != list(browser["shape"]):
        return {"ok": False, "error": f"shape {browser['shape']} in the browser, "
                f"{list(python.shape)} in Python"}
    if python.dtype == object or python.dtype.kind in "SU":
        same = [str(a.decode() if isinstance(a, bytes) else a) == str(b)
                for a, b in zip(python.ravel(), browser["values"], strict=True)]
        return {"ok": all(same), "mismatches": int(len(same) - sum(same))}
    expected = python.astype(np.float64).ravel()
    got = np.asarray(browser["values"], dtype=np.float64)
    both_nan = np.isnan(expected) & np.isnan(got)
    diff = np.where(both_nan, 0.0, np.abs(got - expected))
    diff = np.where(np.isnan(diff), np.inf, diff)
    scale = np.abs(expected)
    relative = np.where(scale > 0, diff / np.where(scale > 0, scale, 1.0), diff)
    ok = bool(np.all(diff <= atol + rtol * scale))
    return {"ok": ok, "max_abs_diff": float(diff.max(initial=0.0)),
            "max_rel_diff": float(relative.max(initial=0.0)),
            "max_abs_python": float(np.nanmax(scale, initial=0.0))}


def tolerance(quantization: str, python: dict[str, np.ndarray], rtol: float,
              atol: float) -> dict[str, dict]:
    """{output: {rtol, atol, why}}; quantized weights get verify.py's looser rule per output."""
    if quantization not in QUANTIZED_TOLERANCE:
        return {name: {"rtol": rtol, "atol": atol, "why": "float32 weights"} for name in python}
    q_rtol, q_atol = QUANTIZED_TOLERANCE[quantization]
    rules = {}
    for name, values in python.items():
        finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
        span = float(finite.max() - finite.min()) if finite.size else 0.0
        rules[name] = {"rtol": max(rtol, q_rtol), "atol": max(atol, q_atol * span),
                       "why": f"{quantization}-quantized TF.js weights"}
    return rules


def check(out: Path, metadata: dict, sample: str | Path | None, backends: tuple[str, ...],
          browser: Any, rtol: float, atol: float) -> dict:
    """Run both sides and build the `parity` section (without writing it)."""
    signature = metadata["signature"]
    inputs = (sample_inputs(signature, sample) if sample is not None
              else random_inputs(signature, seed=0))
    python = python_outputs(out / "saved_model", inputs, signature)
    names = [spec["name"] for spec in signature["outputs"]]
    runs = run_in_browser(out / "web", _page_inputs(inputs, signature), names, backends, browser)
    rules = tolerance(metadata["graph"]["quantization"], python, rtol, atol)
    results: dict[str, Any] = {}
    for backend, run in runs.items():
        if "error" in run:
            results[backend] = {"ok": False, "error": run["error"], "ran_on": run.get("backend")}
            continue
        per_output = {name: compare(python[name], got, rules[name]["rtol"], rules[name]["atol"])
                      for name, got in zip(names, run["outputs"], strict=True)}
        results[backend] = {"ok": all(o["ok"] for o in per_output.values()),
                            "ran_on": run["backend"], "outputs": per_output}
    return {
        "ok": all(r["ok"] for r in results.values()),
        "checked": datetime.now(UTC).isoformat(timespec="seconds"),
        "inputs": {"from": str(sample) if sample is not None else "random, seed 0",
                   "shapes": {k: list(v.shape) for k, v in inputs.items()}},
        "tolerance": rules, "backends": results,
        "browser": browser.version,
    }


def verify_converted(out: str | Path, sample: str | Path | None = None,
                     backends: tuple[str, ...] = BACKENDS, browser: str | None = None,
                     rtol: float = 1e-4, atol: float = 1e-3, *,
                     chromium: Any = None) -> dict:
    """Compare TF.js (each backend, in Chromium) with TensorFlow; record it in metadata.json.

    Passes when |tfjs - python| <= atol + rtol·|python| for every value of every output
    on every backend. `chromium` reuses a running Playwright browser (tests share one).
    """
    out = Path(out)
    meta_path = out / "metadata.json"
    if not meta_path.is_file():
        raise UsageError(f"{out} is not a converted model (no metadata.json)",
                         hint="run mlbridge convert MODEL --out DIR first")
    metadata = json.loads(meta_path.read_text())
    if metadata.get("kind") != "converted":
        raise UsageError(f"{out} is not a converted model (kind: {metadata.get('kind')})",
                         hint="use mlbridge verify for trained bundles")
    unknown = [b for b in backends if b not in ("webgl", "cpu", "wasm", "webgpu")]
    if unknown or not backends:
        raise UsageError(f"unknown backend(s): {', '.join(unknown) or 'none given'}",
                         hint="use webgl and/or cpu")
    if chromium is not None:
        parity = check(out, metadata, sample, tuple(backends), chromium, rtol, atol)
    else:
        from mlbridge.browser import chromium as launch

        with launch(browser) as started:
            parity = check(out, metadata, sample, tuple(backends), started, rtol, atol)
    for path in (meta_path, out / "web" / "metadata.json"):
        if path.is_file():
            data = json.loads(path.read_text())
            data["parity"] = parity
            write_json(path, data)
    return parity
