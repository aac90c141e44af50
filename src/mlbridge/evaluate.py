"""Score predictions on the test split, beside two baselines on the same split.

A metric alone says little: an R² of 0.3 is good or bad only next to what predicting
the mean and a closed-form line on the same features achieve.
"""

from __future__ import annotations

import numpy as np

from mlbridge.features import FeatureSpec, transform_values


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Mean squared error, mean absolute error and R² (1 - SSE / SST)."""
    y_true = np.asarray(y_true, dtype=np.float64)
    errors = y_true - np.asarray(y_pred, dtype=np.float64)
    total = float(np.sum((y_true - y_true.mean()) ** 2))
    sse = float(np.sum(errors**2))
    return {
        "mse": sse / len(y_true),
        "mae": float(np.mean(np.abs(errors))),
        "r2": 1.0 - sse / total if total > 0 else 0.0,
    }


def least_squares(specs: list[FeatureSpec], x_train: np.ndarray, y_train: np.ndarray,
                  x_test: np.ndarray, clip: tuple[float, float]) -> np.ndarray:
    """Closed-form least squares on the transformed features, clipped like the model.

    This is the optimum the linear model is trying to reach by gradient descent, so the
    two should agree within a couple of percent.
    """
    def design(x: np.ndarray) -> np.ndarray:
        t = transform_values(specs, x)
        return np.hstack([t, np.ones((len(t), 1))])

    coef, *_ = np.linalg.lstsq(design(x_train), y_train, rcond=None)
    return np.clip(design(x_test) @ coef, *clip)


def evaluate(specs: list[FeatureSpec], x_train: np.ndarray, y_train: np.ndarray,
             x_test: np.ndarray, y_test: np.ndarray, y_pred: np.ndarray,
             clip: tuple[float, float]) -> dict[str, dict]:
    """Return `{"test": metrics, "baselines": {"mean": ..., "least_squares": ...}}`."""
    mean_pred = np.full(len(y_test), float(np.mean(y_train)))
    return {
        "test": regression_metrics(y_test, y_pred),
        "baselines": {
            "mean": regression_metrics(y_test, mean_pred),
            "least_squares": regression_metrics(
                y_test, least_squares(specs, x_train, y_train, x_test, clip)),
        },
    }
