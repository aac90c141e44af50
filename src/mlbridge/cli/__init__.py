"""The `mlbridge` command: a thin face on the Python API, one module per command.

Each command parses its options, calls one API function, and draws the result. Errors
from any stage are caught once (`common.run`) and printed as one line plus a hint.
Options mean the same in every command: `--out` is what it writes, `--quiet`/`-q`
prints only results and errors, `--debug` shows the traceback of an error.
"""

from __future__ import annotations

import importlib

from mlbridge.cli.common import app

#: Each module registers its command(s) on `app`; `--help` lists them in this order.
COMMANDS = ("train", "predict", "verify", "serve", "site", "convert")
for _name in COMMANDS:
    importlib.import_module(f"mlbridge.cli.{_name}")


def main() -> None:
    """Entry point of the `mlbridge` script."""
    app()
