"""Where mlbridge's own files are: the page, the bundled data and the TF.js runtime.

All of them are package data, read through `importlib.resources`, so an installed wheel
finds them as a source checkout does; nothing here looks for the checkout.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from mlbridge.errors import VerifyError

_PACKAGE = Path(str(resources.files("mlbridge")))
#: The page and its ES modules (served at /static/, copied into a site's static/).
WEB_DIR = _PACKAGE / "web"
#: The reference data `mlbridge train` uses with no arguments (see data/README.md there).
DEFAULT_DATA = _PACKAGE / "data" / "artists.csv"
#: The pinned @tensorflow/tfjs version; its ES-module build is vendored (see vendor/tfjs).
TFJS_VERSION = "4.22.0"
TFJS_FILE = "tf.fesm.min.js"
#: The URL path, under a page's root, that serves the TF.js runtime; versioned, so a
#: browser may cache it for good (web/mlbridge.js builds the same path).
TFJS_PATH = f"vendor/tfjs/{TFJS_VERSION}/{TFJS_FILE}"


def tfjs_dir() -> Path:
    """The folder holding the TF.js runtime file, its licence and its README."""
    folder = _PACKAGE / "vendor" / "tfjs"
    if not (folder / TFJS_FILE).is_file():
        raise VerifyError(f"the TF.js runtime is missing from the package ({folder / TFJS_FILE})",
                          hint="in a source checkout run `make setup`; otherwise reinstall "
                               "mlbridge")
    return folder
