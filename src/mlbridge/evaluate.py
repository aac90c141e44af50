"""Score predictions on the test split, beside baselines on the same split.

A metric alone says little: an R² of 0.3 is good or bad only next to what predicting
the mean and a closed-form fit on the same encoded features achieve.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd


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


def classification_metrics(y_true: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """Accuracy, log loss, macro F1, and ROC AUC for two classes.

    `y_true` are class indices; `probabilities` is `[rows, classes]`. Log loss clips
    probabilities at 1e-15 (as scikit-learn does), so one confident mistake is costly but
    finite.
    """
    from sklearn.metrics import f1_score, roc_auc_score

    y_true = np.asarray(y_true, dtype=int)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    classes = probabilities.shape[1]
    predicted = probabilities.argmax(axis=1)
    picked = np.clip(probabilities[np.arange(len(y_true)), y_true], 1e-15, 1.0)
    found = {"accuracy": float(np.mean(predicted == y_true)),
             "log_loss": float(-np.mean(np.log(picked))),
             "macro_f1": float(f1_score(y_true, predicted, labels=list(range(classes)),
                                        average="macro", zero_division=0))}
    if classes == 2 and len(set(y_true.tolist())) == 2:
        found["roc_auc"] = float(roc_auc_score(y_true, probabilities[:, 1]))
    return found


def confusion(y_true: np.ndarray, probabilities: np.ndarray) -> list[list[int]]:
    """Counts of (actual class i, predicted class j), as nested lists for metadata."""
    classes = probabilities.shape[1]
    matrix = np.zeros((classes, classes), dtype=int)
    np.add.at(matrix, (np.asarray(y_true, dtype=int), probabilities.argmax(axis=1)), 1)
    return matrix.tolist()


def reliability(y_true: np.ndarray, probabilities: np.ndarray, bins: int = 10) -> list[dict]:
    """Calibration: per bin of predicted confidence, the mean confidence and the accuracy."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(y_true, dtype=int)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    return [{"confidence": float(confidence[which == b].mean()),
             "accuracy": float(correct[which == b].mean()), "rows": int((which == b).sum())}
            for b in range(bins) if (which == b).any()]


def _design(x: np.ndarray) -> np.ndarray:
    return np.hstack([np.asarray(x, dtype=np.float64), np.ones((len(x), 1))])


def least_squares(train_blocks: Iterable[tuple[np.ndarray, np.ndarray]],
                  test_blocks: Iterable[np.ndarray], clip: tuple[float, float]) -> np.ndarray:
    """Closed-form least squares on the encoded features, clipped like the model.

    This is the optimum the linear model is trying to reach by gradient descent, so the
    two should agree within a couple of percent. Blocks are `(x, y)` chunks of encoded
    rows: the normal equations are accumulated chunk by chunk, so a million rows with a
    one-hot category fit in memory. The minimum-norm solution copes with one-hot
    columns that are collinear with the intercept.
    """
    gram = moment = None
    for x, y in train_blocks:
        block = _design(x)
        gram = block.T @ block if gram is None else gram + block.T @ block
        partial = block.T @ np.asarray(y, dtype=np.float64)
        moment = partial if moment is None else moment + partial
    coef = np.linalg.pinv(gram, hermitian=True) @ moment
    return np.concatenate([np.clip(_design(x) @ coef, *clip) for x in test_blocks])


def errors_by_value(labels: np.ndarray, errors: np.ndarray, limit: int = 30) -> list[dict]:
    """Mean error per category value (the most frequent `limit` values), worst first.

    `errors` are per test row (absolute error, or 1 for a wrong label). A model can be
    good on average and poor for one category; this is where a person sees which.
    """
    frame = pd.DataFrame({"value": labels, "error": np.asarray(errors, dtype=np.float64)})
    groups = frame.groupby("value", sort=False)["error"].agg(["size", "mean"])
    groups = groups.sort_values("size", ascending=False).iloc[:limit]
    return [{"value": str(value), "test_rows": int(row["size"]), "error": float(row["mean"])}
            for value, row in groups.sort_values("mean", ascending=False).iterrows()]
