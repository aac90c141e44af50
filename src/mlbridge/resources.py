"""Where mlbridge's own files are: the page, the bundled data and the browser runtimes.

All of them are package data, read through `importlib.resources`, so an installed wheel
finds them as a source checkout does; nothing here looks for the checkout.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from mlbridge.errors import VerifyError

_PACKAGE = Path(str(resources.files("mlbridge")))
#: The page and its ES modules (served at /static/, copied into a site's static/).
WEB_DIR = _PACKAGE / "web"
#: The reference data `mlbridge train` uses with no arguments (see data/README.md there).
DEFAULT_DATA = _PACKAGE / "data" / "artists.csv"


@dataclass(frozen=True)
class Vendored:
    """A browser runtime vendored from a pinned npm package by `make setup`
    (scripts/vendor.mjs), served and copied at `vendor/<name>/<version>/`: a URL that
    names its version, so a browser may cache it for good."""

    name: str
    package: str
    version: str

    @property
    def folder(self) -> Path:
        return _PACKAGE / "vendor" / self.name

    @property
    def url(self) -> str:
        """The URL path under a page's root (web/runtimes/*.js build the same one)."""
        return f"vendor/{self.name}/{self.version}/"

    def file(self, relative: str) -> Path:
        """A vendored file, or an error saying how to get it."""
        path = self.folder / relative
        if not path.is_file():
            raise VerifyError(f"{self.package} is missing from the package ({path})",
                              hint="in a source checkout run `make setup`; otherwise "
                                   "reinstall mlbridge")
        return path


TFJS = Vendored("tfjs", "@tensorflow/tfjs", "4.22.0")
LITERT = Vendored("litertjs", "@litertjs/core", "2.5.3")
VENDORED = {vendored.name: vendored for vendored in (TFJS, LITERT)}
#: What every vendored folder holds beside the runtime files.
NOTICES = ("LICENSE", "README.md")
