"""Build and fit the Keras model: raw features in, target units out, all in one graph.

Two models share the same layers. The training model predicts a standardized target
(mean 0, std 1), which lets Adam converge in a handful of epochs where raw 0-100 targets
need hundreds. The serving model adds the inverse scaling and the clip to the target's
range on top, and is the one that is saved and exported.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mlbridge.errors import TrainError, UsageError
from mlbridge.features import FeatureSpec, log_mask, transform_values

if TYPE_CHECKING:
    import keras

MODEL_KINDS = ("linear", "dnn")
DEFAULT_LEARNING_RATE = {"linear": 0.1, "dnn": 0.001}
DEFAULT_EPOCHS = 500
PATIENCE = 15
VALIDATION_SPLIT = 0.2
HIDDEN_UNITS = 64

#: Called after each epoch with (epoch number from 1, epoch cap, loss, val_loss).
EpochCallback = Callable[[int, int, float, float], None]


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
    """The serving model, the resolved hyperparameters, and what training learnt."""

    serving: keras.Model
    config: TrainingConfig
    history: dict[str, list[float]]
    epochs_run: int
    best_epoch: int
    target_mean: float
    target_std: float


def build(kind: str, specs: list[FeatureSpec], x_train: np.ndarray, y_mean: float,
          y_std: float, clip: tuple[float, float]) -> tuple[keras.Model, keras.Model]:
    """Return `(training_model, serving_model)` sharing their layers.

    The normalization statistics are computed here from the transformed training
    features and set directly, which is the same as `adapt()` without a pass in TF.
    """
    from mlbridge.layers import Clip, LogTransform, keras

    transformed = transform_values(specs, x_train)
    inputs = keras.Input(shape=(len(specs),), name="features", dtype="float32")
    h = LogTransform(log_mask(specs).tolist(), name="log_transform")(inputs)
    h = keras.layers.Normalization(axis=-1, mean=transformed.mean(axis=0),
                                   variance=transformed.var(axis=0), name="normalize")(h)
    if kind == "dnn":
        h = keras.layers.Dense(HIDDEN_UNITS, activation="relu", name="hidden_1")(h)
        h = keras.layers.Dense(HIDDEN_UNITS, activation="relu", name="hidden_2")(h)
    standardized = keras.layers.Dense(1, name="standardized_output")(h)
    in_units = keras.layers.Rescaling(scale=y_std, offset=y_mean, name="to_target_units")(
        standardized)
    clipped = Clip(*clip, name="clip")(in_units)
    return (keras.Model(inputs, standardized, name="mlbridge_training"),
            keras.Model(inputs, clipped, name="mlbridge"))


def fit(specs: list[FeatureSpec], x_train: np.ndarray, y_train: np.ndarray,
        config: TrainingConfig, clip: tuple[float, float],
        on_epoch: EpochCallback | None = None) -> TrainedModel:
    """Train on a standardized target with early stopping that restores the best weights.

    This is the single training step: moving to `tf.distribute` would change only here.
    """
    from mlbridge.layers import keras

    config = config.resolved(len(x_train))
    keras.utils.set_random_seed(config.seed)
    y_mean = float(np.mean(y_train))
    y_std = float(np.std(y_train)) or 1.0
    training, serving = build(config.kind, specs, x_train, y_mean, y_std, clip)
    training.compile(optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate),
                     loss="mean_squared_error")
    stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=PATIENCE,
                                            restore_best_weights=True)
    callbacks = [stopper, keras.callbacks.TerminateOnNaN()]
    if on_epoch is not None:
        def report(epoch: int, logs: dict[str, Any]) -> None:
            on_epoch(epoch + 1, config.epochs, float(logs.get("loss", math.nan)),
                     float(logs.get("val_loss", math.nan)))

        callbacks.append(keras.callbacks.LambdaCallback(on_epoch_end=report))
    history = training.fit(
        x_train.astype(np.float32), ((y_train - y_mean) / y_std).astype(np.float32),
        validation_split=VALIDATION_SPLIT, epochs=config.epochs,
        batch_size=config.batch_size, shuffle=True, verbose=0, callbacks=callbacks,
    ).history
    losses = history.get("val_loss", [])
    if not losses or not np.all(np.isfinite(losses)):
        raise TrainError("training diverged (the loss became NaN or infinite)",
                         hint="lower --learning-rate, or check the data for extreme values")
    best = int(np.argmin(losses))
    return TrainedModel(serving=serving, config=config,
                        history={k: [float(v) for v in vs] for k, vs in history.items()},
                        epochs_run=len(losses), best_epoch=best + 1,
                        target_mean=y_mean, target_std=y_std)


def predict(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """Predict target units for raw `[rows, features]` values, as a flat float64 array."""
    if len(x) == 0:
        return np.empty(0)
    out = model.predict(np.asarray(x, dtype=np.float32), batch_size=65536, verbose=0)
    return out.reshape(-1).astype(np.float64)
