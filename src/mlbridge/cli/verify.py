"""`mlbridge verify`: does every runtime give Python's answers? For trained and converted models."""

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
_STATUS = {"passed": "[green]pass[/]", "failed": "[red]FAIL[/]",
           "unsupported": "[yellow]cannot run[/]", "unavailable": "[dim]unavailable[/]"}


@app.command(epilog="Examples:\n\n"
             "  mlbridge verify models/artists\n\n"
             "  mlbridge verify models/artists --runtime tfjs-wasm --runtime litert-wasm\n\n"
             "  mlbridge verify converted/ --sample inputs.npz\n\n"
             "Runtimes: tfjs-cpu, tfjs-wasm, tfjs-webgl, tfjs-webgpu, litert-wasm, "
             "litert-webgpu, standalone (predict.mjs in Chromium), standalone-node.\n\n"
             "Exit codes: 0 every runtime that ran agrees with Python (one that cannot run "
             "this model is listed with its error, and never chosen by runtime \"auto\"); "
             "1 a runtime disagrees, or TF.js cpu or predict.mjs could not run; 2 bad input "
             "(no such bundle, a bad option); 3 verify could not run (no Chromium, no "
             "Node.js).")
def verify(
    bundle_path: BundleArg = DEFAULT_BUNDLE,
    sample: Annotated[Path | None, typer.Option(
        help="Converted models: an .npz of inputs (one array per input name) to check "
        "instead of seeded random ones.", show_default=False)] = None,
    browser: Browser = "/usr/bin/chromium",
    tolerance: Annotated[float, typer.Option(help="Allowed relative difference.")] = 1e-4,
    abs_tolerance: Annotated[float, typer.Option(help="Allowed absolute difference.")] = 1e-3,
    runtime: Annotated[list[str] | None, typer.Option(
        help="Runtime(s) to check. Default: every one the bundle has.",
        show_default=False)] = None,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Check that every runtime (TF.js, LiteRT.js, predict.mjs) gives what Python gives."""
    reporter = Reporter(quiet)

    def action() -> dict:
        from mlbridge.bundle import read_metadata

        kind = read_metadata(bundle_path).get("kind")
        reporter.stage("Predicting with the SavedModel in Python, then with every runtime "
                       "in Chromium and Node.js")
        if kind == "converted":
            from mlbridge.convert import verify_converted

            return verify_converted(bundle_path, sample, runtime, browser, tolerance,
                                    abs_tolerance)
        if sample is not None:
            raise UsageError("--sample is for converted models",
                             hint="a trained bundle is checked on its own test rows")
        from mlbridge.verify import verify as verify_trained

        return verify_trained(bundle_path, browser, runtime, tolerance, abs_tolerance)

    parity = run(action, debug)
    if quiet:
        out.print("pass" if parity["passed"] else "FAIL")
    else:
        _table(parity)
        out.print("A runtime passes when |diff| <= atol + rtol * |python| for every value; "
                  f"recorded in {bundle_path}/metadata.json under parity.")
    if not parity["passed"]:
        raise typer.Exit(PARITY_FAILED)


def _table(parity: dict) -> None:
    table = Table(title=f"Parity with Python ({parity['reference']}), {parity['inputs']} inputs",
                  title_justify="left")
    for column in ("runtime", "max abs diff", "max rel diff", "first", "per call", "result"):
        table.add_column(column, no_wrap=column == "runtime")
    reasons = []
    for check in parity["checks"]:
        first = f"{check['first_ms']:,.0f} ms" if "first_ms" in check else "—"
        call = f"{check['ms_per_prediction']:.3g} ms" if "ms_per_prediction" in check else "—"
        result = _STATUS[check["status"]]
        if check.get("error"):  # said below the table, whole, where it has room
            reasons.append(f"  {check['runtime']}: {check['error']}")
            result += f" ({len(reasons)})"
        table.add_row(check["runtime"], sci(check.get("max_abs_diff")),
                      sci(check.get("max_rel_diff")), first, call, result)
    out.print(table)
    for number, reason in enumerate(reasons, 1):
        out.print(f"({number}){reason[1:]}", highlight=False, markup=False)
    whys = {c["tolerance"]["why"] for c in parity["checks"] if isinstance(c.get("tolerance"), dict)}
    for why in sorted(whys - {"float32 weights"}):
        out.print(f"[yellow]note:[/] the tfjs runs use {why}, so their tolerance is the "
                  "quantization's; the difference shown is the error quantizing introduced.")
    if "standalone_skipped" in parity:
        out.print(f"[yellow]predict.mjs not checked:[/] {parity['standalone_skipped']}")
    if parity.get("ranking"):
        out.print(f"[bold]auto[/] picks, in this kind of browser: {', '.join(parity['ranking'])}")
