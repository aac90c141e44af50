"""What a cell of a table means: missing, a number, or text.

One reading of cells for training, prediction from a file and the lookup store: empty
cells and tokens such as `NA` are missing everywhere, and a number is told apart from
a word the same way.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

#: Cell values that mean "no value" (compared after stripping, case-insensitively).
MISSING_TOKENS = frozenset({"", "none", "null", "nan", "na", "n/a", "-", "?"})
#: A number as every runtime reads it alike (inputs.py, web/inputs.js): what numpy would
#: also take ("1_000", "Infinity") is not a number in a cell either.
NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def missing_mask(column: pd.Series) -> np.ndarray:
    """True where a cell is empty or a missing token (`NA`, `null`, `-`, ...)."""
    return column.astype(str).str.strip().str.lower().isin(MISSING_TOKENS).to_numpy()


def parse_numbers(column: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn strings into float64, telling missing cells apart from non-numeric ones.

    Returns `(values, missing, not_numeric)`; values are NaN wherever either mask is set.
    The cells that match NUMBER are converted by numpy (ten times faster than
    `pd.to_numeric` on a million strings), the others are NaN without a try.
    """
    stripped = column.astype(str).str.strip()
    missing = stripped.str.lower().isin(MISSING_TOKENS).to_numpy()
    number = stripped.str.fullmatch(NUMBER.pattern[1:-1]).to_numpy(dtype=bool) & ~missing
    text = stripped.to_numpy(dtype=object)
    text[~number] = "nan"  # only what matches NUMBER is parsed: numpy reads all of those
    values = text.astype(np.float64)
    not_numeric = (~number | ~np.isfinite(values)) & ~missing  # "1e999" is no number
    values[not_numeric | missing] = np.nan
    return values, missing, not_numeric


def clean_text(column: pd.Series) -> pd.Series:
    """Stripped text with every missing token turned into "" (the one missing value)."""
    stripped = column.astype(str).str.strip()
    return stripped.where(~stripped.str.lower().isin(MISSING_TOKENS), "")
