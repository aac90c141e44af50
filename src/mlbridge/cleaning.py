"""What a row of a table must have to be used, and what its target says about the task.

Only the target can drop a row: a missing, non-numeric or out-of-range target, or an
exact duplicate of an earlier row. Every drop is counted under exactly one reason with
its own hint, because "where did my rows go?" is the first question a user asks of a
model trained on fewer rows than the file has. A missing or unparsable feature value
never drops a row: the model imputes it, inside its graph.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlbridge.cells import clean_text, parse_numbers
from mlbridge.errors import DataError

#: A column is numeric when at least this share of its present values are numbers; the
#: few others ("unknown", "n.a.", typos) count as unusable. Used for features and target.
NUMERIC_SHARE = 0.95
#: A target with more distinct labels than this looks like an id or a name, not a class.
MAX_CLASSES = 50


#: What to do about each reason a row is dropped, said when too few rows are left.
HINTS = {
    "missing": "the --target column is empty in those rows; pick another --target",
    "not a number": "check that the --target column holds numbers, or pass --task "
                    "classification if it holds labels",
    "outside": "widen --target-range, or leave it out to use the data's own range",
    "exact duplicate row": "the file repeats the same rows; check how it was exported",
}


def choose_task(column: pd.Series, task: str | None) -> str:
    """Regression for a target of numbers (95% of present values), else classification."""
    if task is not None:
        return task
    _, missing, not_numeric = parse_numbers(column)
    present = max(int((~missing).sum()), 1)
    return "regression" if not_numeric.sum() <= (1 - NUMERIC_SHARE) * present else \
        "classification"


def label_order(labels: pd.Series) -> list[str]:
    """The distinct labels in a fixed order: numerically when all are numbers, else sorted."""
    distinct = sorted(set(labels.tolist()))
    numbers, _, not_numeric = parse_numbers(pd.Series(distinct, dtype=object))
    if not not_numeric.any():
        return [label for _, label in sorted(zip(numbers.tolist(), distinct, strict=True))]
    return distinct


def check_labels(labels: list[str], target: str) -> None:
    if len(labels) < 2:
        only = f" ('{labels[0]}')" if labels else ""
        raise DataError(f"target '{target}' has one class only{only}: there is nothing to "
                        "choose between", hint="pick a --target with at least two labels")
    if len(labels) > MAX_CLASSES:
        raise DataError(f"target '{target}' has {len(labels):,} different labels: that looks "
                        f"like an id or a name, not a class (at most {MAX_CLASSES})",
                        hint="pass --task regression if it holds numbers, or pick another "
                        "--target")


def clean(frame: pd.DataFrame, target: str, features: list[str], key: str | None,
          target_range: tuple[float, float] | None = None, task: str = "regression"
          ) -> tuple[pd.DataFrame, dict[str, int], dict[str, str]]:
    """Keep rows with a usable target; count every drop by reason, with a hint for each.

    A regression target must be a number (within `target_range`, if given); a
    classification target is the cell's text, and must be present. A missing or
    unparsable FEATURE value does not drop the row: the model imputes it (inside its
    graph), so the browser can leave a field blank too. Exact duplicate rows (every
    column equal) are dropped: they would count twice in training and could sit on both
    sides of the split. Rows that merely share a key are kept, since they are different
    records (see the README on repeated keys).
    """
    keep = np.ones(len(frame), dtype=bool)
    dropped: dict[str, int] = {}
    hints: dict[str, str] = {}

    def drop(mask: np.ndarray, reason: str, hint: str) -> None:
        nonlocal keep
        hit = mask & keep
        if hit.any():
            dropped[reason] = dropped.get(reason, 0) + int(hit.sum())
            hints[reason] = hint
            keep &= ~hit

    if task == "classification":
        y = clean_text(frame[target]).to_numpy(dtype=object)
        drop(y == "", f"missing {target}", HINTS["missing"])
    else:
        y, missing, not_numeric = parse_numbers(frame[target])
        drop(missing, f"missing {target}", HINTS["missing"])
        drop(not_numeric, f"{target} not a number", HINTS["not a number"])
        if target_range is not None:
            low, high = target_range
            with np.errstate(invalid="ignore"):
                drop((y < low) | (y > high), f"{target} outside [{low:g}, {high:g}]",
                     HINTS["outside"])
    drop(frame.duplicated(keep="first").to_numpy(), "exact duplicate row",
         HINTS["exact duplicate row"])

    rows = np.flatnonzero(keep)
    # Series stay as they are (pyarrow-backed text): no copy into Python strings.
    columns = {name: clean_text(frame[name]).iloc[rows].set_axis(rows) for name in features}
    columns[target] = pd.Series(y[keep], index=rows)
    if key is not None:
        columns = {key: frame[key].iloc[rows].set_axis(rows), **columns}
    return pd.DataFrame(columns, index=rows), dropped, hints
