"""What every command shares: the app, the consoles, the shared options, error handling."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from mlbridge.errors import MlbridgeError

app = typer.Typer(
    name="mlbridge",
    help="Train a model in Python, ship it to the browser, and check the browser agrees.\n\n"
    "Start with:  mlbridge train   (trains on the bundled artists data)",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

DEFAULT_BUNDLE = Path("models/artists")
Debug = Annotated[bool, typer.Option("--debug", help="Show the full traceback on errors.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print only results and errors.")]
Browser = Annotated[str, typer.Option(help="Chromium executable.")]
BundleArg = Annotated[Path, typer.Argument(metavar="[BUNDLE]", help="Bundle directory.")]


def say_error(message: str, hint: str | None, label: str = "error") -> None:
    """One line saying what is wrong, one saying what to do; user text is never markup."""
    err.print(Text.assemble((f"{label}: ", "bold red"), message), soft_wrap=True)
    if hint:
        err.print(Text.assemble(("hint: ", "dim"), hint), soft_wrap=True)


def run(action: Callable[[], Any], debug: bool) -> Any:
    """Call `action`; turn any failure into one line, a hint, and the right exit code."""
    try:
        return action()
    except MlbridgeError as exc:
        if debug:
            raise
        say_error(exc.message, exc.hint)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        err.print("interrupted: nothing was changed")
        raise typer.Exit(130) from None
    except Exception as exc:
        if debug:
            raise
        say_error(f"{type(exc).__name__}: {exc}",
                  "run again with --debug for the traceback, and report it", "internal error")
        raise typer.Exit(1) from None


class Reporter:
    """Stage lines and an epoch bar on stderr, so stdout carries only results."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.progress: Progress | None = None
        self.task: Any = None
        self.passing: list[Any] | None = None  # the pass `rows` reports: label, start, last line

    def stage(self, message: str) -> None:
        self.close()
        if not self.quiet:
            err.print(Text.assemble(("→ ", "cyan"), message))

    __call__ = stage  # convert() reports with a plain callable

    def epoch(self, epoch: int, cap: int, loss: float, val_loss: float) -> None:
        if self.quiet or not err.is_terminal:
            return
        if self.progress is None:
            self.progress = Progress(TextColumn("  epoch"), MofNCompleteColumn(), BarColumn(),
                                     TextColumn("{task.fields[losses]}"), console=err,
                                     transient=True)
            self.progress.start()
            self.task = self.progress.add_task("", total=cap, losses="")
        self.progress.update(self.task, completed=epoch,
                             losses=f"loss {loss:.4f}  val_loss {val_loss:.4f}")

    def rows(self, label: str, rows: int, fraction: float) -> None:
        """One pass over a large input: rows done, rows per second, the time left (from
        how far through the input it is). A terminal gets a bar; a log a line each 10 s."""
        if self.quiet:
            return
        now = time.monotonic()
        if self.passing is None or self.passing[0] != label:
            self.close()
            self.passing = [label, now, now]
        _, started, logged = self.passing
        rate = rows / max(now - started, 1e-9)
        counts = f"{rows:,} rows, {rate:,.0f} rows/s"
        if not err.is_terminal:
            if now - logged >= 10:
                left = (now - started) * (1 - fraction) / max(fraction, 1e-9)
                err.print(f"  {label}: {counts}, {fraction:.0%}, about {left:.0f} s left")
                self.passing[2] = now
            return
        if self.progress is None:
            self.progress = Progress(TextColumn(f"  {label}"), BarColumn(),
                                     TextColumn("{task.fields[counts]}"),
                                     TimeRemainingColumn(), console=err, transient=True)
            self.progress.start()
            self.task = self.progress.add_task("", total=1.0, counts="")
        self.progress.update(self.task, completed=fraction, counts=counts)

    def close(self) -> None:
        self.passing = None
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def sci(value: float | None) -> str:
    return "—" if value is None else f"{value:.2e}"
