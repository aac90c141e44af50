"""Load a table, check it against what was asked, clean it, and split it 80/20.

Everything here is pandas and numpy only, so bad input is rejected in well under a
second, before TensorFlow is imported. Every row that is dropped is counted under
exactly one reason, because "where did my rows go?" is the first question a user
asks of a model trained on fewer rows than the file has.
"""

from __future__ import annotations

import hashlib
import io
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from mlbridge.errors import DataError, UsageError

#: Cell values that mean "no value" (compared after stripping, case-insensitively).
MISSING_TOKENS = frozenset({"", "none", "null", "nan", "-", "?"})
#: Delimiters tried, in order of preference, when none is given.
DELIMITERS = (",", "\t", ";")
#: Fewer usable rows than this cannot give a meaningful 80/20 split.
MIN_ROWS = 10
TEST_FRACTION = 0.2
_SNIFF_LINES = 20


@dataclass(frozen=True)
class Source:
    """Where the data came from, so a bundle can say exactly what it was trained on."""

    location: str
    sha256: str
    size_bytes: int
    sep: str


@dataclass(frozen=True)
class Dataset:
    """The cleaned table split into train and test, with the count of every dropped row."""

    train: pd.DataFrame
    test: pd.DataFrame
    features: list[str]
    target: str
    key: str | None
    source: Source
    rows_read: int
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def rows_used(self) -> int:
        return len(self.train) + len(self.test)

    def drop_where(self, reason: str, rule: Callable[[pd.DataFrame], pd.Series]) -> Dataset:
        """Drop rows of both splits for which `rule(frame)` is true, counted under `reason`.

        Used for rules that depend on what was learnt from the training split (a log
        transform cannot take negative values), so they cannot run before the split.
        """
        train_mask, test_mask = rule(self.train), rule(self.test)
        count = int(train_mask.sum() + test_mask.sum())
        if count == 0:
            return self
        dropped = {**self.dropped, reason: self.dropped.get(reason, 0) + count}
        result = replace(
            self, train=self.train[~train_mask], test=self.test[~test_mask], dropped=dropped
        )
        result.check_enough_rows()
        return result

    def check_enough_rows(self) -> None:
        if self.rows_used < MIN_ROWS:
            reasons = ", ".join(f"{n} {why}" for why, n in self.dropped.items()) or "none"
            count = f"only {self.rows_used}" if self.rows_used else "no"
            raise DataError(
                f"{count} usable rows in {self.source.location} after cleaning "
                f"(need at least {MIN_ROWS}; dropped: {reasons})",
                hint="check the --target and --features columns hold numbers",
            )


