"""Score predictions on the test split, beside baselines on the same split.

A metric alone says little: an R² of 0.3 is good or bad only next to what predicting
the mean and a closed-form fit on the same encoded features achieve.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd


class RegressionScore:
    """Mean squared error, mean absolute error and R² (1 - SSE / SST), and an interval's
    coverage and width, from sums that batches add to: the whole test split is scored in
    one streamed pass at any size, and one batch gives exactly what arrays would."""

    def __init__(self) -> None:
        self.n = 0
        self.sums = np.zeros(7)  # Σe², Σ|e|, Σy, Σy², inside, Σwidth, rows with an interval
        self.shift: float | None = None  # y is summed about its first value: SST stays exact

    def add(self, y_true: np.ndarray, y_pred: np.ndarray,
            interval: tuple[np.ndarray, np.ndarray] | None = None) -> RegressionScore:
        y = np.asarray(y_true, dtype=np.float64)
        if not len(y):
            return self
        if self.shift is None:
            self.shift = float(y[0])
        errors = y - np.asarray(y_pred, dtype=np.float64)
        about = y - self.shift
        self.sums[:4] += [errors @ errors, np.abs(errors).sum(), about.sum(), about @ about]
        if interval is not None:
            lower, upper = interval
            self.sums[4:] += [np.sum((lower <= y) & (y <= upper)), np.sum(upper - lower), len(y)]
        self.n += len(y)
        return self

    def result(self) -> dict[str, float]:
        sse, sae, about, about2, inside, width, ranged = self.sums
        n = max(self.n, 1)
        total = about2 - about * about / n
        found = {"mse": sse / n, "mae": sae / n,
                 "r2": 1.0 - sse / total if total > 1e-12 * max(about2, 1.0) else 0.0}
        if ranged:
            found.update(interval_coverage=inside / ranged, interval_width=width / ranged)
        return found


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Mean squared error, mean absolute error and R² of one set of predictions."""
    return RegressionScore().add(y_true, y_pred).result()


#: Bins of the positive class's probability that ROC AUC is counted in: a streamed AUC,
#: exact but for pairs whose probabilities fall within 1e-6 of each other.
AUC_BINS = 2**20


class ClassificationScore:
    """Accuracy, log loss, macro F1 (from the confusion matrix), ROC AUC for two classes
    (from histograms of the positive probability), and the reliability table, from
    counts that batches add to.

    Log loss clips probabilities at 1e-15 (as scikit-learn does), so one confident
    mistake is costly but finite.
    """

    RELIABILITY_BINS = 10

    def __init__(self, classes: int) -> None:
        self.classes = classes
        self.log_loss = 0.0
        self.matrix = np.zeros((classes, classes), dtype=np.int64)
        self.scores = np.zeros((2, AUC_BINS), dtype=np.int64) if classes == 2 else None
        self.bins = np.zeros((self.RELIABILITY_BINS, 3))  # rows, Σconfidence, Σcorrect

    @property
    def n(self) -> int:
        return int(self.matrix.sum())

    def add(self, y_true: np.ndarray, probabilities: np.ndarray) -> ClassificationScore:
        """`y_true` class indices; `probabilities` `[rows, classes]`."""
        y = np.asarray(y_true, dtype=int)
        probabilities = np.asarray(probabilities, dtype=np.float64)
        predicted = probabilities.argmax(axis=1)
        picked = np.clip(probabilities[np.arange(len(y)), y], 1e-15, 1.0)
        self.log_loss += float(-np.log(picked).sum())
        np.add.at(self.matrix, (y, predicted), 1)
        if self.scores is not None:
            where = np.minimum((probabilities[:, 1] * AUC_BINS).astype(np.int64), AUC_BINS - 1)
            for label in (0, 1):
                self.scores[label] += np.bincount(where[y == label], minlength=AUC_BINS)
        confidence = probabilities.max(axis=1)
        edges = np.linspace(0.0, 1.0, self.RELIABILITY_BINS + 1)
        which = np.clip(np.digitize(confidence, edges[1:-1]), 0, self.RELIABILITY_BINS - 1)
        for column, values in enumerate((np.ones(len(y)), confidence, predicted == y)):
            self.bins[:, column] += np.bincount(which, weights=values,
                                                minlength=self.RELIABILITY_BINS)
        return self

    def result(self) -> dict[str, float]:
        n = max(self.n, 1)
        matrix = self.matrix.astype(np.float64)
        hits = np.diag(matrix)
        actual, predicted = matrix.sum(axis=1), matrix.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.where(actual + predicted > 0, 2 * hits / (actual + predicted), 0.0)
        found = {"accuracy": float(hits.sum() / n), "log_loss": self.log_loss / n,
                 "macro_f1": float(f1.mean())}
        if self.scores is not None and (actual > 0).all():
            negatives, positives = self.scores
            below = np.cumsum(negatives) - negatives  # negatives with a lower score
            pairs = positives @ (below + 0.5 * negatives)
            found["roc_auc"] = float(pairs / (positives.sum() * negatives.sum()))
        return found

    def confusion(self) -> list[list[int]]:
        """Counts of (actual class i, predicted class j), as nested lists for metadata."""
        return self.matrix.tolist()

    def reliability(self) -> list[dict]:
        """Calibration: per bin of predicted confidence, the mean confidence and accuracy."""
        return [{"confidence": float(total / rows), "accuracy": float(correct / rows),
                 "rows": int(rows)} for rows, total, correct in self.bins if rows]


