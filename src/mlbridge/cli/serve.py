"""`mlbridge serve` and `mlbridge demo`: the page, the model and key lookups over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mlbridge.cli.common import (
    DEFAULT_BUNDLE,
    BundleArg,
    Debug,
    Quiet,
    Reporter,
    app,
    err,
    out,
    run,
)
from mlbridge.cli.train import print_summary
from mlbridge.errors import UsageError


def _check_port(host: str, port: int) -> None:
    import socket

    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}",
                             hint="pass another --port, or stop what is using it") from None


def _serve(bundle_path: Path, data: str | None, key: str | None, host: str, port: int,
           quiet: bool) -> None:
    import uvicorn

    from mlbridge.bundle import load
    from mlbridge.server import create_app, open_records

    bundle = load(bundle_path)
    _check_port(host, port)
    reporter = Reporter(quiet)
    source = data or bundle.metadata["data"]["source"]
    reporter.stage(f"Opening the lookup database of {source}")
    records = open_records(bundle, data, key)
    if records is not None:
        reporter.stage(f"{records.count():,} records, " + (
            "unchanged since the last start" if records.reused else f"built from {source}"))
    app = create_app(bundle, records)
    if host not in ("127.0.0.1", "localhost", "::1"):
        err.print(f"[yellow]warning:[/] listening on {host}: other machines can reach this server")
    rows = f"{records.count():,} records" if records else "no record lookup"
    out.print(f"[bold]Serving[/] {bundle.path} ({rows}) at [bold]http://{host}:{port}[/]  "
              "(Ctrl-C to stop)")
    uvicorn.run(app, host=host, port=port, log_level="warning")


Host = Annotated[str, typer.Option(help="Address to listen on; 127.0.0.1 keeps it local.")]
Port = Annotated[int, typer.Option(help="Port to listen on.")]


@app.command(epilog="Example:\n\n  mlbridge serve models/artists --port 8000")
def serve(
    bundle_path: BundleArg = DEFAULT_BUNDLE,
    data: Annotated[str | None, typer.Option(
        help="Table for key lookups. Default: the data the bundle was trained on.")] = None,
    key: Annotated[str | None, typer.Option(
        help="Key column to look up. Default: the bundle's key.")] = None,
    host: Host = "127.0.0.1",
    port: Port = 8000,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Serve the prediction page, the model and key lookups."""
    run(lambda: _serve(bundle_path, data, key, host, port, quiet), debug)


@app.command()
def demo(
    host: Host = "127.0.0.1",
    port: Port = 8000,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Train on the bundled data if no model exists yet, then serve the page."""
    reporter = Reporter(quiet)
    if not (DEFAULT_BUNDLE / "metadata.json").is_file():
        def action() -> Any:
            from mlbridge.pipeline import train as train_api

            try:  # train()'s own defaults: the bundled data, and every option as `train`'s
                return train_api(out=DEFAULT_BUNDLE, reporter=reporter)
            finally:
                reporter.close()

        print_summary(run(action, debug), quiet)
    else:
        reporter.stage(f"Using the trained model in {DEFAULT_BUNDLE} "
                       "(delete it or run mlbridge train to retrain)")
    run(lambda: _serve(DEFAULT_BUNDLE, None, None, host, port, quiet), debug)
