"""Heads: what the model outputs, one small class per kind of answer.

A head knows its target (what it learns from the training split), its output layers
(training and serving), its loss, its metrics and baselines, how its predictions are
written to a table, and how it describes itself in `metadata.json` (`output`). Every
serving graph has one output, `[batch, k]`: for regression the value (then the
interval's lower and upper ends, when there is one), so `[0][0]` is always the value;
for classification the probability of each label, in `labels` order.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from mlbridge.evaluate import ClassificationScore, RegressionScore, least_squares_fit

if TYPE_CHECKING:
    from mlbridge.features import EncodedSplits

#: A baseline fitted on the training rows: encoded rows in, the head's outputs out.
Baseline = Callable[[np.ndarray], np.ndarray]

#: Default coverage of the regression interval.
DEFAULT_INTERVAL = 0.8
#: More classes than this looks like an id column, not a label.
MAX_CLASSES = 50
#: The logistic-regression baseline fits on at most this many rows (lbfgs on a million
#: one-hot rows would take longer than training the model).
BASELINE_ROWS = 200_000


@dataclass
class Head:
    """What every head shares: its target column's name, and how it is (de)serialized."""

    task: ClassVar[str]
    name: str

    def to_json(self) -> dict:
        return {"task": self.task, **asdict(self)}

    @staticmethod
    def from_json(meta: dict) -> Head:
        kind = {RegressionHead.task: RegressionHead,
                ClassificationHead.task: ClassificationHead}[meta.get("task", "regression")]
        return kind(**{f.name: meta[f.name] for f in fields(kind) if f.name in meta})


@dataclass
class RegressionHead(Head):
    """A number in target units, clipped to the target's range, with a conformal interval.

    The model learns a standardized target (mean 0, std 1), which lets Adam converge in
    a handful of epochs where raw 0-100 targets need hundreds; the serving graph adds
    the inverse scaling and the clip, then `lower`/`upper` at value ∓ `half_width`
    (clipped too). `half_width` is split conformal: the ⌈(n+1)·coverage⌉-th smallest
    absolute residual of n calibration rows that training never saw, which covers a new
    row with probability at least `coverage`.
    """

    task: ClassVar[str] = "regression"
    loss: ClassVar[str] = "mean_squared_error"
    min: float = 0.0
    max: float = 0.0
    declared_range: list[float] | None = None
    mean: float = 0.0
    std: float = 1.0
    interval: float = DEFAULT_INTERVAL
    half_width: float | None = None
    calibration_rows: int = 0

    @classmethod
    def fit(cls, name: str, stats: dict, declared_range: tuple[float, float] | None = None,
            interval: float = DEFAULT_INTERVAL) -> RegressionHead:
        """From the target's statistics over every training row (`Moments.result`)."""
        low, high = declared_range or (stats["min"], stats["max"])
        return cls(name, float(low), float(high),
                   list(declared_range) if declared_range else None,
                   float(stats["mean"]), float(stats["std"]) or 1.0, interval)

    @property
    def columns(self) -> list[str]:
        """What the serving output's columns are."""
        return ["value", "lower", "upper"] if self.half_width is not None else ["value"]

    def training_target(self, y: np.ndarray) -> np.ndarray:
        return ((np.asarray(y, dtype=np.float64) - self.mean) / self.std).astype(np.float32)

    def training_output(self, h: Any) -> Any:
        from mlbridge.layers import keras

        return keras.layers.Dense(1, name="standardized_output")(h)

    def serving_output(self, training_output: Any) -> Any:
        from mlbridge.layers import Clip, Interval, keras

        in_units = keras.layers.Rescaling(scale=self.std, offset=self.mean,
                                          name="to_target_units")(training_output)
        value = Clip(self.min, self.max, name="clip")(in_units)
        if self.half_width is None:
            return value
        return Interval(self.half_width, self.min, self.max, name="interval")(value)

    def calibrate(self, y: np.ndarray, predicted: np.ndarray) -> None:
        """Set `half_width` from held-out rows (split conformal, finite-sample corrected)."""
        residuals = np.sort(np.abs(np.asarray(y, np.float64) - np.asarray(predicted)))
        n = len(residuals)
        rank = math.ceil((n + 1) * self.interval)
        self.half_width = float(residuals[rank - 1]) if rank <= n else float(self.max - self.min)
        self.calibration_rows = n

    @staticmethod
    def new_score() -> RegressionScore:
        return RegressionScore()

    def add_score(self, score: RegressionScore, y_true: np.ndarray, outputs: np.ndarray
                  ) -> None:
        """Add a batch: the value's errors, and the interval's when the outputs have one."""
        y = np.asarray(y_true, dtype=np.float64)
        score.add(y, outputs[:, 0], (outputs[:, 1], outputs[:, 2])
                  if outputs.shape[1] == 3 else None)

    #: What `row_errors` measures, as the report names it.
    error_name: ClassVar[str] = "MAE"

    def row_errors(self, y_true: np.ndarray, outputs: np.ndarray) -> np.ndarray:
        return np.abs(np.asarray(y_true, np.float64) - outputs[:, 0])

    def baselines(self, encoded: EncodedSplits) -> dict[str, Baseline]:
        """Predict-the-mean, and closed-form least squares on the same encoded features,
        fitted on the training rows (`encoded`'s train part) and clipped like the model."""
        from mlbridge.evaluate import design
        from mlbridge.linear import CLOSED_FORM_WIDTH

        mean = float(np.mean(encoded.y_train))
        found = {"mean": lambda x: np.full((len(x), 1), mean)}
        if sum(c.width for c in encoded.columns) <= CLOSED_FORM_WIDTH:  # else XᵀX is too big
            coef = least_squares_fit(encoded.train_blocks())
            found["least_squares"] = lambda x: np.clip(design(x) @ coef, self.min,
                                                       self.max).reshape(-1, 1)
        return found

    def table_columns(self, outputs: np.ndarray) -> dict[str, np.ndarray]:
        """The columns `predict --data` adds."""
        found = {f"predicted_{self.name}": outputs[:, 0]}
        if self.half_width is not None:
            found.update({f"{self.name}_lower": outputs[:, 1],
                          f"{self.name}_upper": outputs[:, 2]})
        return found


