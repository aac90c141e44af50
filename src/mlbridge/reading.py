"""Reading delimited text: its bytes (a file or an http(s) URL), its header, its cells.

Everything the header alone can reveal is checked before the whole table is parsed: on
millions of rows, a typo then costs milliseconds. Cells stay strings here; what they
mean (missing, a number, text) is `cells.py`'s business. `tables.py` builds every
format (compressed text, Parquet, streamed batches) on these.
"""

from __future__ import annotations

import csv
import hashlib
import io
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mlbridge.errors import DataError

#: Delimiters tried, in order of preference, when none is given.
DELIMITERS = (",", "\t", ";")
_SNIFF_LINES = 20


@dataclass(frozen=True)
class Source:
    """Where the data came from, so a bundle can say exactly what it was trained on."""

    location: str
    sha256: str
    size_bytes: int
    sep: str



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
    try:
        return local_file(text).read_bytes(), text
    except OSError as exc:
        raise DataError(f"could not read {text}: {exc.strerror}") from exc


def local_file(location: str) -> Path:
    """The path of an existing local file, or the error that says what it is instead."""
    path = Path(location).expanduser()
    if path.is_dir():
        raise DataError(f"{location} is a directory, not a file",
                        hint="pass the path of a CSV or Parquet file")
    if not path.exists():
        raise DataError(f"file not found: {location}",
                        hint="check the path, or pass an http(s) URL")
    return path


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


def check_text(raw: bytes, where: str) -> None:
    """Fail early on an empty, binary or non-UTF-8 file, looking at its start only."""
    if not raw.strip():
        raise DataError(f"{where} is empty", hint="pass a CSV file with a header row and data")
    if looks_binary(raw[:65536]):
        raise DataError(f"{where} is not a text file (it contains binary data)",
                        hint="pass a CSV file (comma, tab or semicolon separated; plain or "
                             ".gz/.zst), or a Parquet file")


def _decode(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{where} is not UTF-8 text (byte {exc.start} cannot be decoded)",
                        hint="save the file as UTF-8 CSV and try again") from exc


def read_header(raw: bytes, where: str, sep: str | None = None) -> tuple[list[str], str]:
    """The column names and the delimiter, from the first lines only.

    Everything the header alone can reveal (a missing column, a target that is also a
    feature) is checked against this before the whole file is parsed: on a file of
    millions of rows, a typo then costs milliseconds, not the parse.
    """
    check_text(raw, where)
    if b"\n" not in raw.strip():
        raise DataError(f"{where} has a header but no data rows",
                        hint="add rows below the header line")
    head = raw[:65536]
    cut = head.rfind(b"\n") if len(raw) > len(head) else len(head)
    text = _decode(head[:cut if cut > 0 else len(head)], where)
    sep = sep or detect_sep(text)
    first = text.splitlines()[0] if text.strip() else ""
    header = next(csv.reader([first], delimiter=sep, skipinitialspace=True), [])
    return [name.strip() for name in header], sep


def parse_table(raw: bytes, where: str, sep: str | None = None) -> tuple[pd.DataFrame, Source]:
    """Parse the bytes of a delimited text table with every cell as a string.

    Cells stay strings so that cleaning can tell a missing value from a non-numeric one
    and count each, and so that a key column like "null" or "nan" survives untouched.
    """
    check_text(raw, where)
    text = _decode(raw, where)
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


def require_columns(columns: list[str], names: list[str], option: str, where: str) -> None:
    """Fail with the list of real columns when an asked-for column is not there."""
    for name in names:
        if name not in columns:
            shown = ", ".join(columns[:20]) + (", ..." if len(columns) > 20 else "")
            raise DataError(f"column '{name}' not found in {where}; columns are: {shown}",
                            hint=f"pass {option} with one of those names")


