"""`mlbridge verify`: does the browser give Python's answers? For trained and converted models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mlbridge.cli.common import (
    DEFAULT_BUNDLE,
    Browser,
    BundleArg,
    Debug,
    Quiet,
    Reporter,
    app,
    out,
    run,
    sci,
)
from mlbridge.errors import UsageError

#: Exit codes, as `--help` says them.
PARITY_FAILED = 1


@app.command(epilog="Examples:\n\n"
             "  mlbridge verify models/artists --backend cpu\n\n"
             "  mlbridge verify converted/ --sample inputs.npz\n\n"
             "Exit codes: 0 every runtime agrees with Python; 1 a runtime disagrees (the "
             "table says which); 2 bad input (no such bundle, a bad option); 3 verify could "
             "not run (no Chromium, no Node.js, no TF.js).")
def verify(
    bundle_path: BundleArg = DEFAULT_BUNDLE,
    sample: Annotated[Path | None, typer.Option(
        help="Converted models: an .npz of inputs (one array per input name) to check "
        "instead of seeded random ones.", show_default=False)] = None,
    browser: Browser = "/usr/bin/chromium",
    tolerance: Annotated[float, typer.Option(help="Allowed relative difference.")] = 1e-4,
    abs_tolerance: Annotated[float, typer.Option(help="Allowed absolute difference.")] = 1e-3,
    backend: Annotated[list[str] | None, typer.Option(
        help="TF.js backend(s) to check. Default: webgl and cpu.", show_default=False)] = None,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Check that TF.js (and predict.mjs) in headless Chromium give what Python gives."""
    from mlbridge.verify import BACKENDS

    backends = tuple(backend or BACKENDS)
    reporter = Reporter(quiet)

    def action() -> tuple[str, dict]:
        from mlbridge.bundle import read_metadata

        kind = read_metadata(bundle_path).get("kind")
        if kind == "converted":
            from mlbridge.convert import verify_converted

            reporter.stage("Running the SavedModel in Python and the graph in Chromium")
            return kind, verify_converted(bundle_path, sample, backends, browser, tolerance,
                                          abs_tolerance)
        if sample is not None:
            raise UsageError("--sample is for converted models",
                             hint="a trained bundle is checked on its own test rows")
        from mlbridge.verify import verify as verify_trained

        reporter.stage("Predicting with the SavedModel, with TF.js in Chromium and with "
                       "predict.mjs")
        return kind, verify_trained(bundle_path, browser, backends, tolerance, abs_tolerance)

    kind, parity = run(action, debug)
    passed = parity["ok"] if kind == "converted" else parity["passed"]
    if quiet:
        out.print("pass" if passed else "FAIL")
    elif kind == "converted":
        _converted_table(parity)
    else:
        _trained_table(parity)
    if not quiet:
        out.print("A run passes when |diff| <= atol + rtol * |python| for every value; "
                  f"recorded in {bundle_path}/metadata.json under parity.")
    if not passed:
        raise typer.Exit(PARITY_FAILED)


def _result(passed: bool, error: str | None) -> str:
    return "[green]pass[/]" if passed else f"[red]FAIL[/] {error or ''}".strip()


def _trained_table(parity: dict) -> None:
    table = Table(title=f"Parity with Python ({parity['reference']}), {parity['inputs']} inputs",
                  title_justify="left")
    for column in ("runtime", "backend", "max abs diff", "max rel diff", "atol", "rtol",
                   "result"):
        table.add_column(column)
    for check in parity["checks"]:
        tol = check["tolerance"]
        table.add_row(check["runtime"], check.get("backend", ""),
                      sci(check["max_abs_diff"]), sci(check["max_rel_diff"]),
                      f"{tol['atol']:g}", f"{tol['rtol']:g}",
                      _result(check["passed"], check.get("error")))
    out.print(table)
    for why in sorted({c["tolerance"]["why"] for c in parity["checks"]} - {"float32 weights"}):
        out.print(f"[yellow]note:[/] the tfjs runs use {why}, so their tolerance is the "
                  "quantization's; the difference shown is the error quantizing introduced.")
    if "standalone_skipped" in parity:
        out.print(f"[yellow]predict.mjs not checked:[/] {parity['standalone_skipped']}")


def _converted_table(parity: dict) -> None:
    table = Table(title=f"Parity with Python (SavedModel), inputs: {parity['inputs']['from']}",
                  title_justify="left")
    for column in ("backend", "output", "max abs diff", "max rel diff", "result"):
        table.add_column(column)
    for backend, result in parity["backends"].items():
        if "error" in result:
            table.add_row(backend, "", "—", "—", _result(False, result["error"]))
            continue
        for name, check in result["outputs"].items():
            table.add_row(backend, name, sci(check.get("max_abs_diff")),
                          sci(check.get("max_rel_diff")), _result(check["ok"],
                                                                  check.get("error")))
    out.print(table)