def classification_metrics(y_true: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """Accuracy, log loss, macro F1, and ROC AUC for two classes, of one set of predictions."""
    probabilities = np.asarray(probabilities)
    return ClassificationScore(probabilities.shape[1]).add(y_true, probabilities).result()


def design(x: np.ndarray) -> np.ndarray:
    """Encoded rows with a last column of ones (the intercept)."""
    return np.hstack([np.asarray(x, dtype=np.float64), np.ones((len(x), 1))])


def least_squares_fit(train_blocks: Iterable[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Closed-form least squares on encoded features: the coefficients, intercept last.

    This is the optimum a linear model reaches, so the two should agree. Blocks are
    `(x, y)` chunks of encoded rows: the normal equations are accumulated chunk by
    chunk, so a million rows with a one-hot category fit in memory. The minimum-norm
    solution copes with one-hot columns that are collinear with the intercept.
    """
    gram = moment = None
    for x, y in train_blocks:
        block = design(x)
        gram = block.T @ block if gram is None else gram + block.T @ block
        partial = block.T @ np.asarray(y, dtype=np.float64)
        moment = partial if moment is None else moment + partial
    return np.linalg.pinv(gram, hermitian=True) @ moment


def least_squares(train_blocks: Iterable[tuple[np.ndarray, np.ndarray]],
                  test_blocks: Iterable[np.ndarray], clip: tuple[float, float]) -> np.ndarray:
    """Least squares fitted on `train_blocks`, predicting `test_blocks`, clipped."""
    coef = least_squares_fit(train_blocks)
    return np.concatenate([np.clip(design(x) @ coef, *clip) for x in test_blocks])


class ErrorsByValue:
    """Per category value: test rows and their summed error, added to batch by batch."""

    def __init__(self) -> None:
        self.totals: pd.DataFrame | None = None

    def add(self, labels: np.ndarray, errors: np.ndarray) -> None:
        frame = pd.DataFrame({"value": labels, "error": np.asarray(errors, dtype=np.float64)})
        batch = frame.groupby("value", sort=False)["error"].agg(["size", "sum"])
        self.totals = batch if self.totals is None else self.totals.add(batch, fill_value=0)

    def result(self, limit: int = 30) -> list[dict]:
        """Mean error per value (the most frequent `limit` values), worst first.

        `errors` are per test row (absolute error, or 1 for a wrong label). A model can
        be good on average and poor for one category; this is where a person sees which.
        """
        if self.totals is None:
            return []
        groups = self.totals.assign(mean=self.totals["sum"] / self.totals["size"])
        groups = groups.sort_values("size", ascending=False, kind="stable").iloc[:limit]
        return [{"value": str(value), "test_rows": int(row["size"]), "error": float(row["mean"])}
                for value, row in groups.sort_values("mean", ascending=False,
                                                     kind="stable").iterrows()]
