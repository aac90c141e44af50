"""Does every runtime compute what the SavedModel computes? Python vs Chromium, per output.

The reference is the SavedModel's `serving_default` signature run by TensorFlow (the
graph before conversion and before any rewrite). The candidates are the runtimes of
`runtimes.py` the converted bundle has (TF.js on each backend, LiteRT.js), each run in
headless Chromium through `mlbridge.js`'s `run(feeds)` on the same inputs. Values travel
as flat JSON numbers: float32 survives that exactly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from mlbridge.atomic import write_json
from mlbridge.convert.signature import random_inputs, sample_inputs, tfjs_dtype
from mlbridge.convert.text import reference_inputs, reference_signature
from mlbridge.errors import UsageError
from mlbridge.runtimes import StandaloneRuntime, page_server, ranking, timing
from mlbridge.verify import QUANTIZED_TOLERANCE, passed, select


def python_outputs(saved_model: Path, inputs: dict[str, np.ndarray],
                   signature: dict) -> dict[str, np.ndarray]:
    """Run the SavedModel's serving signature in TensorFlow."""
    from mlbridge._tf import quiet_tensorflow

    tf, _ = quiet_tensorflow()
    fn = tf.saved_model.load(str(saved_model)).signatures["serving_default"]
    dtypes = {spec["name"]: spec["dtype"] for spec in signature["inputs"]}
    feed = {name: tf.constant(value, dtype=dtypes[name]) for name, value in inputs.items()}
    return {name: np.asarray(tensor) for name, tensor in fn(**feed).items()}


def page_feeds(inputs: dict[str, np.ndarray], signature: dict, rows: slice = slice(None)
               ) -> dict[str, dict]:
    """`run(feeds)`'s argument: {input: {values, shape, dtype}}, flat, for the page."""
    specs = {spec["name"]: spec for spec in signature["inputs"]}
    feeds = {}
    for name, value in inputs.items():
        if specs[name].get("unused"):
            continue
        value = value[rows]
        dtype = tfjs_dtype(specs[name]["dtype"])
        flat = value.ravel()
        values = ([v.decode() if isinstance(v, bytes) else str(v) for v in flat]
                  if dtype == "string" else flat.tolist())
        feeds[name] = {"values": values, "shape": list(value.shape), "dtype": dtype}
    return feeds


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


def _check(name: str, report: dict, python: dict[str, np.ndarray], names: list[str],
           rules: dict[str, dict]) -> dict:
    check: dict[str, Any] = {"runtime": name, "backend": report.get("backend"),
                             **timing(report)}
    if "error" in report:
        return {**check, "status": "unavailable" if report.get("unavailable") else "unsupported",
                "error": report["error"]}
    outputs = {out: compare(python[out], got, rules[out]["rtol"], rules[out]["atol"])
               for out, got in zip(names, report["outputs"], strict=True)}
    diffs = [o.get("max_abs_diff") for o in outputs.values() if o.get("max_abs_diff") is not None]
    rels = [o.get("max_rel_diff") for o in outputs.values() if o.get("max_rel_diff") is not None]
    failed = [f"{out}: {o['error']}" for out, o in outputs.items() if o.get("error")]
    return {**check, "status": "passed" if all(o["ok"] for o in outputs.values()) else "failed",
            "outputs": outputs, "max_abs_diff": max(diffs, default=None),
            "max_rel_diff": max(rels, default=None),
            **({"error": "; ".join(failed)} if failed else {})}


def check(out: Path, metadata: dict, sample: str | Path | None, runtimes: Sequence[str] | None,
          browser: Any, rtol: float, atol: float) -> tuple[dict, dict]:
    """Run Python and every runtime; the `parity` and `runtimes` sections (not written)."""
    signature = reference_signature(metadata)  # strings in, when text layers are outside
    inputs = (sample_inputs(signature, sample) if sample is not None
              else reference_inputs(metadata, seed=0) if metadata.get("preprocess")
              else random_inputs(signature, seed=0))
    python = python_outputs(out / "saved_model", inputs, signature)
    names = [spec["name"] for spec in signature["outputs"]]
    rules = tolerance(metadata["graph"]["quantization"], python, rtol, atol)
    feeds, one = page_feeds(inputs, signature), page_feeds(inputs, signature, slice(0, 1))
    checks, engine = [], ""
    with page_server(out / "web") as server:
        for runtime in select(runtimes):
            if isinstance(runtime, StandaloneRuntime):
                continue  # predict.mjs is generated from mlbridge's own models only
            reason = runtime.missing(metadata)
            if reason is not None:
                checks.append({"runtime": runtime.name, "status": "unsupported",
                               "absent": True, "error": reason})
                continue
            report = runtime.run(browser, server, "/model/", feeds, one, table=False)
            engine = report.get("engine", engine)
            checks.append(_check(runtime.name, report, python, names, rules))
    checked = datetime.now(UTC).isoformat(timespec="seconds")
    parity = {
        "passed": passed(checks), "checked": checked, "reference": "SavedModel (Python)",
        "inputs": int(next(iter(inputs.values())).shape[0]) if inputs else 0,
        "from": str(sample) if sample is not None else "random, seed 0",
        "shapes": {k: list(v.shape) for k, v in inputs.items()},
        "tolerance": rules, "checks": checks, "browser": browser.version,
    }
    sections = ranking(checks, engine, f"Chromium {browser.version} (headless)", checked)
    parity["ranking"] = sections["ranking"]
    return parity, sections


def verify_converted(out: str | Path, sample: str | Path | None = None,
                     runtimes: Sequence[str] | None = None, browser: str | None = None,
                     rtol: float = 1e-4, atol: float = 1e-3, *, chromium: Any = None) -> dict:
    """Compare every runtime (in Chromium) with TensorFlow; record it in metadata.json.

    A runtime passes when |runtime - python| <= atol + rtol·|python| for every value of
    every output. `chromium` reuses a running Playwright browser (tests share one).
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
    if chromium is not None:
        parity, ranked = check(out, metadata, sample, runtimes, chromium, rtol, atol)
    else:
        from mlbridge.browser import chromium as launch

        with launch(browser) as started:
            parity, ranked = check(out, metadata, sample, runtimes, started, rtol, atol)
    for path in (meta_path, out / "web" / "metadata.json"):
        if path.is_file():
            data = json.loads(path.read_text())
            data.update(parity=parity, runtimes=ranked)
            write_json(path, data)
    return parity
