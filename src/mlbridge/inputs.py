"""The one rule for the values a model is given, at every door.

Python (`Bundle.predict` and friends, `mlbridge predict COL=VALUE`) calls `check_inputs`;
the browser (`mlbridge.js`, the page) and `predict.mjs` call `columns` of
`web/inputs.js`, the same rule in JavaScript; one table of cases
(`tests/cases/inputs.json`) runs against all of them. The rule:

- inputs map feature names to a value or a list of values;
- a feature left out is missing, as `None`, NaN, `""` (or blank text) are: the model
  imputes it, and says so in its notes;
- a name that is not a feature is an error that names it, with the closest feature,
  unless it is a column the model was trained beside (its key, its target, a column it
  left out: `other`), which is ignored, so a whole record may be passed;
- a number may be given as text in the one form every runtime reads alike (`"1.5e3"`,
  not `"0x10"`, `"1_000"` or `"Infinity"`); a category or a text is text (a number is
  read as its text).

A file is a table, not a request: `table_inputs` reads its cells as training read them
(`NA`, `null`, `?` ... are missing too), and a cell that is not a number where one is
needed gives that row no prediction and a note, instead of stopping the whole file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from mlbridge.cells import NUMBER, clean_text, parse_numbers
from mlbridge.errors import DataError

NUMBER_HINT = "give a number such as 1500 or 1.5e3 (not 1,500), or leave it out to let the " \
              "model impute it"


def show(value: Any) -> str:
    """A value as JavaScript's JSON.stringify shows it, so messages match across runtimes."""
    if isinstance(value, float | np.floating) and math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, np.generic):
        value = value.item()
    try:
        return json.dumps(value, separators=(",", ":"))
    except TypeError:
        return json.dumps(str(value))


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    return isinstance(value, float | np.floating) and math.isnan(value)


def as_number(name: str, value: Any) -> float:
    if is_missing(value):
        return math.nan
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(
            value, bool | np.bool_) and math.isfinite(value):
        return float(value)
    if isinstance(value, str) and NUMBER.match(value.strip()):
        return float(value.strip())
    raise DataError(f'feature "{name}" has a value that is not a number: {show(value)}',
                    hint=NUMBER_HINT)


def as_category(name: str, value: Any) -> str:
    if is_missing(value):
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(
            value, bool | np.bool_) and math.isfinite(value):
        number = float(value)
        return str(int(number)) if number.is_integer() and abs(number) < 1e21 else repr(number)
    raise DataError(f'feature "{name}" has a value that is not text or a number: '
                    f"{show(value)}", hint="give text, or leave it out")


def distance(a: str, b: str) -> int:
    """Levenshtein distance: insertions, deletions and substitutions, one each."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def closest(name: str, names: Sequence[str]) -> str | None:
    """The name nearest `name` if it is near enough to be a typo of it (at most 2 edits,
    or a quarter of its length), the first in order on a tie; web/inputs.js agrees."""
    scored = [(distance(name, candidate), k) for k, candidate in enumerate(names)]
    if not scored:
        return None
    best, k = min(scored)
    return names[k] if best <= max(2, len(name) // 4) else None


def unknown_feature(name: str, features: Sequence[str]) -> DataError:
    near = closest(name, features)
    return DataError(f'unknown feature "{name}"' + (f' (did you mean "{near}"?)' if near else ""),
                     hint=f"the model's features are: {', '.join(features)}")


def check_inputs(inputs: Any, specs: list[dict], other: Sequence[str] = ()
                 ) -> dict[str, np.ndarray]:
    """Check raw inputs against the model's features; return each graph input's values
    (float64 with NaN for a number, str with "" for a category), by input name."""
    features = [spec["name"] for spec in specs]
    table = isinstance(inputs, pd.DataFrame)  # a table's other columns are its own business
    if not isinstance(inputs, Mapping) and not table:
        raise DataError("inputs must be an object mapping each feature name to its values",
                        hint="for example {" + ", ".join(f'"{n}": [...]' for n in features) + "}")
    if not table:
        for name in inputs:
            if name not in features and name not in other:
                raise unknown_feature(str(name), features)
    given = [spec for spec in specs if spec["name"] in inputs]
    if not given:
        raise DataError("none of the model's features is given",
                        hint=f"the model's features are: {', '.join(features)}")
    columns = {}
    for spec in given:
        raw = inputs[spec["name"]]
        values = (list(raw) if isinstance(raw, list | tuple | np.ndarray | pd.Series)
                  else [raw])
        convert = as_number if spec["kind"] == "numeric" else as_category
        columns[spec["input"]] = [convert(spec["name"], v) for v in values]
    if len({len(v) for v in columns.values()}) > 1:
        raise DataError("every feature needs the same number of values",
                        hint="give the same number of values for every feature")
    rows = len(next(iter(columns.values())))
    return {spec["input"]: np.array(columns.get(spec["input"], [missing(spec)] * rows),
                                    dtype=np.float64 if spec["kind"] == "numeric"
                                    else object) for spec in specs}


def missing(spec: dict) -> float | str:
    return math.nan if spec["kind"] == "numeric" else ""


def table_inputs(frame: pd.DataFrame, specs: list[dict]) -> tuple[dict[str, np.ndarray],
                                                                  list[str]]:
    """A file's rows of text as graph inputs, read as training read its cells; returns the
    inputs and, per row, its problems ("" when none): a cell that is not a number where
    one is needed. A feature the file has no column for is missing in every row."""
    rows = len(frame)
    problems = np.full(rows, "", dtype=object)
    inputs = {}
    for spec in specs:
        name = spec["name"]
        if name not in frame.columns:
            inputs[spec["input"]] = np.full(rows, missing(spec),
                                            dtype=np.float64 if spec["kind"] == "numeric"
                                            else object)
        elif spec["kind"] != "numeric":
            inputs[spec["input"]] = clean_text(frame[name]).to_numpy(dtype=object)
        else:
            values, _, bad = parse_numbers(frame[name])
            inputs[spec["input"]] = values
            for row in np.flatnonzero(bad):
                said = f'{name}: {show(str(frame[name].iloc[row]).strip())} is not a number'
                problems[row] = f"{problems[row]}; {said}" if problems[row] else said
    return inputs, problems.tolist()