@dataclass
class ClassificationHead(Head):
    """Probabilities of each label: a sigmoid for two, a softmax for more.

    Labels are in a fixed order (sorted; numerically when they are all numbers); the
    graph's output column j is the probability of `labels[j]`. Classes are not
    re-weighted: the probabilities stay calibrated, which log loss rewards and a page
    showing "70% rain" needs; macro F1 beside accuracy shows how the rare classes fare.
    """

    task: ClassVar[str] = "classification"
    labels: list[str] = field(default_factory=list)
    train_counts: list[int] = field(default_factory=list)

    @classmethod
    def fit(cls, name: str, stats: dict, labels: list[str]) -> ClassificationHead:
        """From the count of each label over every training row."""
        return cls(name, list(labels), [int(n) for n in stats["counts"]])

    @property
    def binary(self) -> bool:
        return len(self.labels) == 2

    @property
    def loss(self) -> Any:
        from mlbridge.layers import keras

        if self.binary:
            return "binary_crossentropy"
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @property
    def columns(self) -> list[str]:
        return list(self.labels)

    def training_target(self, y: np.ndarray) -> np.ndarray:
        index = {label: i for i, label in enumerate(self.labels)}
        return np.array([index[v] for v in y], dtype=np.float32 if self.binary else np.int32)

    def training_output(self, h: Any) -> Any:
        from mlbridge.layers import keras

        if self.binary:
            return keras.layers.Dense(1, activation="sigmoid", name="probability")(h)
        return keras.layers.Dense(len(self.labels), name="logits")(h)

    def serving_output(self, training_output: Any) -> Any:
        from mlbridge.layers import TwoClass, keras

        if self.binary:
            return TwoClass(name="probabilities")(training_output)
        return keras.layers.Softmax(name="probabilities")(training_output)

    def predicted_labels(self, probabilities: np.ndarray) -> np.ndarray:
        return np.asarray(self.labels, dtype=object)[np.argmax(probabilities, axis=1)]

    def new_score(self) -> ClassificationScore:
        return ClassificationScore(len(self.labels))

    def add_score(self, score: ClassificationScore, y_true: np.ndarray, outputs: np.ndarray
                  ) -> None:
        score.add(self.training_target(y_true).astype(int), outputs)

    error_name: ClassVar[str] = "error rate"

    def row_errors(self, y_true: np.ndarray, outputs: np.ndarray) -> np.ndarray:
        return (self.predicted_labels(outputs) != np.asarray(y_true, dtype=object)).astype(float)

    def baselines(self, encoded: EncodedSplits) -> dict[str, Baseline]:
        """The class prior, and scikit-learn's LogisticRegression on the same encoding,
        fitted on (at most BASELINE_ROWS of) the training rows."""
        from sklearn.linear_model import LogisticRegression

        prior = np.asarray(self.train_counts, np.float64) / sum(self.train_counts)
        width = sum(c.width for c in encoded.columns)
        x_train, y_train = _first_rows(encoded, min(BASELINE_ROWS, 2**25 // max(width, 1)))
        model = LogisticRegression(max_iter=2000).fit(
            x_train, self.training_target(y_train).astype(int))

        def logistic(x: np.ndarray) -> np.ndarray:
            probabilities = np.zeros((len(x), len(self.labels)))
            probabilities[:, model.classes_] = model.predict_proba(x)
            return probabilities

        return {"logistic_regression": logistic,
                "prior": lambda x: np.tile(prior, (len(x), 1))}

    def table_columns(self, outputs: np.ndarray) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {f"predicted_{self.name}": self.predicted_labels(outputs)}
        for j, label in enumerate(self.labels):
            found[f"probability_{label}"] = outputs[:, j]
        return found


def _first_rows(encoded: EncodedSplits, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Encoded training rows, at most `limit` of them (the split is already shuffled)."""
    xs, ys, taken = [], [], 0
    for x, y in encoded.train_blocks():
        xs.append(x[:limit - taken])
        ys.append(y[:limit - taken])
        taken += len(xs[-1])
        if taken >= limit:
            break
    return np.vstack(xs), np.concatenate(ys)


def choose_head(task: str, name: str, stats: dict, labels: list[str] | None,
                declared_range: tuple[float, float] | None, interval: float) -> Head:
    """The head for the task the data stage decided on, from the target's statistics
    over every training row (`Dataset.target_stats`)."""
    if task == "classification":
        return ClassificationHead.fit(name, stats, labels or [])
    return RegressionHead.fit(name, stats, declared_range, interval)
