"""The `mlbridge` command: a thin face on the Python API.

Each command parses its options, calls one API function, and draws the result. Errors
from any stage are caught once, in `_run`, and printed as one line plus a hint.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from mlbridge.errors import MlbridgeError, UsageError

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


Debug = Annotated[bool, typer.Option("--debug", help="Show the full traceback on errors.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors and results.")]


def _say_error(message: str, hint: str | None, label: str = "error") -> None:
    """One line saying what is wrong, one saying what to do; user text is never markup."""
    err.print(Text.assemble((f"{label}: ", "bold red"), message), soft_wrap=True)
    if hint:
        err.print(Text.assemble(("hint: ", "dim"), hint), soft_wrap=True)


def _run(action: Callable[[], Any], debug: bool) -> Any:
    """Call `action`; turn any failure into one line, a hint, and the right exit code."""
    try:
        return action()
    except MlbridgeError as exc:
        if debug:
            raise
        _say_error(exc.message, exc.hint)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        err.print("interrupted: nothing was changed")
        raise typer.Exit(130) from None
    except Exception as exc:
        if debug:
            raise
        _say_error(f"{type(exc).__name__}: {exc}",
                   "run again with --debug for the traceback, and report it", "internal error")
        raise typer.Exit(1) from None


class CliReporter:
    """Stage lines and an epoch bar on stderr, so stdout carries only results."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.progress: Progress | None = None
        self.task: Any = None

    def stage(self, message: str) -> None:
        self.close()
        if not self.quiet:
            err.print(f"[cyan]→[/] {message}")

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

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def _split_list(value: str | None) -> list[str] | None:
    return [part.strip() for part in value.split(",") if part.strip()] if value else None


def _parse_range(value: str | None) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        low, high = (float(part) for part in value.split(","))
    except ValueError:
        raise UsageError(f"--target-range '{value}' is not LOW,HIGH",
                         hint="for example --target-range 0,100") from None
    return low, high


def _parse_sep(value: str | None) -> str | None:
    return {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";"}.get(value or "", value)


#: The metrics table's columns by task: (metric key, heading, format).
_METRIC_COLUMNS = {
    "regression": [("mse", "MSE", ",.1f"), ("mae", "MAE", ".2f"), ("r2", "R²", ".3f")],
    "classification": [("accuracy", "accuracy", ".3f"), ("log_loss", "log loss", ".4f"),
                       ("macro_f1", "macro F1", ".3f"), ("roc_auc", "ROC AUC", ".3f")],
}
_BASELINE_NAMES = {"least_squares": "least squares", "mean": "predict the mean",
                   "logistic_regression": "logistic regression",
                   "prior": "class prior"}


def _metrics_table(meta: dict) -> Table:
    """The model's test metrics beside its baselines, in the task's own measures."""
    metrics, task = meta["metrics"], meta["output"]["task"]
    columns = [c for c in _METRIC_COLUMNS[task] if c[0] in metrics["test"]]
    table = Table(title=f"Test metrics for {meta['output']['name']}", title_justify="left")
    table.add_column("")
    for _, heading, _ in columns:
        table.add_column(heading, justify="right")
    rows = [(f"mlbridge {meta['model']['kind']}", metrics["test"]),
            *((_BASELINE_NAMES[name], values) for name, values in metrics["baselines"].items())]
    for name, values in rows:
        table.add_row(name, *("—" if key not in values or math.isnan(values[key])
                              else f"{values[key]:{spec}}" for key, _, spec in columns))
    return table


@app.command(epilog="Examples:\n\n"
             "  mlbridge train\n\n"
             "  mlbridge train spotify.csv --target artist_popularity --features followers "
             "--key name --out models/spotify\n\n"
             "  mlbridge train cars.csv --target Miles_per_Gallon --key Name\n\n"
             "  mlbridge train data.csv --target y --features a,b --categorical b --model dnn")
