"""The TF.js converter's SavedModel route, imported without what that route never uses.

`tensorflowjs` (4.22.0, pinned) imports every converter it has from its package
`__init__` files: the Keras one (through `tf_keras`) and the JAX one (through `jax` and
`flax`). Its SavedModel converter imports `tensorflow_decision_forests` and
`tensorflow_hub` at its top, for TF-DF models and TF-Hub modules. mlbridge only ever
converts SavedModels, and its install leaves jax, jaxlib, flax, TF-DF (and with it
ydf) and tensorflow-hub out (`[tool.uv] override-dependencies` in pyproject.toml): about
600 MB, and the source of the converter's install breaks (tfjs issues 8220, 8301, 8327,
8370, 8655). This module is the one place that makes that work:

- `tensorflowjs` and `tensorflowjs.converters` are registered as bare packages (their
  real directories, none of their `__init__` code), so importing the SavedModel
  converter loads that module and its own light imports only, and not jax (whose mere
  presence makes Keras probe `jax.monitoring`) nor tf_keras (about 2 s);
- `tensorflow_decision_forests` and `tensorflow_hub` get stand-ins, installed or not:
  empty modules whose attributes raise an error naming this file. Not importing them
  even when present matters: `pip install mlbridge` (outside this project's lock) pulls
  the converter's full set, and importing that TF-DF fails on ydf's protobuf.

Where the user imported tensorflowjs or those packages already, nothing is replaced.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

#: Modules the SavedModel converter imports at its top but only uses for other routes.
UNUSED_BY_SAVED_MODEL_ROUTE = ("tensorflow_decision_forests", "tensorflow_hub")


class _StandIn(ModuleType):
    """A module mlbridge never uses: importing works, using anything of it says why not."""

    def __getattr__(self, name: str) -> object:
        if name.startswith("__"):
            raise AttributeError(name)
        raise ImportError(f"{self.__name__}.{name}: {self.__name__} is not used by "
                          "mlbridge (see src/mlbridge/export/converter.py); mlbridge converts "
                          "SavedModels only")


def _bare_package(name: str, directory: Path) -> None:
    """Register package `name` at `directory` without running its `__init__.py`."""
    package = ModuleType(name)
    package.__path__ = [str(directory)]
    package.__file__ = str(directory / "__init__.py")
    package.__package__ = name
    sys.modules[name] = package


def saved_model_converter() -> ModuleType:
    """`tensorflowjs.converters.tf_saved_model_conversion_v2`, imported as described above."""
    if "tensorflowjs" not in sys.modules:
        spec = importlib.util.find_spec("tensorflowjs")
        if spec is None or not spec.submodule_search_locations:
            from mlbridge.errors import ExportError

            raise ExportError("the tensorflowjs package is not installed",
                              hint="run `make setup` (uv sync --locked)")
        root = Path(next(iter(spec.submodule_search_locations)))
        _bare_package("tensorflowjs", root)
        _bare_package("tensorflowjs.converters", root / "converters")
    for name in UNUSED_BY_SAVED_MODEL_ROUTE:
        sys.modules.setdefault(name, _StandIn(name))
    return importlib.import_module("tensorflowjs.converters.tf_saved_model_conversion_v2")
