"""Build and fit the Keras model: raw inputs in, the head's answer out, all in one graph.

The graph takes one named input per feature, raw: float32 `[batch, 1]` (NaN = missing)
for a number, string `[batch, 1]` ("" = missing) for a category. Each column's own layer
encodes it (see `features.py`); the encodings are concatenated, go through the model's
dense layers, and the head turns the result into the answer (see `heads.py`). Two
models share those layers: the training model ends at what the loss sees (for
regression, a standardized target); the serving model, saved and exported, adds the
head's serving layers (back to target units, clipped).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mlbridge.errors import TrainError, UsageError
from mlbridge.kinds import CategoricalColumn, Column
from mlbridge.linear import CLOSED_FORM_WIDTH
from mlbridge.serving import tensors

if TYPE_CHECKING:
    import keras

    from mlbridge.heads import Head

MODEL_KINDS = ("linear", "dnn")
DEFAULT_LEARNING_RATE = {"linear": 0.1, "dnn": 0.001}
DEFAULT_EPOCHS = 500
PATIENCE = 15
#: How each kind of model decides it is done. A linear model is convex with a handful
#: of weights: it is done when the training loss stops falling (the learning rate halves
#: on each plateau, so it settles on the least-squares optimum); stopping it on a noisy
#: validation loss left it up to 25% worse than least squares on cars.csv. A dnn can
#: overfit, so it stops when the validation loss has not improved for PATIENCE epochs.
STOPPING = {"linear": {"monitor": "loss", "patience": 12, "min_delta": 1e-5},
            "dnn": {"monitor": "val_loss", "patience": PATIENCE, "min_delta": 0.0}}


def stopping(kind: str, head: Head) -> dict:
    """The early-stopping rule for this model kind and head (see STOPPING)."""
    return STOPPING[kind]
VALIDATION_SPLIT = 0.2
HIDDEN_UNITS = 64

#: Called after each epoch with (epoch number from 1, epoch cap, loss, val_loss).
EpochCallback = Callable[[int, int, float, float], None]
#: Every training row of a table too big to hold, as batches of (raw inputs, target).
RowBatches = Callable[[], Iterator[tuple[dict[str, np.ndarray], np.ndarray]]]


@dataclass(frozen=True)
class TrainingConfig:
    """Hyperparameters as the user asked for them, with the defaults filled in."""

    kind: str = "linear"
    epochs: int = DEFAULT_EPOCHS
    learning_rate: float | None = None
    batch_size: int | None = None
    seed: int = 0

    def resolved(self, n_rows: int) -> TrainingConfig:
        """Fill in the learning rate for the model kind and a batch size for the data size."""
        if self.kind not in MODEL_KINDS:
            raise UsageError(f"unknown model '{self.kind}'", hint="use --model linear or dnn")
        if self.epochs < 1:
            raise UsageError("--epochs must be at least 1")
        if self.batch_size is not None and self.batch_size < 1:
            raise UsageError("--batch-size must be at least 1")
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise UsageError("--learning-rate must be a positive number")
        return TrainingConfig(
            kind=self.kind,
            epochs=self.epochs,
            learning_rate=self.learning_rate or DEFAULT_LEARNING_RATE[self.kind],
            batch_size=self.batch_size or default_batch_size(n_rows),
            seed=self.seed,
        )


def default_batch_size(n_rows: int) -> int:
    """About 64 steps an epoch on big data, never below Keras's 32 nor above 8192."""
    return int(min(8192, max(32, 2 ** round(math.log2(max(n_rows, 1) / 64)))))


@dataclass
class TrainedModel:
    """The training model, the resolved hyperparameters, and what training learnt."""

    training: keras.Model
    config: TrainingConfig
    history: dict[str, list[float]]
    epochs_run: int
    best_epoch: int
    unseen_slots: dict[str, list[str]]
    validation_split: float  # the share of rows held out to validate (0: fit on all)
    fit: dict | None = None  # a closed-form fit (linear regression): how, on how many rows


