"""The model bundle: the one contract between Python and JavaScript.

A bundle is a directory with `metadata.json` at its top. It is always written whole
into a temporary directory beside its target and renamed into place at the end, so a
failed or interrupted run leaves the previous bundle exactly as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mlbridge.dataset import parse_numbers
from mlbridge.errors import DataError, UsageError

if TYPE_CHECKING:
    from collections.abc import Iterator

    import keras

SCHEMA_VERSION = 1
METADATA = "metadata.json"
#: What of metadata.json the browser gets in web/metadata.json.
WEB_KEYS = ("schema_version", "name", "created", "key", "inputs", "output", "graph", "model",
            "standalone")
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
    def target(self) -> str:
        return self.metadata["output"]["name"]

    @property
    def metrics(self) -> dict:
        return self.metadata["metrics"]

    @property
    def model(self) -> keras.Model:
        """The serving Keras model, loaded from `model.keras` on first use."""
        if self._model is None:
            from mlbridge.layers import keras

            self._model = keras.saving.load_model(self.path / "model.keras")
        return self._model

    def predict(self, inputs: Mapping[str, Any] | pd.DataFrame) -> np.ndarray:
        """Predict in target units from raw feature values, one array per feature name.

        >>> bundle.predict({"twitter_followers": [1_000, 2_000_000]})
        """
        from mlbridge.model import predict

        return predict(self.model, self.feature_matrix(inputs))

    def feature_matrix(self, inputs: Mapping[str, Any] | pd.DataFrame) -> np.ndarray:
        """Check raw inputs and stack them into `[rows, features]` in the graph's order."""
        columns = []
        for name in self.features:
            if name not in inputs:
                raise DataError(f"missing feature '{name}'",
                                hint=f"the model needs: {', '.join(self.features)}")
            values = np.atleast_1d(np.asarray(inputs[name], dtype=object))
            parsed, missing, not_numeric = parse_numbers(pd.Series(values.astype(str)))
            if missing.any() or not_numeric.any():
                bad = values[missing | not_numeric][0]
                raise DataError(f"feature '{name}' has a value that is not a number: {bad!r}")
            columns.append(parsed)
        if len({len(c) for c in columns}) > 1:
            raise DataError("features have different numbers of values",
                            hint="give the same number of values for every feature")
        return np.column_stack(columns)

    def predict_table(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Add `predicted_<target>` (and a reason where a row cannot be used) to a table.

        A row with a missing or non-numeric feature gets an empty prediction and its
        reason; it never stops the other rows.
        """
        reasons = pd.Series("", index=frame.index, dtype=object)
        columns = []
        for name in self.features:
            if name not in frame.columns:
                raise DataError(f"column '{name}' not found; columns are: "
                                f"{', '.join(map(str, frame.columns))}",
                                hint=f"the model needs: {', '.join(self.features)}")
            values, missing, not_numeric = parse_numbers(frame[name])
            reasons[(reasons == "") & missing] = f"missing {name}"
            reasons[(reasons == "") & not_numeric] = f"{name} not a number"
            columns.append(values)
        usable = (reasons == "").to_numpy()
        predictions = np.full(len(frame), np.nan)
        if usable.any():
            from mlbridge.model import predict

            predictions[usable] = predict(self.model, np.column_stack(columns)[usable])
        out = frame.copy()
        out[f"predicted_{self.target}"] = predictions
        out[f"predicted_{self.target}_reason"] = reasons
        return out

    def update_metadata(self, **sections: Any) -> None:
        """Set top-level sections (such as `parity`) in metadata.json and web/metadata.json."""
        from mlbridge.report import write_report

        self.metadata.update(sections)
        write_json(self.path / METADATA, self.metadata)
        write_json(self.path / "web" / METADATA, web_metadata(self.metadata))
        if (self.path / "report.html").is_file():
            write_report(self.path, self.metadata)  # shows the new sections, e.g. parity


def load(path: str | Path) -> Bundle:
    """Open a bundle written by `mlbridge train`."""
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
    if metadata.get("schema_version") != SCHEMA_VERSION:
        raise DataError(f"{path} has bundle schema {metadata.get('schema_version')}, "
                        f"this mlbridge reads {SCHEMA_VERSION}", hint="train the bundle again")
    return Bundle(path, metadata)


def web_metadata(metadata: dict) -> dict:
    """The part of metadata.json the browser client reads."""
    return {k: metadata[k] for k in WEB_KEYS if k in metadata}


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def check_out(out: str | Path) -> Path:
    """Refuse an `--out` that would destroy something that is not an mlbridge bundle.

    Called before any training so the user hears about it in a second, not a minute.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is an existing file",
                         hint="pass a directory path for the bundle")
    if out.is_dir() and any(out.iterdir()) and not (out / METADATA).is_file():
        raise UsageError(f"--out {out} is a non-empty directory that is not an mlbridge bundle",
                         hint="pass a new or empty directory, or an existing bundle to replace")
    return out


def file_sizes(root: Path) -> dict[str, int]:
    """Every file under `root` with its size in bytes, by relative POSIX path."""
    return {p.relative_to(root).as_posix(): p.stat().st_size
            for p in sorted(root.rglob("*")) if p.is_file()}


@contextmanager
def staging(out: Path) -> Iterator[Path]:
    """Yield a temporary directory beside `out`; on success move it to `out` atomically.

    Beside, not in /tmp, so the final rename stays on one filesystem. On any failure
    (including Ctrl-C) the temporary directory is removed and `out` is untouched.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        yield tmp
        replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def replace_dir(new: Path, out: Path) -> None:
    """Put directory `new` at `out`, replacing an existing `out` with two renames."""
    if not out.exists():
        new.rename(out)
        return
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    out.rename(old)
    try:
        new.rename(out)
    except BaseException:
        old.rename(out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def write_bundle(out: str | Path, metadata: dict, model: keras.Model,
                 writers: Sequence[Writer] = ()) -> Bundle:
    """Write the complete bundle for `model` at `out`, atomically, and return it.

    `writers` add further files (exports, reports) into the staging directory, in order,
    each seeing the metadata so far; the file list is taken after all of them ran.
    """
    out = check_out(out)
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
