"""`mlbridge predict`: answers from a trained bundle, for one row or a whole CSV."""

from __future__ import annotations

import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from mlbridge.cli.common import Debug, Quiet, app, err, out, run
from mlbridge.errors import UsageError


@app.command(epilog="Examples:\n\n"
             "  mlbridge predict models/artists twitter_followers=250000\n\n"
             "  mlbridge predict models/artists --data new.csv --out predictions.csv")
def predict(
    bundle_path: Annotated[Path, typer.Argument(metavar="BUNDLE", help="Bundle directory.")],
    values: Annotated[list[str] | None, typer.Argument(
        metavar="[COL=VALUE]...", help="Feature values for one prediction.",
        show_default=False)] = None,
    data: Annotated[str | None, typer.Option(
        help="Table of rows to predict: CSV (plain, .gz, .zst), Parquet, or a directory "
        "of Parquet parts.")] = None,
    out_file: Annotated[Path | None, typer.Option(
        "--out", help="Where --data predictions go ('-' for stdout).")] = None,
    quiet: Quiet = False,
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
            _predict_file(bundle, data, out_file, quiet)
        else:
            _predict_values(bundle, values or [], quiet)

    run(action, debug)


def _predict_values(bundle: Any, pairs: list[str], quiet: bool) -> None:
    inputs: dict[str, str] = {}
    for pair in pairs:
        name, eq, value = pair.partition("=")
        if not eq:
            raise UsageError(f"'{pair}' is not COL=VALUE",
                             hint=f"for example {bundle.features[0]}=1000")
        inputs[name.strip()] = value  # checked by the one input rule: a name left out is missing
    checked = bundle.check(inputs)
    (row,) = bundle.run(checked)
    (notes,) = bundle.notes(inputs)
    head = bundle.head
    if bundle.labels is not None:
        ranked = sorted(zip(bundle.labels, row, strict=True), key=lambda lp: -lp[1])
        answer = ranked[0][0]
        plain = f"{answer}\t{ranked[0][1]:.6g}"
        detail = ", ".join(f"{label} {p:.0%}" for label, p in ranked[:5])
    else:
        answer = f"{row[0]:.2f}"
        plain = "\t".join(f"{v:.6g}" for v in row)  # value, and the interval's ends
        detail = (f"likely between {row[1]:.2f} and {row[2]:.2f} ({head.interval:.0%} "
                  "interval)" if len(row) == 3 else "")
    if quiet or not out.is_terminal:  # a script reads the answer alone; people the rest
        out.print(plain)
        for text in [] if quiet else [detail, *notes]:
            if text:
                err.print(text)
        return
    given = ", ".join(f"{k}={v}" for k, v in inputs.items() if v.strip())
    out.print(Text.assemble(f"{given} → ", (f"{bundle.target} {answer}", "bold"),
                            f"  {detail}" if detail else ""))
    for text in notes:
        out.print(Text.assemble(("note: ", "yellow"), text))


def _predict_file(bundle: Any, data: str, out_file: Path | None, quiet: bool) -> None:
    """Predict every row of `data` in batches: read, predicted and written a batch at a
    time, so memory is bounded by the batch at any size; a file is written beside its
    final name and renamed at the end, so a failure never leaves half an answer."""
    import pyarrow.csv as csv_writer

    from mlbridge.cli.common import Reporter
    from mlbridge.tables import open_table

    if out_file is not None and str(out_file) != "-" and out_file.is_dir():
        raise UsageError(f"--out {out_file} is a directory", hint="pass a file path")
    table = open_table(data)
    absent = [name for name in bundle.features if name not in table.header()]
    to_stdout = str(out_file) == "-"
    assert out_file is not None
    partial = out_file.with_name(f".{out_file.name}.partial")
    progress = Reporter(quiet)
    rows = unanswered = 0
    writer = None
    try:
        with (nullcontext(sys.stdout.buffer) if to_stdout else partial.open("wb")) as sink:
            for batch, fraction in table.batches():
                predicted = bundle.predict_table(batch)
                unanswered += int(predicted[f"predicted_{bundle.target}"].isna().sum())
                result = _arrow(predicted)
                writer = writer or csv_writer.CSVWriter(sink, result.schema)
                writer.write_table(result)
                rows += len(result)
                progress.rows("Predicting", rows, fraction)
            if writer is not None:
                writer.close()
        if not to_stdout:
            partial.replace(out_file)
    finally:
        progress.close()
        partial.unlink(missing_ok=True)
    if quiet:
        return
    for name in absent:
        err.print(Text.assemble(("note: ", "yellow"), f"{data} has no column {name}: every "
                                "row counts it as missing, and the model imputes it"))
    if unanswered:
        said = "1 row has" if unanswered == 1 else f"{unanswered:,} rows have"
        err.print(Text.assemble(("note: ", "yellow"), f"{said} a cell that is not a number "
                                "where the model needs one: no prediction, and the notes say "
                                "which"))
    if not to_stdout:
        err.print(f"wrote {rows:,} rows to {out_file}")


def _arrow(frame: Any) -> Any:
    """A predicted batch as an Arrow table of the same schema every batch: numbers as
    they are (float32 written as float32 holds them), everything else as text, a gap
    as an empty cell. pyarrow's CSV writer is about nine times faster than pandas'."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = {}
    for name in frame.columns:
        values = frame[name].to_numpy()
        if values.dtype.kind == "f":
            columns[name] = pa.array(values, from_pandas=True)
            continue
        try:
            text = pa.array(values, type=pa.string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # not all text: say each as text
            text = pa.array([None if v is None else str(v) for v in values], type=pa.string())
        # "" as null: an empty cell rather than a quoted empty one (text is quoted)
        columns[name] = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    return pa.table(columns)