def build(kind: str, columns: list[Column], head: Head) -> keras.Model:
    """The training model: raw inputs → encoders → dense layers → what the loss sees."""
    from mlbridge.layers import keras

    inputs = {c.input: keras.Input(shape=(c.feed_width,), name=c.input, dtype=c.dtype)
              for c in columns}
    encoded = [c.layer()(inputs[c.input]) for c in columns]
    h = keras.layers.Concatenate(name="encoded")(encoded) if len(encoded) > 1 else encoded[0]
    if kind == "dnn":
        h = keras.layers.Dense(HIDDEN_UNITS, activation="relu", name="hidden_1")(h)
        h = keras.layers.Dense(HIDDEN_UNITS, activation="relu", name="hidden_2")(h)
    return keras.Model(inputs, head.training_output(h), name="mlbridge_training")


def serving_model(training: keras.Model, head: Head) -> keras.Model:
    """The model that is saved and exported: the training model's layers plus the head's
    serving layers (target units, clip, interval; or probabilities)."""
    from mlbridge.layers import keras

    return keras.Model(training.input, head.serving_output(training.output), name="mlbridge")


#: Fed numbers held in memory at once when training (1 GiB of float32); past that, each
#: batch is fed as it is needed (a text of 50,000 words on a million rows is 200 GB fed).
FED_NUMBERS = 2**28


def batches(columns: list[Column], x: dict[str, np.ndarray], y: np.ndarray,
            config: TrainingConfig, hold_out: float) -> tuple[Any, Any]:
    """`(training, validation)` datasets, built once: the last `hold_out` share of the
    (already shuffled) rows validate (None when 0); the rest are cut into batches whose
    order is reshuffled every epoch.

    Built once rather than by `fit(validation_split=...)`, which rebuilds its pipeline
    every epoch: that was half the training time on small tables. Shuffling batches, not
    rows, costs nothing on a million rows; the rows were shuffled by the split already.
    When the fed inputs would not fit in FED_NUMBERS, batches are fed one at a time from
    the raw values instead, so memory does not grow with the rows.
    """
    import tensorflow as tf

    cut = math.ceil(len(y) * (1 - hold_out))  # where Keras's validation_split cuts
    if len(y) * sum(c.feed_width for c in columns) > FED_NUMBERS:
        return (_streamed(columns, x, y, 0, cut, config.batch_size, config.seed),
                _streamed(columns, x, y, cut, len(y), max(config.batch_size, 4096))
                if cut < len(y) else None)
    features = tensors(columns, x)
    fitted = tf.data.Dataset.from_tensor_slices(({k: v[:cut] for k, v in features.items()},
                                                 y[:cut]))
    fitted = fitted.batch(config.batch_size).cache()
    fitted = fitted.shuffle(math.ceil(cut / config.batch_size), seed=config.seed,
                            reshuffle_each_iteration=True)
    if cut == len(y):
        return fitted.prefetch(2), None
    validation = tf.data.Dataset.from_tensor_slices(({k: v[cut:] for k, v in features.items()},
                                                     y[cut:]))
    return fitted.prefetch(2), validation.batch(max(config.batch_size, 4096)).cache()


def _streamed(columns: list[Column], x: dict[str, np.ndarray], y: np.ndarray, start: int,
              stop: int, size: int, seed: int | None = None) -> Any:
    """Rows `start:stop` as batches fed when asked for (in a new order each epoch when
    `seed` is given): memory of one batch, whatever the rows."""
    import tensorflow as tf

    starts = np.arange(start, stop, size)
    rng = np.random.default_rng(seed)

    def generate() -> Any:
        order = rng.permutation(starts) if seed is not None else starts
        for first in order:
            rows = slice(first, min(first + size, stop))
            yield ({c.input: c.feed(x[c.input][rows]) for c in columns}, y[rows])

    signature = ({c.input: tf.TensorSpec((None, c.feed_width),
                                         tf.string if c.dtype == "string" else tf.float32)
                  for c in columns}, tf.TensorSpec((None,), tf.as_dtype(y.dtype)))
    return tf.data.Dataset.from_generator(generate, output_signature=signature).prefetch(2)


