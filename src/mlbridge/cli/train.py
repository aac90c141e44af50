"""`mlbridge train`: a table in, a browser-ready bundle out, and a summary a person reads."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from mlbridge.cli.common import Debug, Quiet, Reporter, app, out, run
from mlbridge.dataset import SAMPLE_ROWS
from mlbridge.errors import UsageError
from mlbridge.heads import DEFAULT_INTERVAL
from mlbridge.kinds.text import MAX_WORDS
from mlbridge.model import DEFAULT_EPOCHS


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
             "  mlbridge train cars.csv --target Miles_per_Gallon --key Name   "
             "# writes models/cars\n\n"
             "  mlbridge train data.csv --target y --features a,b --categorical b --model dnn")
def train(
    data: Annotated[str | None, typer.Argument(
        help="Table: CSV/TSV (plain, .gz, .zst) or its http(s) URL, Parquet, or a "
        "directory or glob of Parquet parts. Default: the bundled data/artists.csv.",
        show_default=False)] = None,
    target: Annotated[str | None, typer.Option(
        help="Column to predict. Default with the bundled data: popularity.")] = None,
    features: Annotated[str | None, typer.Option(
        help="Input column(s), comma-separated. Default: every column but the target and "
        "the key, leaving out those that cannot help (ids, dates, constants).",
        show_default=False)] = None,
    categorical: Annotated[str | None, typer.Option(
        help="Feature column(s) to treat as categories, even if they hold numbers or "
        "look like free text.", show_default=False)] = None,
    text: Annotated[str | None, typer.Option(
        help="Feature column(s) to read as free text (a bag of words). Default: a column "
        "whose values mostly have several words and mostly differ.", show_default=False)] = None,
    max_words: Annotated[int, typer.Option(
        help="At most this many words per text column, the most frequent first.")] = MAX_WORDS,
    key: Annotated[str | None, typer.Option(
        help="Column naming each record (looked up by the page). Default with the bundled "
        "data: handle.")] = None,
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="Bundle directory to write. Default: models/NAME, NAME from the data's "
        "file name (models/artists for the bundled data).", show_default=False)] = None,
    replace: Annotated[bool, typer.Option(
        "--replace", help="Replace the bundle at --out even if it was trained on another "
        "file or target (by default that stops with an error).")] = False,
    # Plain strings checked by the API, so a typo gets the same one-line error as the rest.
    model: Annotated[str, typer.Option(help="linear (Normalization → Dense) or dnn "
                                       "(two hidden layers of 64).")] = "linear",
    task: Annotated[str | None, typer.Option(
        help="regression or classification. Default: regression for a target of numbers, "
        "classification for labels.", show_default=False)] = None,
    interval: Annotated[float, typer.Option(
        help="Coverage of the prediction interval every regression answer carries "
        "(split conformal); 0 for none.")] = DEFAULT_INTERVAL,
    transform: Annotated[str, typer.Option(
        help="auto, log or none; auto takes log for skewed non-negative counts.")] = "auto",
    epochs: Annotated[int, typer.Option(help="Epoch cap; early stopping usually ends sooner.")] = (
        DEFAULT_EPOCHS),
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
    sample_rows: Annotated[int, typer.Option(
        help="Training rows held in memory; a bigger table is read in passes, a uniform "
        "sample of this many deciding kinds and epochs, every row the linear fit and the "
        "test metrics.")] = SAMPLE_ROWS,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Train a model on a table and write a browser-ready bundle."""
    reporter = Reporter(quiet)

    def action() -> Any:
        from mlbridge.pipeline import train as train_api

        try:
            return train_api(
                data, target=target, features=_split_list(features), key=key,
                categorical=_split_list(categorical), text=_split_list(text),
                max_words=max_words, out=out_dir,
                model=model, task=task, interval=interval, transform=transform, epochs=epochs,
                learning_rate=learning_rate, batch_size=batch_size, seed=seed,
                sep=_parse_sep(sep), target_range=_parse_range(target_range),
                quantize=quantize, replace=replace, sample_rows=sample_rows,
                reporter=reporter)
        finally:
            reporter.close()

    bundle = run(action, debug)
    print_summary(bundle, quiet)


def print_summary(bundle: Any, quiet: bool) -> None:
    from mlbridge.kinds import Column

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
    if "sample" in data:
        out.print(f"  a uniform sample of {data['sample']['rows_train']:,} training rows "
                  "decided the kinds and trained what needs epochs")
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
    from mlbridge.report import how_fitted

    out.print(f"[bold]Model[/] {model['kind']} {task}: {how_fitted(model)}")
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

    value = f"{spec['fill']:g}" if spec["kind"] == "numeric" else spec["vocabulary"][0]
    return shlex.quote(f"{spec['name']}={value}")