def read_source(location: str | Path) -> tuple[bytes, str]:
    """Return the raw bytes of a local file or an http(s) URL, and the location as text."""
    text = str(location)
    if text.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(text, timeout=30) as response:
                return response.read(), text
        except (urllib.error.URLError, TimeoutError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DataError(
                f"could not download {text}: {reason}",
                hint="check the URL opens in a browser, or download it and pass the file",
            ) from exc
    path = Path(text).expanduser()
    if path.is_dir():
        raise DataError(f"{text} is a directory, not a file", hint="pass the path of a CSV file")
    if not path.exists():
        raise DataError(f"file not found: {text}", hint="check the path, or pass an http(s) URL")
    try:
        return path.read_bytes(), text
    except OSError as exc:
        raise DataError(f"could not read {text}: {exc.strerror}") from exc


def looks_binary(head: bytes) -> bool:
    """True for a NUL byte, or when over 10% of bytes are control characters.

    Text tables contain tabs and line breaks but almost no other control bytes; images,
    archives and spreadsheets saved as .xlsx are full of them.
    """
    if b"\x00" in head:
        return True
    controls = sum(head.count(bytes([c])) for c in (*range(1, 9), 11, 12, *range(14, 32), 127))
    return controls > 0.1 * len(head)


def detect_sep(text: str) -> str:
    """Pick the delimiter that splits the header and agrees on the first lines.

    A delimiter that gives every line the same number of fields wins; among those the
    one giving the most fields. A one-column file falls back to a comma.
    """
    lines = [line for line in text.splitlines()[:_SNIFF_LINES] if line.strip()]
    best, best_count = ",", 0
    for sep in DELIMITERS:
        counts = {line.count(sep) for line in lines}
        header_count = lines[0].count(sep) if lines else 0
        if header_count > best_count and len(counts) == 1:
            best, best_count = sep, header_count
    if best_count == 0 and lines:  # ragged lines (quoted fields): take the header's favourite
        best = max(DELIMITERS, key=lines[0].count)
    return best


def read_table(location: str | Path, sep: str | None = None) -> tuple[pd.DataFrame, Source]:
    """Read a delimited text table with every cell as a string (see `parse_table`)."""
    return parse_table(*read_source(location), sep)


def parse_table(raw: bytes, where: str, sep: str | None = None) -> tuple[pd.DataFrame, Source]:
    """Parse the bytes of a delimited text table with every cell as a string.

    Cells stay strings so that cleaning can tell a missing value from a non-numeric one
    and count each, and so that a key column like "null" or "nan" survives untouched.
    """
    if not raw.strip():
        raise DataError(f"{where} is empty", hint="pass a CSV file with a header row and data")
    if looks_binary(raw[:65536]):
        raise DataError(f"{where} is not a text file (it contains binary data)",
                        hint="pass a CSV file (comma, tab or semicolon separated)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{where} is not UTF-8 text (byte {exc.start} cannot be decoded)",
                        hint="save the file as UTF-8 CSV and try again") from exc
    sep = sep or detect_sep(text)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False,
                            na_filter=False, skipinitialspace=True)
    except (pd.errors.ParserError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[-1]
        raise DataError(f"{where} could not be parsed as a table: {first_line}",
                        hint="check that every line has as many fields as the header, "
                        "or pass --sep") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise DataError(f"{where} has a header but no data rows",
                        hint="add rows below the header line")
    source = Source(location=where, sha256=hashlib.sha256(raw).hexdigest(),
                    size_bytes=len(raw), sep=sep)
    return frame, source


def parse_numbers(column: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn strings into float64, telling missing cells apart from non-numeric ones.

    Returns `(values, missing, not_numeric)`; values are NaN wherever either mask is set.
    """
    stripped = column.astype(str).str.strip()
    missing = stripped.str.lower().isin(MISSING_TOKENS).to_numpy()
    values = pd.to_numeric(stripped.where(~missing), errors="coerce").to_numpy(dtype=np.float64)
    not_finite = ~np.isfinite(values)
    return np.where(not_finite, np.nan, values), missing, not_finite & ~missing


def require_columns(frame: pd.DataFrame, names: list[str], option: str, where: str) -> None:
    """Fail with the list of real columns when an asked-for column is not there."""
    columns = list(frame.columns)
    for name in names:
        if name not in columns:
            shown = ", ".join(columns[:20]) + (", ..." if len(columns) > 20 else "")
            raise DataError(f"column '{name}' not found in {where}; columns are: {shown}",
                            hint=f"pass {option} with one of those names")


def clean(frame: pd.DataFrame, target: str, features: list[str], key: str | None,
          target_range: tuple[float, float] | None = None) -> tuple[pd.DataFrame, dict[str, int]]:
    """Keep rows with a numeric target and numeric features; count every drop by reason.

    Exact duplicate rows (every column equal) are dropped as well: they would count twice
    in training and could sit on both sides of the split. Rows that merely share a key are
    kept, since they are different records (see the README on repeated keys).
    """
    keep = np.ones(len(frame), dtype=bool)
    dropped: dict[str, int] = {}

    def drop(mask: np.ndarray, reason: str) -> None:
        nonlocal keep
        hit = mask & keep
        if hit.any():
            dropped[reason] = dropped.get(reason, 0) + int(hit.sum())
            keep &= ~hit

    numbers: dict[str, np.ndarray] = {}
    for name in [target, *features]:
        values, missing, not_numeric = parse_numbers(frame[name])
        drop(missing, f"missing {name}")
        drop(not_numeric, f"{name} not a number")
        numbers[name] = values
    if target_range is not None:
        low, high = target_range
        with np.errstate(invalid="ignore"):
            drop((numbers[target] < low) | (numbers[target] > high),
                 f"{target} outside [{low:g}, {high:g}]")
    drop(frame.duplicated(keep="first").to_numpy(), "exact duplicate row")

    columns = {name: numbers[name][keep] for name in [*features, target]}
    if key is not None:
        columns = {key: frame[key].to_numpy()[keep], **columns}
    cleaned = pd.DataFrame(columns, index=np.flatnonzero(keep))
    return cleaned, dropped


def split(frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Shuffle with `seed` and cut 80/20; the same seed always gives the same split."""
    order = np.random.default_rng(seed).permutation(len(frame))
    n_test = max(1, round(len(frame) * TEST_FRACTION))
    return frame.iloc[order[n_test:]], frame.iloc[order[:n_test]]


def load_dataset(location: str | Path, target: str | None, features: list[str] | None,
                 key: str | None = None, sep: str | None = None, seed: int = 0,
                 target_range: tuple[float, float] | None = None) -> Dataset:
    """Read, validate, clean and split a table: the whole first stage in one call.

    A `target` or `features` of None is an error that lists the table's columns, which
    is the friendliest answer to "which column did you mean?".
    """
    features = list(features or [])
    if target is not None and target in features:
        raise UsageError(f"'{target}' is both the target and a feature",
                         hint="a model cannot predict a column from itself")
    if key is not None and key in [target, *features]:
        raise UsageError(f"key column '{key}' is also the target or a feature",
                         hint="the key names records (like a handle); pick another --key")
    if len(set(features)) != len(features):
        raise UsageError("a feature is listed twice", hint="list each feature column once")
    frame, source = read_table(location, sep)
    for option, given in (("--target COL", target), ("--features COL[,COL...]", features)):
        if not given:
            raise UsageError(f"no {option.split()[0][2:]} given; the columns of "
                             f"{source.location} are: {', '.join(frame.columns)}",
                             hint=f"pass {option}")
    require_columns(frame, [target], "--target", source.location)
    require_columns(frame, features, "--features", source.location)
    if key is not None:
        require_columns(frame, [key], "--key", source.location)
    cleaned, dropped = clean(frame, target, features, key, target_range)
    train, test = split(cleaned, seed)
    dataset = Dataset(train=train, test=test, features=list(features), target=target, key=key,
                      source=source, rows_read=len(frame), dropped=dropped)
    dataset.check_enough_rows()
    return dataset
