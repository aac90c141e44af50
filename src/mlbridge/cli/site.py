"""`mlbridge site`: the page as static files, for any static host; no server needed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlbridge.cli.common import DEFAULT_BUNDLE, BundleArg, Debug, Quiet, Reporter, app, out, run


@app.command(epilog="Examples:\n\n"
             "  mlbridge site models/artists --out site\n\n"
             "  python3 -m http.server -d site    # or copy site/ to any static host\n\n"
             "  mlbridge site models/cars --out site --key Name --data more_cars.csv")
def site(
    bundle_path: BundleArg = DEFAULT_BUNDLE,
    out_dir: Annotated[Path, typer.Option(
        "--out", help="Directory to write the site to (replaced whole if it is a site).")
    ] = Path("site"),
    key: Annotated[str | None, typer.Option(
        help="Key column the page looks up. Default: the bundle's key.")] = None,
    data: Annotated[str | None, typer.Option(
        help="Table for key lookups. Default: the data the bundle was trained on.")] = None,
    runtimes: Annotated[str, typer.Option(
        help="Runtimes the site carries: auto (the one the page's auto picks, plus TF.js "
        "cpu), all, or names such as standalone,tfjs-wasm,litert-wasm.")] = "auto",
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Write the prediction page, the model and the key lookup as static files."""
    reporter = Reporter(quiet)

    def action() -> dict:
        from mlbridge.site import build_site

        asked = runtimes if runtimes in ("auto", "all") else [
            name.strip() for name in runtimes.split(",") if name.strip()]
        return build_site(bundle_path, out_dir, key, data, reporter, asked)

    summary = run(action, debug)
    if quiet:
        out.print(str(out_dir))
        return
    lookup = summary["lookup"]
    found = (f"{lookup['records']:,} keys in {lookup['files']:,} lookup files (largest "
             f"{lookup['largest_bytes']:,} bytes)" if lookup else "no key lookup")
    out.print(f"[bold]Site[/] {out_dir}: {summary['files']:,} files, {summary['bytes']:,} bytes; "
              f"{found}; runtimes: {', '.join(summary['runtimes'])}")
    out.print(f"[bold]Next[/]  python3 -m http.server -d {out_dir}   (or copy it to any "
              "static host)")