def fit(columns: list[Column], x_train: dict[str, np.ndarray], y_train: np.ndarray,
        head: Head, config: TrainingConfig, on_epoch: EpochCallback | None = None,
        every_row: RowBatches | None = None) -> TrainedModel:
    """Train with early stopping that restores the best weights.

    The last 20% of the (already shuffled) training split validates. This is the single
    training step: moving to `tf.distribute` would change only here. `x_train` may be a
    sample of a larger table, whose every training row `every_row` streams: a linear
    regression is then fitted exactly on all of them; other models learn from the sample.
    """
    from mlbridge.layers import keras

    config = config.resolved(len(y_train))
    keras.utils.set_random_seed(config.seed)
    training = build(config.kind, columns, head)
    if (config.kind == "linear" and head.task == "regression"
            and sum(c.width for c in columns) <= CLOSED_FORM_WIDTH):
        return fit_exactly(training, columns, x_train, y_train, head, config, every_row)
    if (config.kind == "linear" and head.task == "classification"
            and sum(c.width for c in columns) <= CLOSED_FORM_WIDTH
            and len(set(head.training_target(y_train).tolist())) == len(head.columns)):
        return fit_logistic(training, columns, x_train, y_train, head, config)
    # One compiled call runs a whole epoch's steps: Keras's per-step Python overhead was
    # most of the training time on small tables (36 steps of 32 rows an epoch).
    rule = stopping(config.kind, head)
    # A rule on the training loss needs no validation rows: the model fits on all of them.
    hold_out = VALIDATION_SPLIT if rule["monitor"] == "val_loss" else 0.0
    steps = math.ceil(len(y_train) * (1 - hold_out) / config.batch_size)
    training.compile(optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate),
                     loss=head.loss, steps_per_execution=max(1, min(steps, 128)))
    callbacks = [keras.callbacks.EarlyStopping(**rule, restore_best_weights=True),
                 keras.callbacks.TerminateOnNaN()]
    if rule["monitor"] == "loss":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5,
                                                           patience=3, min_lr=1e-5,
                                                           min_delta=1e-5))
    if on_epoch is not None:
        def report(epoch: int, logs: dict[str, Any]) -> None:
            on_epoch(epoch + 1, config.epochs, float(logs.get("loss", math.nan)),
                     float(logs.get("val_loss", math.nan)))

        callbacks.append(keras.callbacks.LambdaCallback(on_epoch_end=report))
    fitted, validation = batches(columns, x_train, head.training_target(y_train), config,
                                 hold_out)
    history = training.fit(fitted, validation_data=validation, epochs=config.epochs,
                           shuffle=False, verbose=0, callbacks=callbacks).history
    losses = history.get(rule["monitor"], [])
    if not losses or not np.all(np.isfinite(losses)):
        raise TrainError("training diverged (the loss became NaN or infinite)",
                         hint="lower --learning-rate, or check the data for extreme values")
    fitted_rows = math.ceil(len(y_train) * (1 - hold_out))  # as batches() cuts
    unseen = average_unseen_slots(training, columns,
                                  {k: v[:fitted_rows] for k, v in x_train.items()})
    return TrainedModel(training=training, config=config,
                        history={k: [float(v) for v in vs] for k, vs in history.items()},
                        epochs_run=len(losses), best_epoch=int(np.argmin(losses)) + 1,
                        unseen_slots=unseen, validation_split=hold_out)


