"""The model bundle: the one contract between Python and JavaScript.

A bundle is a directory with `metadata.json` at its top. It is always written whole
into a staging directory beside its target and renamed into place at the end
(`atomic.py`), so a failed or interrupted run leaves the previous bundle as it was.
"""

from __future__ import annotations

import json
import platform
import re
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from importlib import metadata as package_metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mlbridge.atomic import check_out, staging, write_json
from mlbridge.errors import DataError, UsageError
from mlbridge.heads import ClassificationHead, Head
from mlbridge.inputs import check_inputs, table_inputs
from mlbridge.kinds import Column, notes, table_notes

if TYPE_CHECKING:
    import keras

#: 2: one named graph input per feature (numbers and categories), missing values.
SCHEMA_VERSION = 2
METADATA = "metadata.json"
#: The model as plain steps (export/standalone.py), for predictions without TensorFlow.
STEPS = "steps.json"
#: What of metadata.json the browser gets in web/metadata.json.
WEB_KEYS = ("schema_version", "kind", "name", "created", "key", "inputs", "other_columns",
            "output", "graph", "litert", "model", "standalone", "signature", "runtimes")
#: Adds files to a bundle's staging directory; returns metadata sections it fills in.
Writer = Callable[[Path, dict], dict]


class Bundle:
    """A trained model on disk: its metadata, and predictions from raw feature values."""

    def __init__(self, path: str | Path, metadata: dict, model: keras.Model | None = None) -> None:
        self.path = Path(path)
        self.metadata = metadata
        self._model = model

    def __repr__(self) -> str:
        return f"Bundle({str(self.path)!r}, target={self.target!r}, features={self.features!r})"

    @property
    def features(self) -> list[str]:
        return [spec["name"] for spec in self.metadata["inputs"]]

    @property
    def columns(self) -> list[Column]:
        """The inputs as column objects (kind, vocabulary, training range)."""
        return [Column.from_json(spec) for spec in self.metadata["inputs"]]

    @property
    def target(self) -> str:
        return self.metadata["output"]["name"]

    @property
    def head(self) -> Head:
        """What the model answers: a regression (with its interval) or a classification."""
        return Head.from_json(self.metadata["output"])

    @property
    def labels(self) -> list[str] | None:
        """The class labels in output order, or None for regression."""
        return self.metadata["output"].get("labels")

    @property
    def metrics(self) -> dict:
        return self.metadata["metrics"]

    @property
    def model(self) -> keras.Model:
        """The serving Keras model, loaded from `model.keras` on first use."""
        if self._model is None:
            from mlbridge.layers import keras

            try:
                self._model = keras.saving.load_model(self.path / "model.keras")
            except (OSError, ValueError) as exc:  # missing, truncated, or not a Keras file
                raise DataError(f"{self.path}/model.keras cannot be loaded: {exc}",
                                hint=f"train the bundle again: mlbridge train ... --out "
                                     f"{self.path}") from exc
        return self._model

    @property
    def other_columns(self) -> list[str]:
        """Columns of the training table that are not inputs (key, target, left out):
        a record passed whole may carry them; any other name is a mistake."""
        return list(self.metadata.get("other_columns", []))

    @cached_property
    def steps(self) -> list | None:
        """The model as plain steps (steps.json, as predict.mjs runs them), or None."""
        from mlbridge.export.standalone import load_steps

        path = self.path / STEPS
        return load_steps(path) if path.is_file() else None

    def check(self, inputs: Mapping[str, Any] | pd.DataFrame) -> dict[str, np.ndarray]:
        """Raw inputs checked by the one input rule (inputs.py): values by graph input."""
        return check_inputs(inputs, self.metadata["inputs"], self.other_columns)

    def run(self, graph_inputs: dict[str, np.ndarray]) -> np.ndarray:
        """The serving output, `[rows, k]`, for checked inputs: numpy on the bundle's
        steps when it has them (no TensorFlow to import: a second less than a blink,
        not ten), else the Keras model. The tests hold the two to the same answers."""
        from mlbridge.export.standalone import run_steps

        if self.steps is not None:
            return run_steps(self.steps, [graph_inputs[spec["input"]]
                                          for spec in self.metadata["inputs"]])
        from mlbridge.serving import serving_values

        return serving_values(self.model, self.columns, graph_inputs)

    def outputs(self, inputs: Mapping[str, Any] | pd.DataFrame) -> np.ndarray:
        """The serving model's raw output, `[rows, k]` (see `metadata.output.columns`)."""
        return self.run(self.check(inputs))

    def predict(self, inputs: Mapping[str, Any] | pd.DataFrame) -> np.ndarray:
        """Predict from raw feature values, one value or list per feature.

        Regression: values in target units, `[rows]`. Classification: probabilities,
        `[rows, labels]` in `bundle.labels` order. A feature left out, and missing values
        (None, NaN, ""), are imputed by the model; a category it has never seen counts
        as "other"; a name that is not a feature is an error naming the closest one.

        >>> bundle.predict({"twitter_followers": [1_000, 2_000_000]})
        """
        outputs = self.outputs(inputs)
        return outputs if self.labels is not None else outputs[:, 0]

    def predict_labels(self, inputs: Mapping[str, Any] | pd.DataFrame) -> np.ndarray:
        """The most probable label of each row (classification only)."""
        head = self.head
        if not isinstance(head, ClassificationHead):
            raise UsageError("this bundle predicts numbers, not labels", hint="use predict()")
        return head.predicted_labels(self.outputs(inputs))

    def predict_interval(self, inputs: Mapping[str, Any] | pd.DataFrame) -> np.ndarray:
        """`[rows, 3]`: value, lower, upper (regression trained with an interval only)."""
        if self.head.columns != ["value", "lower", "upper"]:
            raise UsageError("this bundle has no prediction interval",
                             hint="train it with --interval 0.8 (the default for numbers)")
        return self.outputs(inputs)

    def notes(self, inputs: Mapping[str, Any] | pd.DataFrame) -> list[list[str]]:
        """Per row, where the model is guessing: out of range, unknown category, missing."""
        checked = list(self.check(inputs).values())
        columns = self.columns
        return [notes(columns, list(row)) for row in zip(*checked, strict=True)]

    def predict_table(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Add the head's columns and `notes` to a table of raw text, as read from a file.

        Regression: `predicted_<target>` (and `<target>_lower`, `<target>_upper`);
        classification: `predicted_<target>` (the most probable label) and one
        `probability_<label>` per class. Cells are read as training read them (empty
        cells and tokens such as `NA` are missing); a cell that is not a number where one
        is needed gives its row no prediction and a note saying so (inputs.py). Values are
        written as float32 holds them.
        """
        columns = self.columns
        raw, problems = table_inputs(frame, self.metadata["inputs"])
        values = self.run(raw)
        bad = np.array([bool(p) for p in problems], dtype=bool)
        out = frame.copy()
        for name, column in self.head.table_columns(values).items():
            column = np.asarray(column)
            if column.dtype.kind == "f":  # what float32 holds: 48.047638, not 48.04763793945...
                out[name] = np.where(bad, np.nan, column).astype(np.float32)
            else:
                out[name] = np.where(bad, None, column)
        out["notes"] = np.where(bad, np.asarray(problems, dtype=object),
                                table_notes(columns, raw))
        return out

    def update_metadata(self, **sections: Any) -> None:
        """Set top-level sections (such as `parity`) in metadata.json and web/metadata.json.

        Each file is replaced atomically (written beside, then renamed), so a crash in
        the middle never leaves a truncated contract.
        """
        from mlbridge.report import write_report

        self.metadata.update(sections)
        write_json(self.path / METADATA, self.metadata)
        write_json(self.path / "web" / METADATA, web_metadata(self.metadata))
        if (self.path / "report.html").is_file():
            write_report(self.path, self.metadata)  # shows the new sections, e.g. parity


def read_metadata(path: str | Path) -> dict:
    """The metadata.json of a bundle (trained or converted), with its schema checked."""
    path = Path(path)
    meta = path / METADATA
    if not meta.is_file():
        what = ("does not exist" if not path.exists()
                else "is not an mlbridge bundle (no metadata.json)")
        raise DataError(f"{path} {what}", hint=f"train one first: mlbridge train --out {path}")
    try:
        metadata = json.loads(meta.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{meta} cannot be read: {exc}", hint="train the bundle again") from exc
    if not isinstance(metadata, dict):
        raise DataError(f"{meta} is not an mlbridge metadata file", hint="train the bundle again")
    version = metadata.get("schema_version")
    if version != SCHEMA_VERSION:
        older = isinstance(version, int) and version < SCHEMA_VERSION
        raise DataError(f"{path} was written by {'an older' if older else 'another'} mlbridge "
                        f"(bundle schema {version}; this one reads {SCHEMA_VERSION})",
                        hint=f"train it again: mlbridge train ... --out {path}")
    return metadata


def load(path: str | Path) -> Bundle:
    """Open a bundle written by `mlbridge train`."""
    metadata = read_metadata(path)
    if metadata.get("kind") == "converted":
        raise DataError(f"{path} is a model converted by mlbridge convert, not a trained bundle",
                        hint=f"check it with: mlbridge verify {path}")
    for section in ("inputs", "output"):
        if not isinstance(metadata.get(section), list | dict):
            raise DataError(f"{path}/metadata.json has no valid '{section}' section",
                            hint="train the bundle again")
    gone = [name for name in metadata.get("files", {}) if not (Path(path) / name).is_file()]
    if gone:  # a bundle is written whole: a file missing means someone removed it
        listed = ", ".join(gone[:3]) + (f" and {len(gone) - 3} more" if len(gone) > 3 else "")
        raise DataError(f"{path} is incomplete: {listed} missing",
                        hint=f"train the bundle again: mlbridge train ... --out {path}")
    return Bundle(path, metadata)


def check_replace(out: Path, source: str, what: str, replace: bool) -> None:
    """Refuse to replace a bundle made from another source, unless `replace` is set.

    Retraining from the same file name (for the same target) is the everyday loop and
    replaces silently; anything else would lose someone's model without a word (a
    penguin classifier written over the artists bundle), so it stops and says whose
    bundle is there. `source` is the new run's file name, `what` the target (or "" for
    a converted model).
    """
    meta_path = out / METADATA
    if replace or not meta_path.is_file():
        return
    try:
        existing = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError):
        return  # a broken bundle: nothing worth keeping, and write_bundle replaces it whole
    made_from = _made_from(existing)
    if made_from is None or made_from == (_file_name(source), what):
        return  # not a readable bundle (nothing to keep), or a retrain of the same
    old_source, old_what = made_from
    made = f"{old_what} from {old_source}" if old_what else f"converted from {old_source}"
    new = f"{what} from {_file_name(source)}" if what else f"converted from {_file_name(source)}"
    raise UsageError(f"--out {out} holds another model ({made}); this run makes {new}",
                     hint=f"pass another --out, or --replace to replace {out}")


def _file_name(location: str | Path) -> str:
    """The last part of a path or URL: what names a table or a model to a person."""
    return str(location).rstrip("/").replace("\\", "/").rsplit("/", 1)[-1]


def _made_from(metadata: dict) -> tuple[str, str] | None:
    """(source file name, target) of an existing bundle, target "" for a converted model;
    None when the metadata does not say (not a bundle mlbridge can read)."""
    if not isinstance(metadata, dict):
        return None
    if metadata.get("kind") == "converted":
        path = (metadata.get("source") or {}).get("path")
        return (_file_name(path), "") if path else None
    source = (metadata.get("data") or {}).get("source")
    target = (metadata.get("output") or {}).get("name")
    return (_file_name(source), str(target)) if source and target else None


def default_out(source: str | Path, parent: str = "models") -> Path:
    """`models/<name>` for a table: its file name without extensions (`penguins.csv.gz`
    → `models/penguins`), so training another table never lands on the last one's bundle."""
    name = _file_name(source)
    stem = name.split(".", 1)[0] if not name.startswith(".") else name.lstrip(".")
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_") or "model"
    return Path(parent) / stem


