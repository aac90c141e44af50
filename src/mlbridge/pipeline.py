"""`train()`: the stages in order, from a table to a bundle. The CLI is a face on this.

Everything that can be checked without TensorFlow (options, the output path, the data)
is checked first, so a mistake costs a second rather than a training run.
"""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Protocol

import numpy as np

from mlbridge.bundle import SCHEMA_VERSION, Bundle, check_out, write_bundle
from mlbridge.dataset import load_dataset
from mlbridge.errors import UsageError
from mlbridge.features import TRANSFORMS, choose_transforms
from mlbridge.model import DEFAULT_EPOCHS, PATIENCE, VALIDATION_SPLIT, TrainingConfig

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = PROJECT_ROOT / "data" / "artists.csv"


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


def versions() -> dict[str, str]:
    """Versions of everything that shapes the model's numbers, without importing them."""
    found = {"python": platform.python_version()}
    for name in ("mlbridge", "tensorflow", "keras", "tensorflowjs", "numpy", "pandas"):
        try:
            found[name] = package_metadata.version(name)
        except package_metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def train(data: str | Path = DEFAULT_DATA, target: str | None = "popularity",
          features: list[str] | None = ("twitter_followers",), key: str | None = None,
          out: str | Path = "models/artists", model: str = "linear", transform: str = "auto",
          epochs: int = DEFAULT_EPOCHS, learning_rate: float | None = None,
          batch_size: int | None = None, seed: int = 0, sep: str | None = None,
          target_range: tuple[float, float] | None = None, quantize: str = "none",
          reporter: Reporter | None = None) -> Bundle:
    """Train a model on a table and write its bundle (Keras, SavedModel, TF.js) to `out`.

    >>> bundle = train("data/artists.csv", target="popularity",
    ...                features=["twitter_followers"], out="models/artists")
    >>> bundle.metrics["test"]["r2"]
    """
    from mlbridge.export.tfjs import QUANTIZATIONS

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
    out = check_out(out)

    progress.stage(f"Reading {data}")
    dataset = load_dataset(data, target, features, key, sep, seed, target_range)
    specs = choose_transforms(dataset.train, dataset.features, transform)
    for spec in specs:
        if spec.transform == "log":
            dataset = dataset.drop_where(f"negative {spec.name} (log transform)",
                                         lambda frame, name=spec.name: frame[name] < 0)
    x_train = dataset.train[dataset.features].to_numpy(dtype=np.float64)
    y_train = dataset.train[dataset.target].to_numpy(dtype=np.float64)
    x_test = dataset.test[dataset.features].to_numpy(dtype=np.float64)
    y_test = dataset.test[dataset.target].to_numpy(dtype=np.float64)
    clip = target_range or (float(y_train.min()), float(y_train.max()))

    progress.stage("Loading TensorFlow")
    from mlbridge._tf import quiet_tensorflow

    quiet_tensorflow()  # ~10 s on a small machine: its own stage, so the wait is explained
    from mlbridge import model as model_stage
    from mlbridge import report as report_stage
    from mlbridge.evaluate import evaluate
    from mlbridge.export.standalone import write_standalone
    from mlbridge.export.tfjs import write_tfjs

    progress.stage(f"Training {config.kind} model on {len(x_train):,} rows")
    trained = model_stage.fit(specs, x_train, y_train, config, clip, on_epoch=progress.epoch)
    resolved = trained.config
    metrics = evaluate(specs, x_train, y_train, x_test, y_test,
                       model_stage.predict(trained.serving, x_test), clip)

    metadata = {
        "schema_version": SCHEMA_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "key": dataset.key,
        "data": {
            "source": dataset.source.location, "sha256": dataset.source.sha256,
            "bytes": dataset.source.size_bytes, "sep": dataset.source.sep,
            "rows_read": dataset.rows_read, "rows_used": dataset.rows_used,
            "rows_dropped": dataset.dropped, "rows_train": len(x_train),
            "rows_test": len(x_test), "split_seed": seed,
        },
        "inputs": [spec.to_json() for spec in specs],
        "output": {"name": dataset.target, "min": clip[0], "max": clip[1],
                   "declared_range": list(target_range) if target_range else None},
        "model": {
            "kind": resolved.kind, "learning_rate": resolved.learning_rate,
            "batch_size": resolved.batch_size, "epoch_cap": resolved.epochs,
            "epochs_run": trained.epochs_run, "best_epoch": trained.best_epoch,
            "early_stopping_patience": PATIENCE, "validation_split": VALIDATION_SPLIT,
            "seed": seed, "target_mean": trained.target_mean, "target_std": trained.target_std,
        },
        "metrics": metrics,
        "history": trained.history,
        "parity": {},
        "versions": versions(),
    }
    progress.stage("Exporting SavedModel, TF.js graph model, predict.mjs and the report")
    test_rows = dataset.test[[*([dataset.key] if dataset.key else []), *dataset.features,
                              dataset.target]]

    def write_test_rows(directory: Path, _metadata: dict) -> dict:
        test_rows.to_csv(directory / "test.csv", index=False)
        return {}

    def write_report(directory: Path, meta: dict) -> dict:
        report_stage.write_plots(directory, meta, dataset.train, dataset.test,
                                 lambda x: model_stage.predict(trained.serving, x))
        report_stage.write_report(directory, meta)
        return {}

    return write_bundle(out, metadata, trained.serving, writers=[
        lambda directory, _: write_tfjs(trained.serving, directory, quantize),
        lambda directory, meta: write_standalone(trained.serving, directory, meta),
        write_test_rows,
        write_report,
    ])