def train(
    data: Annotated[str | None, typer.Argument(
        help="CSV file or http(s) URL. Default: the bundled data/artists.csv.",
        show_default=False)] = None,
    target: Annotated[str | None, typer.Option(
        help="Column to predict. Default with the bundled data: popularity.")] = None,
    features: Annotated[str | None, typer.Option(
        help="Input column(s), comma-separated. Default: every column but the target and "
        "the key, leaving out those that cannot help (ids, dates, constants).",
        show_default=False)] = None,
    categorical: Annotated[str | None, typer.Option(
        help="Feature column(s) to treat as categories even if they hold numbers "
        "(a text column always is one).", show_default=False)] = None,
    key: Annotated[str | None, typer.Option(
        help="Column naming each record (looked up by the page). Default with the bundled "
        "data: handle.")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Bundle directory to write.")] = Path(
        "models/artists"),
    # Plain strings checked by the API, so a typo gets the same one-line error as the rest.
    model: Annotated[str, typer.Option(help="linear (Normalization → Dense) or dnn "
                                       "(two hidden layers of 64).")] = "linear",
    task: Annotated[str | None, typer.Option(
        help="regression or classification. Default: regression for a target of numbers, "
        "classification for labels.", show_default=False)] = None,
    interval: Annotated[float, typer.Option(
        help="Coverage of the prediction interval every regression answer carries "
        "(split conformal); 0 for none.")] = 0.8,
    transform: Annotated[str, typer.Option(
        help="auto, log or none; auto takes log for skewed non-negative counts.")] = "auto",
    epochs: Annotated[int, typer.Option(help="Epoch cap; early stopping usually ends sooner.")] = (
        500),
    learning_rate: Annotated[float | None, typer.Option(
        help="Adam learning rate. Default: 0.1 linear, 0.001 dnn.", show_default=False)] = None,
    batch_size: Annotated[int | None, typer.Option(
        help="Default: sized to the data.", show_default=False)] = None,
    seed: Annotated[int, typer.Option(help="Seed for the split and the weights.")] = 0,
    sep: Annotated[str | None, typer.Option(
        help="Delimiter (',', ';', 'tab'). Default: detected.", show_default=False)] = None,
    target_range: Annotated[str | None, typer.Option(
        help="LOW,HIGH: drop rows outside and clip predictions to it. Default with the "
        "bundled data: 0,100; otherwise the training range.", show_default=False)] = None,
    quantize: Annotated[str, typer.Option(
        help="none, float16 or uint8: quantize the TF.js weights.")] = "none",
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Train a model on a table and write a browser-ready bundle."""
    reporter = CliReporter(quiet)

    def action() -> Any:
        from mlbridge.pipeline import train as train_api

        try:
            return train_api(
                data, target=target, features=_split_list(features), key=key,
                categorical=_split_list(categorical), out=out_dir,
                model=model, task=task, interval=interval, transform=transform, epochs=epochs,
                learning_rate=learning_rate, batch_size=batch_size, seed=seed,
                sep=_parse_sep(sep), target_range=_parse_range(target_range),
                quantize=quantize, reporter=reporter)
        finally:
            reporter.close()

    bundle = _run(action, debug)
    _print_summary(bundle, quiet)


def _print_summary(bundle: Any, quiet: bool) -> None:
    from mlbridge.features import Column

    meta = bundle.metadata
    data, model, metrics = meta["data"], meta["model"], meta["metrics"]
    classifier = meta["output"]["task"] == "classification"
    if quiet:
        figure = (f"test_log_loss={metrics['test']['log_loss']:.4g} "
                  f"test_accuracy={metrics['test']['accuracy']:.4g}" if classifier
                  else f"test_mse={metrics['test']['mse']:.4g}")
        out.print(f"{bundle.path}  {figure}")
        return
    dropped = data["rows_dropped"]
    out.print()
    out.print(f"[bold]Data[/]  {data['rows_read']:,} rows read, {data['rows_used']:,} used "
              f"({data['rows_train']:,} train / {data['rows_test']:,} test), "
              f"{sum(dropped.values()):,} dropped")
    for reason, count in dropped.items():
        out.print(f"  {count:>8,}  {reason}")
    used, total = len(meta["inputs"]), len(meta["inputs"]) + len(data["left_out"])
    out.print(f"[bold]Inputs[/] {used} of {total} columns")
    for spec in meta["inputs"]:
        described = Column.from_json(spec).describe()
        out.print(Text.assemble("  ", (spec["name"], "bold"), f"  {described}"))
    for name, reason in data["left_out"].items():
        out.print(Text.assemble("  ", (name, "dim"), f"  left out: {reason}"))
    task = (f"classification of {len(meta['output']['labels'])} labels" if classifier
            else "regression")
    out.print(f"[bold]Model[/] {model['kind']} {task}: {model['epochs_run']} epochs, best at "
              f"{model['best_epoch']}")
    out.print(_metrics_table(meta))
    output, test = meta["output"], metrics["test"]
    if not classifier and output.get("half_width") is not None:
        out.print(f"[bold]Interval[/] ±{output['half_width']:.4g} for "
                  f"{output['interval']:.0%} coverage (calibrated on "
                  f"{output['calibration_rows']:,} held-out rows); the test split's actual "
                  f"coverage: {test['interval_coverage']:.1%}")
    size = sum(meta["files"].values())
    out.print(f"[bold]Wrote[/] {bundle.path}/ ({len(meta['files'])} files, {size / 1024:,.0f} KiB):"
              " metadata.json, model.keras, saved_model/, web/model.json")
    example = " ".join(_example(spec) for spec in meta["inputs"][:3])
    out.print(Text.assemble(("Next", "bold"), f"  mlbridge predict {bundle.path} {example}"))


def _example(spec: dict) -> str:
    """`name=value` for the summary's example command, quoted for a shell when needed."""
    import shlex

    value = spec["vocabulary"][0] if spec["kind"] == "categorical" else f"{spec['fill']:g}"
    return shlex.quote(f"{spec['name']}={value}")


@app.command(epilog="Examples:\n\n"
             "  mlbridge predict models/artists twitter_followers=250000\n\n"
             "  mlbridge predict models/artists --data new.csv --out predictions.csv")
def predict(
    bundle_path: Annotated[Path, typer.Argument(metavar="BUNDLE", help="Bundle directory.")],
    values: Annotated[list[str] | None, typer.Argument(
        metavar="[COL=VALUE]...", help="Feature values for one prediction.",
        show_default=False)] = None,
    data: Annotated[str | None, typer.Option(help="CSV of rows to predict.")] = None,
    out_file: Annotated[Path | None, typer.Option(
        "--out", help="Where --data predictions go ('-' for stdout).")] = None,
    debug: Debug = False,
) -> None:
    """Predict from raw values with a trained bundle, one row or a whole CSV."""
    def action() -> None:
        from mlbridge.bundle import load

        if data is None and not values:
            raise UsageError("nothing to predict",
                             hint="pass COL=VALUE pairs, or --data CSV --out CSV")
        if data is not None and values:
            raise UsageError("pass either COL=VALUE pairs or --data, not both")
        if data is not None and out_file is None:
            raise UsageError("--data needs --out", hint="--out predictions.csv, or --out -")
        bundle = load(bundle_path)
        if data is not None:
            _predict_file(bundle, data, out_file)
        else:
            _predict_values(bundle, values or [])

    _run(action, debug)


def _predict_values(bundle: Any, pairs: list[str]) -> None:
    inputs: dict[str, str | None] = {}
    for pair in pairs:
        name, eq, value = pair.partition("=")
        if not eq:
            raise UsageError(f"'{pair}' is not COL=VALUE",
                             hint=f"for example {bundle.features[0]}=1000")
        if name not in bundle.features:
            raise UsageError(f"'{name}' is not a feature of this model",
                             hint=f"the model needs: {', '.join(bundle.features)}")
        inputs[name] = value
    for name in bundle.features:
        inputs.setdefault(name, None)  # not given: missing, which the model imputes
    (row,) = bundle.outputs(inputs)
    (notes,) = bundle.notes(inputs)
    head = bundle.head
    if bundle.labels is not None:
        ranked = sorted(zip(bundle.labels, row, strict=True), key=lambda lp: -lp[1])
        answer, plain = ranked[0][0], ranked[0][0]
        detail = ", ".join(f"{label} {p:.0%}" for label, p in ranked[:5])
    else:
        answer, plain = f"{row[0]:.2f}", f"{row[0]:.6g}"
        detail = (f"likely between {row[1]:.2f} and {row[2]:.2f} ({head.interval:.0%} "
                  "interval)" if len(row) == 3 else "")
    if not out.is_terminal:  # a script reads the answer alone; people read the rest
        out.print(plain)
        for text in [detail, *notes]:
            if text:
                err.print(text)
        return
    given = ", ".join(f"{k}={v}" for k, v in inputs.items() if v is not None)
    out.print(Text.assemble(f"{given} → ", (f"{bundle.target} {answer}", "bold"),
                            f"  {detail}" if detail else ""))
    for text in notes:
        out.print(Text.assemble(("note: ", "yellow"), text))


def _predict_file(bundle: Any, data: str, out_file: Path | None) -> None:
    from mlbridge.dataset import read_table

    frame, _ = read_table(data)
    result = bundle.predict_table(frame)
    if str(out_file) == "-":
        result.to_csv(sys.stdout, index=False)
        return
    assert out_file is not None
    if out_file.is_dir():
        raise UsageError(f"--out {out_file} is a directory", hint="pass a file path")
    partial = out_file.with_name(f".{out_file.name}.partial")
    result.to_csv(partial, index=False)
    partial.replace(out_file)
    err.print(f"wrote {len(result):,} rows to {out_file}")


DEFAULT_BUNDLE = Path("models/artists")


def _check_port(host: str, port: int) -> None:
    import socket

    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}",
                             hint="pass another --port, or stop what is using it") from None