def web_metadata(metadata: dict) -> dict:
    """The part of metadata.json the browser client reads."""
    return {k: metadata[k] for k in WEB_KEYS if k in metadata}


def versions() -> dict[str, str]:
    """Versions of everything that shapes the model's numbers, without importing them."""
    found = {"python": platform.python_version()}
    for name in ("mlbridge", "tensorflow", "keras", "tensorflowjs", "numpy", "pandas"):
        try:
            found[name] = package_metadata.version(name)
        except package_metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def file_sizes(root: Path) -> dict[str, int]:
    """Every file under `root` with its size in bytes, by relative POSIX path."""
    return {p.relative_to(root).as_posix(): p.stat().st_size
            for p in sorted(root.rglob("*")) if p.is_file()}


def write_bundle(out: str | Path, metadata: dict, model: keras.Model,
                 writers: Sequence[Writer] = ()) -> Bundle:
    """Write the complete bundle for `model` at `out`, atomically, and return it.

    `writers` add further files (exports, reports) into the staging directory, in order,
    each seeing the metadata so far; the file list is taken after all of them ran.
    """
    out = check_out(out, METADATA, "bundle")
    metadata = {**metadata, "name": out.name}
    with staging(out) as tmp:
        model.save(tmp / "model.keras")
        for write in writers:
            metadata.update(write(tmp, metadata))
        # Every file but the two metadata.json files, which cannot list their own size.
        metadata["files"] = file_sizes(tmp)
        write_json(tmp / METADATA, metadata)
        write_json(tmp / "web" / METADATA, web_metadata(metadata))
    return Bundle(out, metadata, model)
