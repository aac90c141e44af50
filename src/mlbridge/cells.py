"""What a cell of a table means: missing, a number, or text.

One reading of cells for training, prediction from a file and the lookup store: empty
cells and tokens such as `NA` are missing everywhere, and a number is told apart from
a word the same way. The work is done by pyarrow's compute kernels over the column's
text, never one Python object per cell: every row of a large table passes through here
several times.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: Cell values that mean "no value" (compared after stripping, case-insensitively).
MISSING_TOKENS = frozenset({"", "none", "null", "nan", "na", "n/a", "-", "?"})
#: A number as every runtime reads it alike (inputs.py, web/inputs.js): what numpy would
#: also take ("1_000", "Infinity") is not a number in a cell either.
NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_MISSING = pa.array(sorted(MISSING_TOKENS))


def _stripped(column: pd.Series) -> Any:
    """The column's cells as stripped Arrow text; a null (None, NaN) is ""."""
    if column.dtype != object:  # text already, or numbers: pandas writes them
        column = column.astype(str)
    try:
        text = pa.array(column, type=pa.large_string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed objects: each as its text
        text = pa.array([None if pd.isna(cell) else str(cell) for cell in column],
                        pa.large_string())
    return pc.utf8_trim_whitespace(pc.fill_null(text, ""))


def _is_missing(stripped: Any) -> np.ndarray:
    return pc.is_in(pc.utf8_lower(stripped), value_set=_MISSING).to_numpy(
        zero_copy_only=False)


def missing_mask(column: pd.Series) -> np.ndarray:
    """True where a cell is empty or a missing token (`NA`, `null`, `-`, ...)."""
    return _is_missing(_stripped(column))


def parse_numbers(column: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn strings into float64, telling missing cells apart from non-numeric ones.

    Returns `(values, missing, not_numeric)`; values are NaN wherever either mask is set.
    Only the cells that match NUMBER are converted (by Arrow's correctly rounded parser,
    the same float numpy would give); "1e999" matches but is no finite number.
    """
    stripped = _stripped(column)
    missing = _is_missing(stripped)
    number = pc.match_substring_regex(stripped, NUMBER.pattern)
    parsed = pc.cast(pc.if_else(number, stripped, pa.scalar(None, pa.large_string())),
                     pa.float64())
    values = pc.fill_null(parsed, np.nan).to_numpy(zero_copy_only=False).copy()
    not_numeric = ~np.isfinite(values) & ~missing
    values[not_numeric | missing] = np.nan
    return values, missing, not_numeric


def clean_text(column: pd.Series) -> pd.Series:
    """Stripped text with every missing token turned into "" (the one missing value)."""
    stripped = _stripped(column)
    cleaned = pc.if_else(pc.is_in(pc.utf8_lower(stripped), value_set=_MISSING), "",
                         stripped)
    return pd.Series(cleaned.to_pandas().array, index=column.index)
