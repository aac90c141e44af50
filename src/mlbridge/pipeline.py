"""`train()`: the stages in order, from a table to a bundle. The CLI is a face on this.

Everything that can be checked without TensorFlow (options, the output path, the data)
is checked first, so a mistake costs a second rather than a training run.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

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
from mlbridge.dataset import SAMPLE_ROWS, Dataset, load_dataset
from mlbridge.errors import UsageError
from mlbridge.evaluate import ErrorsByValue
from mlbridge.features import EncodedSplits, choose_columns, encoded_blocks, graph_inputs
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


class Reporter(Protocol):
    """What `train` tells about its progress; the CLI draws it, a notebook may ignore it."""

    def stage(self, message: str) -> None: ...

    def epoch(self, epoch: int, cap: int, loss: float, val_loss: float) -> None: ...

    def rows(self, label: str, rows: int, fraction: float) -> None: ...


class Silent:
    """A reporter that says nothing: the default for the Python API."""

    def stage(self, message: str) -> None:
        pass

    def epoch(self, epoch: int, cap: int, loss: float, val_loss: float) -> None:
        pass

    def rows(self, label: str, rows: int, fraction: float) -> None:
        pass


def train(data: str | Path | None = None, target: str | None = None,
          features: list[str] | None = None, key: str | None = None,
          categorical: list[str] | None = None, text: list[str] | None = None,
          max_words: int = MAX_WORDS, out: str | Path | None = None,
          model: str = "linear", task: str | None = None, interval: float = DEFAULT_INTERVAL,
          transform: str = "auto", epochs: int = DEFAULT_EPOCHS,
          learning_rate: float | None = None, batch_size: int | None = None, seed: int = 0,
          sep: str | None = None, target_range: tuple[float, float] | None = None,
          quantize: str = "none", replace: bool = False, sample_rows: int = SAMPLE_ROWS,
          reporter: Reporter | None = None) -> Bundle:
    """Train a model on a table and write its bundle (Keras, SavedModel, TF.js) to `out`.

    With no `data`, trains on the bundled artists table (target popularity from
    twitter_followers). With `data` and no `features`, every column but the target and
    the key is a candidate; those that cannot help are left out, each with its reason
    in `metadata["data"]["left_out"]`. A target of numbers is regression (with an
    interval of coverage `interval`, 0 for none); a target of labels is classification
    (`task` forces either). `categorical` and `text` force a column's kind; a text keeps
    at most `max_words` words.

    A table of more than `sample_rows` training rows is read in passes, in memory that
    does not grow with its rows (dataset.py): a uniform sample of that many rows decides
    what needs rows at hand, while a linear regression's fit and the test metrics use
    every row.

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
    if sample_rows < 100:
        raise UsageError("--sample-rows must be at least 100")
    if not 0 <= interval < 1:
        raise UsageError(f"--interval {interval:g} is not a coverage between 0 and 1",
                         hint="for example --interval 0.9, or --interval 0 for none")
    out = check_out(default_out(data) if out is None else out, METADATA, "bundle")
    if target:  # without one, reading the header says so first
        check_replace(out, str(data), target, replace)
    for line in remove_abandoned(out):
        progress.stage(line)

    progress.stage(f"Reading {data}")
    on_rows = getattr(progress, "rows", None)  # a reporter written before passes had rows
    dataset = load_dataset(data, target, features, key, sep, seed, target_range, categorical,
                           task, text, sample_rows, on_rows=on_rows)
    choice = choose_columns(dataset, categorical, transform, text, max_words)
    columns = choice.columns
    dataset = dataset.with_features([c.name for c in columns])
    head = choose_head(dataset.task, dataset.target, dataset.target_stats, dataset.labels,
                       target_range, interval)
    calibrated = isinstance(head, RegressionHead) and head.interval > 0
    fitted = dataset.train[~dataset.calibration] if calibrated else dataset.train
    calibration = dataset.train[dataset.calibration]
    x_train, y_train = _inputs(columns, fitted, dataset)
    x_test, y_test = _inputs(columns, dataset.test, dataset)
    if not dataset.whole:
        progress.stage(f"{dataset.rows_used:,} rows: kinds, vocabularies and epochs from a "
                       f"uniform sample of {len(dataset.train):,} training rows; exact fits "
                       "and test metrics from every row")

    def every_fitted_row() -> Iterator[tuple[dict[str, np.ndarray], np.ndarray]]:
        side = "fit" if calibrated else "train"
        for frame in dataset.stream(side, on_rows):
            yield _inputs(columns, frame, dataset)

    progress.stage("Loading TensorFlow")
    from mlbridge._tf import quiet_tensorflow

    quiet_tensorflow()  # ~10 s on a small machine: its own stage, so the wait is explained
    from mlbridge import model as model_stage
    from mlbridge import report as report_stage
    from mlbridge.export.litert import write_litert
    from mlbridge.export.standalone import write_standalone
    from mlbridge.export.tfjs import write_tfjs
    from mlbridge.serving import serving_values

    progress.stage(f"Training {config.kind} {dataset.task} model on {len(y_train):,} rows"
                   if dataset.whole else f"Training {config.kind} {dataset.task} model")
    trained = model_stage.fit(columns, x_train, y_train, head, config, on_epoch=progress.epoch,
                              every_row=None if dataset.whole else every_fitted_row)
    serving = model_stage.serving_model(trained.training, head)
    if calibrated:
        x_cal, y_cal = _inputs(columns, calibration, dataset)
        head.calibrate(y_cal, serving_values(serving, columns, x_cal)[:, 0])
        serving = model_stage.serving_model(trained.training, head)
    progress.stage("Scoring the test split" if dataset.whole else
                   f"Scoring all {dataset.rows_test:,} test rows")
    test_rows = ([(x_test, y_test)] if dataset.whole else
                 (_inputs(columns, frame, dataset)
                  for frame in dataset.stream("test", on_rows)))
    metrics = evaluate_model(head, columns, EncodedSplits(columns, x_train, x_test, y_train,
                                                          y_test), serving, test_rows)
    dataset.close()  # the spill of a big table: no pass needs it any more
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
            "rows_dropped": dataset.dropped, "rows_train": dataset.rows_train,
            "rows_fit": (trained.fit or {}).get("rows", len(y_train)),
            "rows_calibration": len(calibration) if calibrated else 0,
            "rows_test": dataset.rows_test, "split_seed": seed, "left_out": choice.left_out,
            "split": "by a 64-bit hash of each row (of its key, when there is one), salted "
                     "by the seed: test when its last four digits are below 2,000",
            **({} if dataset.whole else {"sample": {
                "rows_train": len(dataset.train), "rows_test": len(dataset.test),
                "how": "the rows of lowest hash draw: uniform, without replacement",
                "used_for": "column kinds and vocabularies, epochs, calibration, baselines' "
                            "fits, the report's plots",
                "quantile_rank_error": round(1 / (2 * len(dataset.train) ** 0.5), 6)}}),
            "test_sample": {"file": "test.csv", "rows": len(sample), "of": len(y_test),
                            "how": f"uniform sample without replacement, seed {seed}, at "
                                   f"most {TEST_SAMPLE_ROWS:,} rows"},
            "target": dataset.target_stats,
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


