"""`mlbridge predict`: answers from a trained bundle, for one row or a whole CSV."""

from __future__ import annotations

import sys
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
    data: Annotated[str | None, typer.Option(help="CSV of rows to predict.")] = None,
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
    from mlbridge.reading import read_table

    if out_file is not None and str(out_file) != "-" and out_file.is_dir():
        raise UsageError(f"--out {out_file} is a directory", hint="pass a file path")
    frame, _ = read_table(data)
    absent = [name for name in bundle.features if name not in frame.columns]
    result = bundle.predict_table(frame)
    if str(out_file) == "-":
        result.to_csv(sys.stdout, index=False)
    else:
        assert out_file is not None
        partial = out_file.with_name(f".{out_file.name}.partial")
        result.to_csv(partial, index=False)
        partial.replace(out_file)
    if quiet:
        return
    for name in absent:
        err.print(Text.assemble(("note: ", "yellow"), f"{data} has no column {name}: every "
                                "row counts it as missing, and the model imputes it"))
    unanswered = int(result[f"predicted_{bundle.target}"].isna().sum())
    if unanswered:
        rows = "1 row has" if unanswered == 1 else f"{unanswered:,} rows have"
        err.print(Text.assemble(("note: ", "yellow"), f"{rows} a cell that is not a number "
                                "where the model needs one: no prediction, and the notes say "
                                "which"))
    if str(out_file) != "-":
        err.print(f"wrote {len(result):,} rows to {out_file}")
