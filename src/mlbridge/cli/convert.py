"""`mlbridge convert`: a model you trained yourself, to a TF.js graph model that runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mlbridge.cli.common import Debug, Quiet, Reporter, app, out, run


@app.command(epilog="Examples:\n\n"
             "  mlbridge convert model.keras --out web_model\n\n"
             "  mlbridge convert saved_model/ --out web_model --quantize float16\n\n"
             "  mlbridge convert custom.keras --import my_layers --out web_model\n\n"
             "Then check it runs: mlbridge verify web_model")
def convert(
    model: Annotated[Path, typer.Argument(
        help="A Keras 3 .keras file, a legacy .h5 file, or a SavedModel directory.")],
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="Directory to write. Default: MODEL's name with _tfjs.",
        show_default=False)] = None,
    quantize: Annotated[str, typer.Option(
        help="none, float16 or uint8: quantize the weights.")] = "none",
    imports: Annotated[list[str] | None, typer.Option(
        "--import", help="A module (name or .py file) to import first, so custom layers "
        "it registers with Keras load. Repeat for several.", show_default=False)] = None,
    replace: Annotated[bool, typer.Option(
        "--replace", help="Replace the bundle at --out even if it was made from another "
        "model (by default that stops with an error).")] = False,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Convert your own Keras model or SavedModel to a TF.js graph model that runs."""
    reporter = Reporter(quiet)
    target = out_dir or model.with_name(f"{model.stem}_tfjs")

    def action() -> dict:
        from mlbridge.convert import convert as convert_api

        return convert_api(model, target, quantize, tuple(imports or ()), reporter, replace)

    metadata = run(action, debug)
    if quiet:
        out.print(str(target))
        return
    table = Table(title=f"{target}/web: {metadata['graph']['bytes']['total']:,} bytes",
                  title_justify="left")
    for column in ("", "name", "dtype", "shape"):
        table.add_column(column)
    for side in ("inputs", "outputs"):
        for spec in metadata["signature"][side]:
            shape = ["?" if d is None or d < 0 else str(d) for d in spec["shape"] or []]
            table.add_row(side[:-1], spec["name"], spec["dtype"], f"[{', '.join(shape)}]")
    out.print(table)
    for rewrite in metadata["rewrites"]:
        out.print(f"[bold]Rewrite[/] {rewrite['name']}: {rewrite['what']} "
                  f"({rewrite['nodes']} node(s))")
    out.print(f"[bold]Next[/]  mlbridge verify {target}")