def _inputs(columns: list[Column], frame: Any, dataset: Dataset
            ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """A frame of cleaned rows as the graph's raw inputs and the target's values."""
    as_type = object if dataset.task == "classification" else np.float64
    return graph_inputs(columns, frame), frame[dataset.target].to_numpy(dtype=as_type)


def evaluate_model(head: Head, columns: list[Column], encoded: EncodedSplits, serving: Any,
                   test_rows: Iterable[tuple[dict[str, np.ndarray], np.ndarray]]) -> dict:
    """Test metrics beside the head's baselines (fitted on `encoded`'s training rows),
    errors by category value, and for classification the confusion matrix and the
    reliability table: every one a sum over batches of test rows, so the whole test
    split is scored in one pass at any size."""
    from mlbridge.serving import serving_values

    baselines = head.baselines(encoded)
    score = head.new_score()
    scores = {name: head.new_score() for name in baselines}
    by_value = {c.name: ErrorsByValue() for c in columns if isinstance(c, CategoricalColumn)}
    for x, y in test_rows:
        outputs = serving_values(serving, columns, x)
        head.add_score(score, y, outputs)
        errors = head.row_errors(y, outputs)
        for column in columns:
            if column.name in by_value:
                by_value[column.name].add(column.labels(x[column.input]), errors)
        start = 0
        for block in encoded_blocks(columns, x):
            for name, baseline in baselines.items():
                head.add_score(scores[name], y[start:start + len(block)], baseline(block))
            start += len(block)
    metrics = {"rows": score.n, "test": score.result(),
               "baselines": {name: found.result() for name, found in scores.items()},
               "by_value_measure": head.error_name,
               "by_value": {name: found.result() for name, found in by_value.items()}}
    if isinstance(head, ClassificationHead):
        metrics.update(confusion=score.confusion(), reliability=score.reliability())
    return metrics
