"""Check that every runtime gives Python's answers for a trained bundle, and rank them.

Runs each runtime of `runtimes.py` the bundle has: TF.js in headless Chromium (cpu,
wasm, webgl, webgpu), LiteRT.js (wasm, webgpu), predict.mjs in Chromium and in Node.js.
Inputs are the bundle's test sample plus edge rows for every feature (extreme numbers,
unseen categories, missing values). Python's reference is the unquantized SavedModel,
the very graph that was converted, so any difference is the converter's, the
quantization's or the runtime's doing. Each runtime's first prediction and time per
prediction are measured too, for `runtime: "auto"` (see `runtimes.ranking`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlbridge.bundle import Bundle, load
from mlbridge.errors import UsageError
from mlbridge.kinds import CategoricalColumn, TextColumn
from mlbridge.runtimes import BY_NAME, RUNTIMES, NodeRuntime, Runtime, page_server, ranking, timing

RTOL, ATOL = 1e-4, 1e-3
#: Tolerances for a quantized TF.js graph, measured on the bundled data with margin
#: (see the README): relative, and absolute as a fraction of the output's range.
QUANTIZED_TOLERANCE = {"float16": (2e-3, 2e-3), "uint8": (2e-2, 2e-2)}
#: A category value no training row had: it must take the out-of-vocabulary slot.
UNSEEN = "(a value never seen in training)"


def parity_inputs(bundle: Bundle) -> dict[str, list]:
    """Raw inputs by feature: the test sample, then edge rows for every feature.

    Edge rows hold the other features at a typical value (median, most frequent) and
    vary one: for a number its smallest and largest seen, 0, 1, ten times the largest,
    and missing; for a category its most frequent values, an unseen value, and missing;
    for text its frequent words together, in capitals with punctuation, unseen words,
    and missing.
    Missing is None for a number and "" for a category, as the clients send them.
    """
    columns = bundle.columns
    test = pd.read_csv(bundle.path / "test.csv", dtype=str, keep_default_na=False)
    rows = {c.name: list(c.values(test[c.name])) for c in columns}
    typical = {c.name: (c.fill if c.kind == "numeric" else c.vocabulary[0]) for c in columns}
    for column in columns:
        if isinstance(column, TextColumn):  # several words, case and punctuation, unseen
            first = column.vocabulary[:3]
            edges = [" ".join(first), f"{first[0].upper()}, {first[-1]}!", UNSEEN, ""]
        elif isinstance(column, CategoricalColumn):
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
    from mlbridge.serving import tensors

    tf, _ = quiet_tensorflow()
    saved = tf.saved_model.load(str(bundle.path / "saved_model"))
    feeds = tensors(bundle.columns, bundle.check(inputs))
    out = saved.serve(feeds).numpy().astype(np.float64)
    return out.reshape(len(out), -1)


def compare(expected: np.ndarray, got: Any, rtol: float, atol: float) -> dict:
    """Largest absolute and relative differences over every output column (the value and
    the interval's ends, or each class's probability), and whether all are within
    tolerance."""
    got = np.asarray(got, dtype=np.float64)
    if got.shape != expected.shape or not np.all(np.isfinite(got)):
        return {"status": "failed", "max_abs_diff": None, "max_rel_diff": None,
                "error": f"got shape {list(got.shape)} for {list(expected.shape)}, "
                         f"{int(np.sum(~np.isfinite(got)))} not finite"}
    diff = np.abs(got - expected)
    rel = diff / np.maximum(np.abs(expected), 1e-12)
    ok = bool(np.all(diff <= atol + rtol * np.abs(expected)))
    return {"status": "passed" if ok else "failed", "max_abs_diff": float(diff.max()),
            "max_rel_diff": float(rel.max())}


def tolerances(bundle: Bundle, rtol: float, atol: float) -> dict[str, dict]:
    """Tolerance per runtime family: quantized TF.js weights get the quantization's."""
    plain = {"rtol": rtol, "atol": atol, "why": "float32 weights"}
    quantization = bundle.metadata.get("graph", {}).get("quantization", "none")
    if quantization == "none":
        return {"tfjs": plain, "other": plain}
    q_rtol, q_atol = QUANTIZED_TOLERANCE[quantization]
    output = bundle.metadata["output"]
    span = output["max"] - output["min"] if "max" in output else 1.0  # probabilities: 0..1
    return {"tfjs": {"rtol": q_rtol, "atol": q_atol * span,
                     "why": f"{quantization}-quantized TF.js weights"},
            "other": plain}


