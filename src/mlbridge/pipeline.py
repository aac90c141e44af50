"""`train()`: the stages in order, from a table to a bundle. The CLI is a face on this.

Everything that can be checked without TensorFlow (options, the output path, the data)
is checked first, so a mistake costs a second rather than a training run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import numpy as np

from mlbridge.atomic import check_out, remove_abandoned
from mlbridge.bundle import (
    METADATA,
    SCHEMA_VERSION,
    Bundle,
    check_replace,
    default_out,
    versions,
    write_bundle,
)
from mlbridge.dataset import load_dataset
from mlbridge.errors import UsageError
from mlbridge.evaluate import confusion, errors_by_value, reliability
from mlbridge.features import EncodedSplits, choose_columns, graph_inputs
from mlbridge.heads import (
    DEFAULT_INTERVAL,
    ClassificationHead,
    Head,
    RegressionHead,
    choose_head,
)
from mlbridge.kinds import MAX_WORDS, TRANSFORMS, CategoricalColumn, Column
from mlbridge.model import DEFAULT_EPOCHS, TrainingConfig
from mlbridge.resources import DEFAULT_DATA

#: What `train()` with no data uses: the bundled table and its known columns.
BUNDLED = {"target": "popularity", "features": ["twitter_followers"], "key": "handle",
           "target_range": (0.0, 100.0)}
#: At most this many test rows are kept in the bundle (test.csv) for verify and reports;
#: the metrics are always computed on the whole test split.
TEST_SAMPLE_ROWS = 2000
#: Share of the training split held out to calibrate the regression interval (never fit).
CALIBRATION_SPLIT = 0.2


class Reporter(Protocol):
    """What `train` tells about its progress; the CLI draws it, a notebook may ignore it."""

    def stage(self, message: str) -> None: ...

    def epoch(self, epoch: int, cap: int, loss: float, val_loss: float) -> None: ...


class Silent:
    """A reporter that says nothing: the default for the Python API."""

    def stage(self, message: str) -> None:
        pass

    def epoch(self, epoch: int, cap: int, loss: float, val_loss: float) -> None:
        pass


def _split_off(x: dict[str, np.ndarray], y: np.ndarray, share: float
               ) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """The last `share` of the (shuffled) training rows, apart: `(x_fit, y_fit, x_cal, y_cal)`."""
    cut = len(y) - max(1, round(len(y) * share))
    return ({k: v[:cut] for k, v in x.items()}, y[:cut],
            {k: v[cut:] for k, v in x.items()}, y[cut:])


def train(data: str | Path | None = None, target: str | None = None,
          features: list[str] | None = None, key: str | None = None,
          categorical: list[str] | None = None, text: list[str] | None = None,
          max_words: int = MAX_WORDS, out: str | Path | None = None,
          model: str = "linear", task: str | None = None, interval: float = DEFAULT_INTERVAL,
          transform: str = "auto", epochs: int = DEFAULT_EPOCHS,
          learning_rate: float | None = None, batch_size: int | None = None, seed: int = 0,
          sep: str | None = None, target_range: tuple[float, float] | None = None,
          quantize: str = "none", replace: bool = False,
          reporter: Reporter | None = None) -> Bundle:
    """Train a model on a table and write its bundle (Keras, SavedModel, TF.js) to `out`.

    With no `data`, trains on the bundled artists table (target popularity from
    twitter_followers). With `data` and no `features`, every column but the target and
    the key is a candidate; those that cannot help are left out, each with its reason
    in `metadata["data"]["left_out"]`. A target of numbers is regression (with an
    interval of coverage `interval`, 0 for none); a target of labels is classification
    (`task` forces either). `categorical` and `text` force a column's kind; a text keeps
    at most `max_words` words.

    `out` defaults to `models/<name of the data file>`. A bundle already there is
    replaced when it was trained on a file of the same name for the same target (a
    retrain); one made from anything else is kept, with an error, unless `replace`.

    >>> bundle = train("data/penguins.csv", target="species", out="models/penguins")
    >>> bundle.metrics["test"]["log_loss"]
    """
    from mlbridge.convert.graph import QUANTIZATIONS

    if data is None:
        data = DEFAULT_DATA
        target = target or BUNDLED["target"]
        features = features or BUNDLED["features"]
        key = key or BUNDLED["key"]
        target_range = target_range or BUNDLED["target_range"]
    progress = reporter or Silent()
    config = TrainingConfig(kind=model, epochs=epochs, learning_rate=learning_rate,
                            batch_size=batch_size, seed=seed)
    config.resolved(1)  # rejects a bad --model, --epochs, ... before any work
    if transform not in TRANSFORMS:
        raise UsageError(f"unknown transform '{transform}'", hint="use auto, log or none")
    if quantize not in QUANTIZATIONS:
        raise UsageError(f"unknown quantization '{quantize}'", hint="use float16 or uint8")
    if target_range is not None and not target_range[0] < target_range[1]:
        raise UsageError("--target-range must be LOW,HIGH with LOW < HIGH")
    if max_words < 1:
        raise UsageError("--max-words must be at least 1")
    if not 0 <= interval < 1:
        raise UsageError(f"--interval {interval:g} is not a coverage between 0 and 1",
                         hint="for example --interval 0.9, or --interval 0 for none")
    out = check_out(default_out(data) if out is None else out, METADATA, "bundle")
    if target:  # without one, reading the header says so first
        check_replace(out, str(data), target, replace)
    for line in remove_abandoned(out):
        progress.stage(line)

    progress.stage(f"Reading {data}")
    dataset = load_dataset(data, target, features, key, sep, seed, target_range, categorical,
                           task, text)
    choice = choose_columns(dataset, categorical, transform, text, max_words)
    columns = choice.columns
    dataset = dataset.with_features([c.name for c in columns])
    as_type = object if dataset.task == "classification" else np.float64
    y_train = dataset.train[dataset.target].to_numpy(dtype=as_type)
    y_test = dataset.test[dataset.target].to_numpy(dtype=as_type)
    head = choose_head(dataset.task, dataset.target, y_train, dataset.labels, target_range,
                       interval)
    x_train = graph_inputs(columns, dataset.train)
    x_test = graph_inputs(columns, dataset.test)
    calibrated = isinstance(head, RegressionHead) and head.interval > 0
    if calibrated:
        x_train, y_train, x_cal, y_cal = _split_off(x_train, y_train, CALIBRATION_SPLIT)

    progress.stage("Loading TensorFlow")
    from mlbridge._tf import quiet_tensorflow

    quiet_tensorflow()  # ~10 s on a small machine: its own stage, so the wait is explained
    from mlbridge import model as model_stage
    from mlbridge import report as report_stage
    from mlbridge.export.litert import write_litert
    from mlbridge.export.standalone import write_standalone
    from mlbridge.export.tfjs import write_tfjs
    from mlbridge.serving import serving_values

    progress.stage(f"Training {config.kind} {dataset.task} model on {len(y_train):,} rows")
    trained = model_stage.fit(columns, x_train, y_train, head, config, on_epoch=progress.epoch)
    serving = model_stage.serving_model(trained.training, head)
    if calibrated:
        head.calibrate(y_cal, serving_values(serving, columns, x_cal)[:, 0])
        serving = model_stage.serving_model(trained.training, head)
    outputs = serving_values(serving, columns, x_test)
    metrics = evaluate_model(head, columns, EncodedSplits(columns, x_train, x_test, y_train,
                                                          y_test), outputs)
    sample = dataset.test.sample(min(len(dataset.test), TEST_SAMPLE_ROWS), random_state=seed)
    resolved = trained.config
    metadata = {
        "schema_version": SCHEMA_VERSION,
        "kind": "trained",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "key": dataset.key,
        "data": {
            "source": dataset.source.location, "sha256": dataset.source.sha256,
            "bytes": dataset.source.size_bytes, "sep": dataset.source.sep,
            "rows_read": dataset.rows_read, "rows_used": dataset.rows_used,
            "rows_dropped": dataset.dropped, "rows_train": len(dataset.train),
            "rows_fit": len(y_train), "rows_calibration": len(y_cal) if calibrated else 0,
            "rows_test": len(y_test), "split_seed": seed, "left_out": choice.left_out,
            "test_sample": {"file": "test.csv", "rows": len(sample), "of": len(y_test),
                            "how": f"uniform sample without replacement, seed {seed}, at "
                                   f"most {TEST_SAMPLE_ROWS:,} rows"},
        },
        "inputs": [column.to_json() for column in columns],
        # The table's other columns: a record passed whole may carry them (inputs.py).
        "other_columns": [name for name in dataset.header
                          if name not in {c.name for c in columns}],
        "output": {**head.to_json(), "columns": head.columns},
        "model": {
            "kind": resolved.kind, "learning_rate": resolved.learning_rate,
            "batch_size": resolved.batch_size, "epoch_cap": resolved.epochs,
            "epochs_run": trained.epochs_run, "best_epoch": trained.best_epoch,
            "early_stopping": None if trained.fit else model_stage.stopping(resolved.kind, head),
            "fit": trained.fit,
            "validation_split": trained.validation_split, "seed": seed,
            "unseen_slots": trained.unseen_slots,
        },
        "metrics": metrics,
        "history": trained.history,
        "parity": {},
        "versions": versions(),
    }
    progress.stage("Exporting SavedModel, TF.js graph model, LiteRT model, predict.mjs and "
                   "the report")

    def write_test_rows(directory: Path, _metadata: dict) -> dict:
        sample.to_csv(directory / "test.csv", index=False)
        return {}

    def write_report(directory: Path, meta: dict) -> dict:
        report_stage.write_plots(directory, meta, dataset.train, dataset.test,
                                 lambda frame: serving_values(serving, columns,
                                                              graph_inputs(columns, frame)))
        report_stage.write_report(directory, meta)
        return {}

    return write_bundle(out, metadata, serving, writers=[
        lambda directory, _: write_tfjs(serving, directory, quantize),
        lambda directory, _: write_litert(serving, columns, directory),
        lambda directory, meta: write_standalone(serving, directory, meta),
        write_test_rows,
        write_report,
    ])


def evaluate_model(head: Head, columns: list[Column], encoded: EncodedSplits,
                   outputs: np.ndarray) -> dict:
    """Test metrics beside the head's baselines, errors by category value, and for
    classification the confusion matrix and the reliability (calibration) table."""
    y_test = encoded.y_test
    errors = head.row_errors(y_test, outputs)
    metrics = {"rows": len(y_test), "test": head.metrics(y_test, outputs),
               "baselines": head.baselines(encoded),
               "by_value_measure": head.error_name,
               "by_value": {c.name: errors_by_value(c.labels(encoded.x_test[c.input]), errors)
                            for c in columns if isinstance(c, CategoricalColumn)}}
    if isinstance(head, ClassificationHead):
        classes = head.training_target(y_test).astype(int)
        metrics.update(confusion=confusion(classes, outputs),
                       reliability=reliability(classes, outputs))
    return metrics