def fit_exactly(training: keras.Model, columns: list[Column], x_train: dict[str, np.ndarray],
                y_train: np.ndarray, head: Head, config: TrainingConfig,
                every_row: RowBatches | None = None) -> TrainedModel:
    """A linear regression's weights in closed form (linear.py): the least-squares
    optimum on every training row (those of `every_row`, else `x_train`'s), in one
    pass, a text's words with the ridge penalty held-out error prefers; no epochs."""
    from mlbridge.features import encoded_blocks
    from mlbridge.linear import FOLDS, fit, sums_by_fold

    def blocks() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for x, y in every_row() if every_row is not None else [(x_train, y_train)]:
            y = head.training_target(y).astype(np.float64)
            start = 0
            for block in encoded_blocks(columns, x):
                yield block, y[start:start + len(block)]
                start += len(block)

    width = sum(c.width for c in columns)
    penalized = np.concatenate([np.full(c.width, c.kind == "text") for c in columns])
    folds = sums_by_fold(blocks(), width, FOLDS if penalized.any() else 1)
    rows = sum(fold.n for fold in folds)
    solved = fit(folds, penalized)
    dense = first_dense(training)
    dense.set_weights([solved.kernel.reshape(-1, 1).astype(np.float32),
                       np.array([solved.bias], dtype=np.float32)])
    unseen = average_unseen_slots(training, columns, x_train)
    return TrainedModel(training=training, config=config, history={}, epochs_run=0,
                        best_epoch=0, unseen_slots=unseen, validation_split=0.0,
                        fit={"method": "least squares, closed form", "rows": rows,
                             **({"words_penalty": solved.penalty,
                                 "held_out_mse": {str(k): v for k, v in solved.held_out.items()}}
                                if solved.held_out else {})})


def fit_logistic(training: keras.Model, columns: list[Column], x_train: dict[str, np.ndarray],
                 y_train: np.ndarray, head: Head, config: TrainingConfig) -> TrainedModel:
    """A linear classifier's weights at the optimum of its convex loss: L2-regularized
    logistic regression (scikit-learn's, C=1, softmax for more than two labels) solved
    by L-BFGS to convergence on the graph's own encoding, then set in the graph's one
    dense layer, whose sigmoid or softmax computes exactly that model. No epochs, and
    no optimum missed by stopping early."""
    from sklearn.linear_model import LogisticRegression

    from mlbridge.features import encoded_blocks

    x = np.vstack(list(encoded_blocks(columns, x_train)))
    y = head.training_target(y_train).astype(int)
    solved = LogisticRegression(C=1.0, max_iter=10_000, tol=1e-8).fit(x, y)
    dense = first_dense(training)
    dense.set_weights([solved.coef_.T.astype(np.float32),
                       solved.intercept_.astype(np.float32)])
    unseen = average_unseen_slots(training, columns, x_train)
    return TrainedModel(training=training, config=config, history={}, epochs_run=0,
                        best_epoch=0, unseen_slots=unseen, validation_split=0.0,
                        fit={"method": "logistic regression, L2 (C=1), L-BFGS to "
                                       f"convergence in {int(np.max(solved.n_iter_))} steps",
                             "rows": len(y)})


def first_dense(model: keras.Model) -> Any:
    """The dense layer that reads the concatenated encodings."""
    return next(layer for layer in model.layers if type(layer).__name__ == "Dense")


def average_unseen_slots(model: keras.Model, columns: list[Column],
                         x_fitted: dict[str, np.ndarray]) -> dict[str, list[str]]:
    """Give each category slot that no fitted row used the average of the others' weights.

    A slot with no training rows (the missing slot when training had no gaps; the
    out-of-vocabulary slot when every value was kept) keeps its random initial weights,
    so an unseen value would get an arbitrary answer. The first dense layer is linear in
    its inputs, so setting the slot's kernel row to the frequency-weighted mean of the
    seen rows answers exactly as if the input were the training distribution of that
    feature: the model's average over it. Returns the slots so treated, by feature.
    """
    dense = first_dense(model)
    kernel, *rest = dense.get_weights()
    offset, treated = 0, {}
    for column in columns:
        if isinstance(column, CategoricalColumn):
            counts = np.bincount(column.slots(x_fitted[column.input].reshape(-1)),
                                 minlength=column.width).astype(np.float64)
            rows = kernel[offset:offset + column.width]
            average = counts @ rows / counts.sum()
            unseen = np.flatnonzero(counts == 0)
            rows[unseen] = average
            names = {CategoricalColumn.OOV_SLOT: "other", CategoricalColumn.MISSING_SLOT: "missing"}
            if len(unseen):
                treated[column.name] = [names.get(i, column.vocabulary[i - 2] if i >= 2 else "")
                                        for i in unseen]
        offset += column.width
    dense.set_weights([kernel, *rest])
    return treated