def check_runtime(runtime: Runtime, report: dict, expected: np.ndarray, tol: dict,
                  labels: bool) -> dict:
    """One row of the parity table from what a runtime reported."""
    check: dict[str, Any] = {"runtime": runtime.name, "rows": len(expected),
                             "backend": report.get("backend"), "tolerance": tol,
                             **timing(report)}
    if "error" in report:
        status = "unavailable" if report.get("unavailable") else "unsupported"
        return {**check, "status": status, "error": report["error"],
                "max_abs_diff": None, "max_rel_diff": None}
    check.update(compare(expected, report["outputs"], tol["rtol"], tol["atol"]))
    if labels and check["status"] == "passed":  # probabilities sum to 1 within float32
        total = np.asarray(report["outputs"], dtype=np.float64).sum(axis=1)
        check["max_sum_error"] = float(np.max(np.abs(total - 1.0))) if len(total) else 0.0
        if check["max_sum_error"] > 1e-5:
            check.update(status="failed",
                         error=f"probabilities sum to 1 ± {check['max_sum_error']:.1e}")
    return check


def passed(checks: list[dict]) -> bool:
    """No runtime disagrees, and every reference runtime the bundle has ran and agreed."""
    return all(c["status"] != "failed" and (c["status"] == "passed"
                                            or not BY_NAME[c["runtime"]].reference
                                            or c.get("absent")) for c in checks)


def select(names: Sequence[str] | None) -> tuple[Runtime, ...]:
    """The runtimes to check: all, or those named (an unknown name is an error)."""
    if not names:
        return RUNTIMES
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise UsageError(f"unknown runtime(s): {', '.join(unknown)}",
                         hint=f"use one or more of: {', '.join(BY_NAME)}")
    return tuple(r for r in RUNTIMES if r.name in names)


def verify(path: str | Path, browser: str | None = None,
           runtimes: Sequence[str] | None = None, rtol: float = RTOL,
           atol: float = ATOL, *, chromium: Any = None) -> dict:
    """Run every runtime (or those named), record parity and the ranking in
    metadata.json, and return the parity section. `chromium` reuses a running
    Playwright browser (one process can drive only one)."""
    from mlbridge.browser import chromium as launch

    bundle = load(path)
    chosen = select(runtimes)
    inputs = parity_inputs(bundle)
    one = {name: values[:1] for name, values in inputs.items()}
    expected = python_predictions(bundle, inputs)
    tolerance = tolerances(bundle, rtol, atol)
    labels = bundle.labels is not None
    checks, engine, version = [], "", ""
    with page_server(bundle.path / "web") as server, (
            nullcontext(chromium) if chromium is not None else launch(browser)) as chrome:
        version = chrome.version
        for runtime in chosen:
            tol = tolerance["tfjs" if runtime.name.startswith("tfjs") else "other"]
            reason = runtime.missing(bundle.metadata)
            if reason is not None:
                checks.append({"runtime": runtime.name, "status": "unsupported", "absent": True,
                               "error": reason, "tolerance": tol, "max_abs_diff": None,
                               "max_rel_diff": None})
                continue
            if isinstance(runtime, NodeRuntime):
                report = {**runtime.run_module(bundle.path / "web" / "predict.mjs", inputs),
                          "backend": "node"}
            else:
                report = runtime.run(chrome, server, "/model/", inputs, one, table=True)
                engine = report.get("engine", engine)
            checks.append(check_runtime(runtime, report, expected, tol, labels))
    for check in checks:
        check["columns"] = bundle.head.columns
    checked = datetime.now(UTC).isoformat(timespec="seconds")
    parity = {"checked": checked, "reference": "SavedModel (Python, unquantized)",
              "inputs": len(expected), "passed": passed(checks), "checks": checks}
    if "standalone" in bundle.metadata and "file" not in bundle.metadata["standalone"]:
        parity["standalone_skipped"] = bundle.metadata["standalone"]["skipped"]
    runtimes = ranking(checks, engine, f"Chromium {version} (headless)", checked)
    parity["ranking"] = runtimes["ranking"]
    bundle.update_metadata(parity=parity, runtimes=runtimes)
    return parity