def _serve(bundle_path: Path, data: str | None, key: str | None, host: str, port: int) -> None:
    import uvicorn

    from mlbridge.bundle import load
    from mlbridge.server import create_app, open_records

    bundle = load(bundle_path)
    _check_port(host, port)
    err.print(f"[cyan]→[/] Building the lookup database from "
              f"{data or bundle.metadata['data']['source']}")
    records = open_records(bundle, data, key)
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
    bundle_path: Annotated[Path, typer.Argument(metavar="[BUNDLE]", help="Bundle directory.")] = (
        DEFAULT_BUNDLE),
    data: Annotated[str | None, typer.Option(
        help="Table for key lookups. Default: the data the bundle was trained on.")] = None,
    key: Annotated[str | None, typer.Option(
        help="Key column to look up. Default: the bundle's key.")] = None,
    host: Host = "127.0.0.1",
    port: Port = 8000,
    debug: Debug = False,
) -> None:
    """Serve the prediction page, the model and key lookups."""
    _run(lambda: _serve(bundle_path, data, key, host, port), debug)


@app.command(epilog="Example:\n\n  mlbridge verify models/artists --backend cpu")
def verify(
    bundle_path: Annotated[Path, typer.Argument(metavar="[BUNDLE]", help="Bundle directory.")] = (
        DEFAULT_BUNDLE),
    browser: Annotated[str, typer.Option(help="Chromium executable.")] = "/usr/bin/chromium",
    tolerance: Annotated[float, typer.Option(help="Allowed relative difference.")] = 1e-4,
    abs_tolerance: Annotated[float, typer.Option(help="Allowed absolute difference.")] = 1e-3,
    backend: Annotated[list[str] | None, typer.Option(
        help="TF.js backend(s) to check. Default: webgl and cpu.", show_default=False)] = None,
    debug: Debug = False,
) -> None:
    """Check that TF.js in headless Chromium predicts what Python predicts."""
    def action() -> dict:
        from mlbridge.verify import BACKENDS
        from mlbridge.verify import verify as verify_api

        err.print("[cyan]→[/] Predicting with the SavedModel and with TF.js in Chromium")
        return verify_api(bundle_path, browser, tuple(backend or BACKENDS), tolerance,
                          abs_tolerance)

    parity = _run(action, debug)
    table = Table(title=f"Parity with Python ({parity['reference']}), {parity['inputs']} inputs",
                  title_justify="left")
    for column in ("runtime", "backend", "max abs diff", "max rel diff", "atol", "rtol",
                   "result"):
        table.add_column(column)
    for check in parity["checks"]:
        tol = check["tolerance"]
        table.add_row(check["runtime"], check.get("backend", ""),
                      _sci(check["max_abs_diff"]), _sci(check["max_rel_diff"]),
                      f"{tol['atol']:g}", f"{tol['rtol']:g}",
                      "[green]pass[/]" if check["passed"] else
                      f"[red]FAIL[/] {check.get('error', '')}".strip())
    out.print(table)
    for why in sorted({c["tolerance"]["why"] for c in parity["checks"]} - {"float32 weights"}):
        out.print(f"[yellow]note:[/] the tfjs runs use {why}, so their tolerance is the "
                  "quantization's; the difference shown is the error quantizing introduced.")
    if "standalone_skipped" in parity:
        out.print(f"[yellow]predict.mjs not checked:[/] {parity['standalone_skipped']}")
    out.print("A run passes when |diff| <= atol + rtol * |python| for every input; "
              f"recorded in {bundle_path}/metadata.json under parity.")
    if not parity["passed"]:
        raise typer.Exit(1)


def _sci(value: float | None) -> str:
    return "—" if value is None else f"{value:.2e}"


@app.command()
def demo(
    host: Host = "127.0.0.1",
    port: Port = 8000,
    debug: Debug = False,
) -> None:
    """Train on the bundled data if no model exists yet, then serve the page."""
    if not (DEFAULT_BUNDLE / "metadata.json").is_file():
        train(out_dir=DEFAULT_BUNDLE, debug=debug, data=None, target=None, features=None,
              categorical=None, key=None, model="linear", task=None, interval=0.8,
              transform="auto", epochs=500,
              learning_rate=None, batch_size=None, seed=0, sep=None, target_range=None,
              quantize="none", quiet=False)
    else:
        err.print(f"[cyan]→[/] Using the trained model in {DEFAULT_BUNDLE} "
                  f"(delete it or run mlbridge train to retrain)")
    _run(lambda: _serve(DEFAULT_BUNDLE, None, None, host, port), debug)


def main() -> None:
    """Entry point of the `mlbridge` script."""
    app()
