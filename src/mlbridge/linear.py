"""A linear model fitted exactly: least squares from sufficient statistics, with a ridge
penalty on a text's words chosen by held-out error.

A linear model on a squared loss is convex with a closed-form optimum. Reaching it by
gradient descent costs epochs (seconds) and lands near it, not on it; here the encoded
features X (the graph's own encoding: standardized numbers, one-hots, a text's
multi-hot) and the standardized target y are summed once, chunk by chunk, into XᵀX, Xᵀy
and yᵀy, in float64: memory p² whatever the number of rows, and the optimum by
construction. Sums of chunks add, so the same pass runs over a stream of any length.

A bag of words can have as many columns as there are rows, where plain least squares
fits noise (on cars.csv, 10% worse than scikit-learn's Ridge). So the words' weights,
and only theirs, get a ridge penalty, chosen by the held-out squared error of FOLDS
folds (row i in fold i mod FOLDS; the rows are shuffled by the split), computed from the
folds' own sums with no second pass. Penalty 0 is a candidate. A table without text gets
plain least squares: numbers and categories have a handful of columns, and a penalty on
them only moved the test error by noise (+3% on cars.csv's 80 test rows).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

#: A linear regression is solved in closed form up to this many encoded numbers a row
#: (XᵀX of 8,192² float64 is 512 MB); a wider one (a text of 50,000 words) trains by epochs,
#: and its least-squares baseline is not computed.
CLOSED_FORM_WIDTH = 8192
FOLDS = 5
#: Candidate penalties on the words' weights, as multiples of their columns' mean square
#: times the rows (the mean diagonal of XᵀX over those columns), so the grid means the
#: same at any size.
PENALTIES = (0.0, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)


@dataclass
class Sums:
    """XᵀX, Xᵀy, yᵀy and n of some rows, X with a last column of ones (the intercept)."""

    xtx: np.ndarray
    xty: np.ndarray
    yty: float = 0.0
    n: int = 0

    @classmethod
    def zeros(cls, width: int) -> Sums:
        return cls(np.zeros((width + 1, width + 1)), np.zeros(width + 1))

    def add(self, x: np.ndarray, y: np.ndarray) -> None:
        """Add rows: X's products in blocks, the column of ones by its sums (no copy)."""
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        column_sums = x.sum(axis=0)
        self.xtx[:-1, :-1] += x.T @ x
        self.xtx[:-1, -1] += column_sums
        self.xtx[-1, :-1] += column_sums
        self.xtx[-1, -1] += len(y)
        self.xty[:-1] += x.T @ y
        self.xty[-1] += y.sum()
        self.yty += float(y @ y)
        self.n += len(y)

    def __add__(self, other: Sums) -> Sums:
        return Sums(self.xtx + other.xtx, self.xty + other.xty, self.yty + other.yty,
                    self.n + other.n)

    def __sub__(self, other: Sums) -> Sums:
        return Sums(self.xtx - other.xtx, self.xty - other.xty, self.yty - other.yty,
                    self.n - other.n)


@dataclass
class Fit:
    """The weights (`kernel` for the features, `bias`), the penalty kept (a multiple of
    the words' mean square; 0 without text) and each candidate's held-out mean squared
    error, in the standardized target's units."""

    kernel: np.ndarray
    bias: float
    penalty: float = 0.0
    held_out: dict[float, float] = field(default_factory=dict)


def sums_by_fold(blocks: Iterable[tuple[np.ndarray, np.ndarray]], width: int,
                 folds: int = FOLDS) -> list[Sums]:
    """One pass over `(x, y)` chunks: the sums of each fold (row i in fold i mod `folds`;
    one fold when no penalty is to be chosen)."""
    if folds == 1:
        total = Sums.zeros(width)
        for x, y in blocks:
            total.add(x, y)
        return [total]
    found = [Sums.zeros(width) for _ in range(folds)]
    start = 0
    for x, y in blocks:
        which = np.arange(start, start + len(y)) % folds
        for k, fold in enumerate(found):
            rows = which == k
            if rows.any():
                fold.add(x[rows], y[rows])
        start += len(y)
    return found


def solve(sums: Sums, penalty: np.ndarray | None = None) -> np.ndarray:
    """Weights minimizing |y - Xw|² + Σ penalty·w² (the intercept last, never penalized).

    Without a penalty, the minimum-norm least-squares solution: a one-hot's columns sum
    to the intercept's, so XᵀX is singular and has no plain inverse; every minimizer
    predicts the same."""
    if penalty is None or not penalty.any():
        return np.linalg.pinv(sums.xtx, hermitian=True) @ sums.xty
    return np.linalg.pinv(sums.xtx + np.diag(np.append(penalty, 0.0)),
                          hermitian=True) @ sums.xty


def held_out_error(fold: Sums, weights: np.ndarray) -> float:
    """Σ(y - Xw)² over a fold's rows, from its sums alone."""
    return float(fold.yty - 2 * weights @ fold.xty + weights @ fold.xtx @ weights)


def fit(folds: list[Sums], penalized: np.ndarray) -> Fit:
    """Least squares on every row; with `penalized` columns (a text's words), the ridge
    penalty on them that the folds' held-out error prefers."""
    total = folds[0]
    for fold in folds[1:]:
        total = total + fold
    if not penalized.any():
        weights = solve(total)
        return Fit(weights[:-1], float(weights[-1]))
    scale = float(np.mean(np.diag(total.xtx)[:-1][penalized]))
    held_out = {}
    for factor in PENALTIES:
        penalty = penalized * factor * scale
        errors = [held_out_error(fold, solve(total - fold, penalty)) for fold in folds if fold.n]
        held_out[factor] = sum(errors) / total.n
    best = min(held_out, key=lambda factor: (held_out[factor], factor))
    weights = solve(total, penalized * best * scale)
    return Fit(weights[:-1], float(weights[-1]), best, held_out)
