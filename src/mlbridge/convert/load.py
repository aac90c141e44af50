"""Find out what model file we were given, load it, and turn it into a SavedModel.

Format detection reads a few bytes only (no TensorFlow), so a typo in a path costs a
second. Keras files are loaded with `compile=False`: conversion needs the forward pass,
not the optimizer, and a custom loss would otherwise be one more thing to import.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import re
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from mlbridge.errors import ExportError, UnsupportedModel, UsageError

FORMATS = ("keras", "h5", "saved_model")
_ZIP_MAGIC = b"PK\x03\x04"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_HINT_FORMATS = "pass a Keras .keras file, a legacy .h5 file or a SavedModel directory"


def detect_format(path: str | Path) -> tuple[Path, str]:
    """(path, 'keras' | 'h5' | 'saved_model') from the file's first bytes, or an error."""
    path = Path(path)
    if path.name == "saved_model.pb" and path.is_file():
        path = path.parent
    if not path.exists():
        raise UsageError(f"no model at {path}", hint=_HINT_FORMATS)
    if path.is_dir():
        if (path / "saved_model.pb").is_file():
            return path, "saved_model"
        raise UnsupportedModel(f"{path} is a directory without saved_model.pb, "
                               "so not a TensorFlow SavedModel", hint=_HINT_FORMATS)
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(_ZIP_MAGIC) and path.suffix.lower() != ".h5":
        return path, "keras"
    if head == _HDF5_MAGIC:
        return path, "h5"
    what = "is empty" if not head else "is neither a Keras zip archive nor an HDF5 file"
    raise UnsupportedModel(f"{path} {what}", hint=_HINT_FORMATS)


def source_digest(path: Path) -> dict:
    """sha256 and size of the file, or of every file of a directory (paths included)."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    size = 0
    for file in files:
        if path.is_dir():
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with file.open("rb") as handle:
            for block in iter(lambda handle=handle: handle.read(1 << 20), b""):
                digest.update(block)
        size += file.stat().st_size
    return {"sha256": digest.hexdigest(), "bytes": size}


def check_imports(imports: Sequence[str]) -> None:
    """Fail fast, before TensorFlow loads, on a module that cannot be found at all."""
    for spec in imports:
        if spec.endswith(".py") or os.sep in spec:
            if not Path(spec).is_file():
                raise UsageError(f"--import {spec}: no such file",
                                 hint="pass a module name or the path of a .py file")
            continue
        _add_cwd_to_path()
        try:
            found = importlib.util.find_spec(spec)
        except (ImportError, ValueError):
            found = None
        if found is None:
            raise UsageError(f"--import {spec}: no module named {spec}",
                             hint="pass a module importable from the current directory, "
                             "or the path of its .py file")


def _add_cwd_to_path() -> None:
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)


def import_modules(imports: Sequence[str]) -> list[ModuleType]:
    """Import each module so its `register_keras_serializable` classes are registered.

    A name is imported like `python -c "import name"` from the current directory; a
    path to a .py file is run as the module named after the file.
    """
    check_imports(imports)
    modules = []
    for spec in imports:
        try:
            modules.append(_import_one(spec))
        except UsageError:
            raise
        except Exception as exc:  # whatever the user's module raises while importing
            raise UsageError(f"--import {spec} failed: {type(exc).__name__}: {exc}",
                             hint="check that the module imports in plain Python") from exc
    return modules


def _import_one(spec: str) -> ModuleType:
    candidate = Path(spec)
    if spec.endswith(".py") or os.sep in spec:
        name = candidate.stem
        loaded = sys.modules.get(name)
        if loaded is not None and Path(getattr(loaded, "__file__", "") or "").resolve() \
                == candidate.resolve():
            return loaded
        module_spec = importlib.util.spec_from_file_location(name, candidate)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        try:
            module_spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        return module
    _add_cwd_to_path()
    return importlib.import_module(spec)


def load_keras(path: Path) -> Any:
    """The Keras model in a .keras or .h5 file, or an error saying what it needs."""
    from mlbridge._tf import quiet_tensorflow

    _, keras = quiet_tensorflow()
    try:
        model = keras.saving.load_model(str(path), compile=False)
    except Exception as exc:  # Keras raises TypeError, ValueError, OSError, ... on bad files
        raise _load_error(path, exc) from exc
    if not isinstance(model, keras.Model):
        raise UnsupportedModel(f"{path} holds a {type(model).__name__}, not a Keras model",
                               hint=_HINT_FORMATS)
    return model


def _load_error(path: Path, exc: Exception) -> UnsupportedModel:
    text = " ".join(str(exc).split())
    missing = re.search(r"Could not locate (?:class|function) '([^']+)'(.*)", text)
    if missing:
        module = re.search(r"'module': '([^']+)'", missing.group(2))
        where = f" (saved from module {module.group(1)})" if module else ""
        return UnsupportedModel(
            f"{path.name} uses {missing.group(1)}{where}, which is not registered with Keras",
            hint="pass the module that defines it with --import MODULE (a name or a .py "
            "path); its class must be decorated with @keras.saving.register_keras_serializable")
    if "Lambda" in text and "unsafe" in text:
        return UnsupportedModel(f"{path.name} contains a Lambda layer, which Keras will not "
                                "load from a file in safe mode",
                                hint="replace the Lambda by a registered custom layer and "
                                "pass its module with --import")
    return UnsupportedModel(f"Keras could not load {path}: {text[:300]}", hint=_HINT_FORMATS)


def export_saved_model(model: Any, directory: Path) -> None:
    """Write a SavedModel whose `serving_default` signature is the model's forward pass."""
    try:
        model.export(str(directory), format="tf_saved_model", verbose=False)
    except Exception as exc:  # TensorFlow raises many types; the user needs one message
        raise ExportError(f"could not write the SavedModel: {' '.join(str(exc).split())[:300]}",
                          hint="check that the model runs on a batch: model(inputs)") from exc


def copy_saved_model(source: Path, directory: Path) -> None:
    """Copy a SavedModel directory as it is (its assets included)."""
    shutil.copytree(source, directory)


def read_signature(saved_model: Path, key: str = "serving_default") -> Any:
    """The SavedModel's SignatureDef proto for `key`, read from saved_model.pb directly."""
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    try:
        proto.ParseFromString((saved_model / "saved_model.pb").read_bytes())
    except Exception as exc:  # protobuf's DecodeError and friends
        raise UnsupportedModel(f"{saved_model}/saved_model.pb is not a SavedModel protobuf",
                               hint=_HINT_FORMATS) from exc
    names = []
    for meta_graph in proto.meta_graphs:
        if "serve" in meta_graph.meta_info_def.tags and key in meta_graph.signature_def:
            return meta_graph.signature_def[key]
        names += list(meta_graph.signature_def)
    raise UnsupportedModel(f"the SavedModel has no '{key}' signature for serving "
                           f"(it has: {', '.join(sorted(names)) or 'none'})",
                           hint="export with keras_model.export(DIR), or save with "
                           "tf.saved_model.save(obj, DIR, signatures=fn)")


def layer_names(model: Any) -> list[str]:
    """Top-level layer names (and the model's own), to name where a graph node comes from."""
    return [layer.name for layer in model.layers]
