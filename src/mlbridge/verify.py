"""Check that the browser gives Python's answers: TF.js in headless Chromium vs SavedModel.

Inputs are the bundle's test rows plus edge values (the smallest and largest seen, 0 and
1, ten times the largest). Python's reference is the SavedModel, the very graph that was
converted, so any difference is the converter's or the browser's doing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from mlbridge.bundle import Bundle, load
from mlbridge.errors import VerifyError

BACKENDS = ("webgl", "cpu")
RTOL, ATOL = 1e-4, 1e-3

_PREDICT_IN_PAGE = """
async ({ url, backend, columns }) => {
  const { loadModel } = await import("/static/mlbridge.js");
  const model = await loadModel(url, { backend });
  const values = await model.predict(columns);
  model.dispose();
  return { backend: model.backend, values };
}
"""


def parity_inputs(bundle: Bundle) -> np.ndarray:
    """Test rows plus, per feature, edge values with the other features at their median."""
    test = pd.read_csv(bundle.path / "test.csv")
    x = test[bundle.features].to_numpy(dtype=np.float64)
    rows = [x]
    medians = np.median(x, axis=0) if len(x) else np.zeros(len(bundle.features))
    for j, spec in enumerate(bundle.metadata["inputs"]):
        edges = np.tile(medians, (5, 1))
        edges[:, j] = [spec["min"], spec["max"], 0.0, 1.0, 10 * spec["max"]]
        rows.append(edges)
    return np.vstack(rows)


def python_predictions(bundle: Bundle, x: np.ndarray) -> np.ndarray:
    """Predictions of the exported SavedModel (not the Keras object) for raw inputs."""
    from mlbridge._tf import quiet_tensorflow

    tf, _ = quiet_tensorflow()
    saved = tf.saved_model.load(str(bundle.path / "saved_model"))
    return saved.serve(tf.constant(x, tf.float32)).numpy().reshape(-1).astype(np.float64)


def compare(name: str, expected: np.ndarray, got: np.ndarray, rtol: float,
            atol: float) -> dict:
    """Largest absolute and relative differences, and whether all are within tolerance."""
    got = np.asarray(got, dtype=np.float64)
    if got.shape != expected.shape or not np.all(np.isfinite(got)):
        return {"runtime": name, "rows": len(expected), "passed": False,
                "max_abs_diff": None, "max_rel_diff": None,
                "error": f"got {got.shape[0]} values, {int(np.sum(~np.isfinite(got)))} not finite"}
    diff = np.abs(got - expected)
    rel = diff / np.maximum(np.abs(expected), 1e-12)
    return {"runtime": name, "rows": len(expected),
            "passed": bool(np.all(diff <= atol + rtol * np.abs(expected))),
            "max_abs_diff": float(diff.max()), "max_rel_diff": float(rel.max())}


def browser_predictions(bundle: Bundle, x: np.ndarray, backends: tuple[str, ...],
                        browser: str | None) -> dict[str, tuple[str, np.ndarray]]:
    """Serve the bundle locally and predict `x` with TF.js in Chromium on each backend."""
    from playwright.sync_api import Error as PlaywrightError

    from mlbridge.browser import chromium
    from mlbridge.server import BackgroundServer, create_app

    columns = {name: x[:, j].tolist() for j, name in enumerate(bundle.features)}
    url = f"/models/{bundle.path.name}/web/"
    results = {}
    with BackgroundServer(create_app(bundle)) as server, chromium(browser) as chrome:
        for backend in backends:
            page = chrome.new_page()
            try:
                page.goto(f"{server.url}/healthz")
                answer = page.evaluate(_PREDICT_IN_PAGE,
                                       {"url": url, "backend": backend, "columns": columns})
            except PlaywrightError as exc:
                message = str(exc).splitlines()[0]
                raise VerifyError(f"TF.js failed in Chromium ({backend}): {message}") from exc
            finally:
                page.close()
            results[backend] = (answer["backend"], np.array(answer["values"], dtype=np.float64))
    return results


def verify(path: str | Path, browser: str | None = None,
           backends: tuple[str, ...] = BACKENDS, rtol: float = RTOL,
           atol: float = ATOL) -> dict:
    """Run every parity check, record the result in metadata.json, and return it."""
    bundle = load(path)
    x = parity_inputs(bundle)
    expected = python_predictions(bundle, x)
    checks = []
    for backend, (used, values) in browser_predictions(bundle, x, backends, browser).items():
        check = compare(f"tfjs-{backend}", expected, values, rtol, atol)
        check["backend"] = used
        if used != backend:
            check.update(passed=False, error=f"asked for {backend}, TF.js used {used}")
        checks.append(check)
    parity = {"checked": datetime.now(UTC).isoformat(timespec="seconds"),
              "reference": "SavedModel (Python)", "tolerance": {"rtol": rtol, "atol": atol},
              "passed": all(c["passed"] for c in checks), "checks": checks}
    bundle.update_metadata(parity=parity)
    return parity
