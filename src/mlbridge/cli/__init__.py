"""The `mlbridge` command: a thin face on the Python API, one module per command.

Each command parses its options, calls one API function, and draws the result. Errors
from any stage are caught once (`common.run`) and printed as one line plus a hint.
Options mean the same in every command: `--out` is what it writes, `--quiet`/`-q`
prints only results and errors, `--debug` shows the traceback of an error.
"""

from __future__ import annotations

import importlib
import sys

from mlbridge.cli.common import app

#: Each module registers its command(s) on `app`; `--help` lists them in this order.
COMMANDS = ("train", "predict", "verify", "serve", "site", "convert")
for _name in COMMANDS:
    importlib.import_module(f"mlbridge.cli.{_name}")


def main() -> None:
    """Entry point of the `mlbridge` script.

    Usage errors (a missing argument, an unknown option, a value of the wrong type) are
    said like every other error: one line and a hint, exit code 2, not click's box.
    They are click's UsageError, which typer keeps in a private copy of click, so they
    are known by what they carry: a message and exit code 2.
    """
    import typer

    from mlbridge.cli.common import say_error

    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        code = 130
    except Exception as exc:
        if getattr(exc, "exit_code", None) != 2 or not hasattr(exc, "format_message"):
            raise
        context = getattr(exc, "ctx", None)
        command = context.command_path if context is not None else "mlbridge"
        message = exc.format_message().rstrip(".")
        say_error(message[:1].lower() + message[1:], f"see {command} --help")
        code = 2
    sys.exit(code if isinstance(code, int) else 0)
