"""A table in any format: its header first, then every cell as text, whole or in batches.

A table is a delimited text file (CSV, TSV; plain, gzip, zstd or bzip2, found by its
first bytes), an http(s) URL of one, a Parquet file, or a directory or glob of Parquet
parts (the layout Spark, Dask and Ray write). pyarrow reads them all (it is already
here for pandas; DuckDB was measured beside it, see the README): Parquet file by file,
compressed text through its codecs, and big files in streamed batches
(`Table.batches`) so that memory does not grow with the rows. A small text table is
parsed whole by pandas (reading.py), as it always was.

Cells stay strings (a Parquet number becomes its text, a null ""), kept in Arrow's
memory; what they mean (missing, a number, text) is `cells.py`'s business, so every
format is read by the one set of rules.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from mlbridge.errors import DataError
from mlbridge.reading import (
    Source,
    local_file,
    parse_table,
    read_header,
    read_source,
)

#: The first bytes of each compression the text formats may come in.
_MAGIC = {b"\x1f\x8b": "gzip", b"\x28\xb5\x2f\xfd": "zstd", b"BZh": "bz2"}
_PARQUET_MAGIC = b"PAR1"
#: Rows per streamed batch: bounded memory, few enough calls for Python not to matter.
BATCH_ROWS = 262144
#: A text table up to this size is parsed whole (pandas: one batch); a bigger one is
#: streamed in batches (pyarrow).
WHOLE_BYTES = 64 << 20


def _compression(head: bytes) -> str | None:
    return next((codec for magic, codec in _MAGIC.items() if head.startswith(magic)), None)


def _decompress(raw: bytes, where: str) -> bytes:
    """The text inside a gzip, zstd or bzip2 file (pyarrow's codecs), or `raw` itself."""
    codec = _compression(raw[:4])
    if codec is None:
        return raw
    import pyarrow as pa

    try:
        return pa.input_stream(pa.py_buffer(raw), compression=codec).read()
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"{where} is not a whole {codec} file: {exc}",
                        hint="check the download, or pass the file uncompressed") from exc


def parquet_parts(location: str | Path) -> list[Path] | None:
    """The Parquet files a location names (a file, a directory of parts, a glob), in
    order; None when it is not Parquet."""
    import glob

    text = str(location)
    if text.startswith(("http://", "https://")):
        return None
    if any(char in text for char in "*?["):
        parts = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        if not parts:
            raise DataError(f"no file matches {text}", hint="check the pattern")
        return parts
    path = Path(text).expanduser()
    if path.is_dir():
        parts = sorted(p for p in path.rglob("*") if p.is_file()
                       and p.suffix in (".parquet", ".pq") and not p.name.startswith((".", "_")))
        if not parts:
            raise DataError(f"{text} is a directory with no Parquet files in it",
                            hint="pass a CSV or Parquet file, or a directory of .parquet parts")
        return parts
    if path.is_file():
        with path.open("rb") as handle:
            if handle.read(4) == _PARQUET_MAGIC:
                return [path]
    return None


class Table:
    """A table to read: its header (cheap), its cells as text whole, or in batches."""

    def __init__(self, location: str | Path, sep: str | None = None) -> None:
        self.location = str(location)
        self.sep = sep
        self.parts = parquet_parts(location)
        self._raw: bytes | None = None
        self._stored: bytes | None = None
        self.codec: str | None = None  # a text table's compression, once opened

    @property
    def _remote(self) -> bool:
        return self.location.startswith(("http://", "https://"))

    @property
    def stored(self) -> bytes:
        """A text table's bytes as stored (downloaded or read once, whole)."""
        if self._stored is None:
            self._stored = read_source(self.location)[0]
        return self._stored

    @property
    def raw(self) -> bytes:
        """A text table's bytes, decompressed (read once, whole: for `read`)."""
        if self._raw is None:
            self._raw = _decompress(self.stored, self.location)
        return self._raw

    def _small(self) -> bool:
        """A text table parsed whole by pandas (one batch, as it always was read): a
        download, or a file under WHOLE_BYTES (a quarter of that compressed)."""
        if self._remote:
            return True
        path = local_file(self.location)
        with path.open("rb") as handle:
            packed = _compression(handle.read(4)) is not None
        return path.stat().st_size <= WHOLE_BYTES // (4 if packed else 1)

    def source(self) -> Source:
        """Where the table came from: location, sha256 and size as stored, delimiter."""
        if self.parts is not None:
            return Source(self.location, parts_digest(self.parts),
                          sum(p.stat().st_size for p in self.parts), "parquet")
        size = len(self.stored) if self._remote else local_file(self.location).stat().st_size
        if self.sep is None:
            self.header()
        return Source(self.location, self.fingerprint(), size, self.sep or ",")

    def _stream(self) -> tuple[Any, Any]:
        """A text table's decompressed bytes as a stream, and the file under it (whose
        position says how far through a local file the stream has come), from disk
        without holding the file: what the header and the batches read."""
        import pyarrow as pa

        if self._remote:
            return pa.BufferReader(self.raw), None
        handle = local_file(self.location).open("rb")
        codec = self.codec = _compression(handle.read(4))
        handle.seek(0)
        return (pa.input_stream(handle, compression=codec) if codec else pa.PythonFile(handle)
                ), handle

    def _head(self) -> bytes:
        """The first 64 KiB (and one byte more, to tell a longer file) of the text."""
        stream, handle = self._stream()
        try:
            return stream.read(65537)
        except (OSError, ValueError) as exc:  # a cut or corrupt compressed file
            raise DataError(f"{self.location} is not a whole {self.codec} file: {exc}",
                            hint="check the download, or pass the file uncompressed") from exc
        finally:
            stream.close()
            if handle is not None:
                handle.close()

    def header(self) -> list[str]:
        """The column names, from the first lines or the Parquet schema only."""
        if self.parts is None:
            columns, self.sep = read_header(self._head(), self.location, self.sep)
            return columns
        return [name.strip() for name in self._dataset().schema.names]

    def _dataset(self) -> Any:
        import pyarrow.dataset as ds

        try:
            return ds.dataset([str(p) for p in self.parts], format="parquet")
        except Exception as exc:  # pyarrow's ArrowInvalid and friends: one message
            raise DataError(f"{self.location} cannot be read as Parquet: {exc}",
                            hint="check the file, or pass a CSV file") from exc

    def read(self) -> tuple[pd.DataFrame, Source]:
        """Every cell as text, and where the table came from."""
        if self.parts is None:
            return parse_table(self.raw, self.location, self.sep)
        frame = _as_text(self._dataset().to_table())
        if frame.empty:
            raise DataError(f"{self.location} has no rows", hint="pass a table with rows")
        return frame, Source(self.location, parts_digest(self.parts),
                             sum(p.stat().st_size for p in self.parts), "parquet")

    def fingerprint(self) -> str:
        """sha256 of what the table is made of (bytes, or every part), without parsing."""
        if self.parts is not None:
            return parts_digest(self.parts)
        if self._remote:
            return hashlib.sha256(self.stored).hexdigest()
        return parts_digest([local_file(self.location)])

    def batches(self, rows: int | None = None) -> Iterator[tuple[pd.DataFrame, float]]:
        """The table in batches of about `rows` rows, every cell as text, each with how
        far through the table it ends (0 to 1): memory bounded by the batch, whatever the
        table's size."""
        rows = rows or BATCH_ROWS
        if self.parts is None and self._small():
            yield parse_table(self.raw, self.location, self.sep)[0], 1.0
            return
        if self.parts is None:
            yield from self._text_batches(rows)
            return
        yield from self._parquet_batches(rows)

    def _parquet_batches(self, rows: int) -> Iterator[tuple[pd.DataFrame, float]]:
        """Parquet parts one by one, a batch at a time: pyarrow's dataset scanner reads
        ahead of a slow consumer (900 MiB on 10M rows, measured), a file's own batch
        iterator does not (390 MiB). Without `pre_buffer`: with it, the reader keeps every
        row group it has read until it is closed (measured: Arrow's allocation grew by 45
        bytes a row, 5.4 GiB at 100M rows; 40 MiB flat without)."""
        import pyarrow.parquet as pq

        header = self.header()
        files = [pq.ParquetFile(part, pre_buffer=False) for part in self.parts or []]
        total = max(1, sum(f.metadata.num_rows for f in files))  # footers only: no scan
        done = 0
        for part, parquet in zip(self.parts or [], files, strict=True):
            names = [name.strip() for name in parquet.schema_arrow.names]
            if names != header:
                raise DataError(f"{part} has columns {', '.join(names)}, not those of the "
                                f"first part ({', '.join(header)})",
                                hint="every Parquet part of a table must have the same columns")
            for batch in parquet.iter_batches(batch_size=rows):
                done += batch.num_rows
                if batch.num_rows:
                    yield _as_text(batch), done / total

    def _text_batches(self, rows: int) -> Iterator[tuple[pd.DataFrame, float]]:
        """A text table's rows in batches, streamed by pyarrow's CSV reader."""
        import pyarrow as pa
        import pyarrow.csv as csv_reader

        columns = self.header()
        size = 0 if self._remote else Path(self.location).expanduser().stat().st_size
        # Our names for the columns (the header's, stripped) and every one read as text,
        # so "007" stays "007" as it does when the table is read whole.
        convert = csv_reader.ConvertOptions(
            column_types={name: pa.string() for name in columns},
            strings_can_be_null=False, quoted_strings_can_be_null=False)
        stream, handle = self._stream()
        pending: list[pd.DataFrame] = []
        held = 0
        try:
            reader = csv_reader.open_csv(
                stream, read_options=csv_reader.ReadOptions(
                    block_size=1 << 22, column_names=columns, skip_rows=1),
                parse_options=csv_reader.ParseOptions(delimiter=self.sep),
                convert_options=convert)
            for batch in reader:
                pending.append(_as_text(batch))
                held += len(pending[-1])
                if held >= rows:
                    where = handle.tell() / size if handle is not None and size else 0.0
                    yield pd.concat(pending, ignore_index=True), min(where, 1.0)
                    pending, held = [], 0
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataError(f"{self.location} could not be parsed as a table: {exc}",
                            hint="check that every line has as many fields as the header, "
                            "or pass --sep") from exc
        finally:
            stream.close()
            if handle is not None:
                handle.close()
        if pending:
            yield pd.concat(pending, ignore_index=True), 1.0


def open_table(location: str | Path, sep: str | None = None) -> Table:
    """The table at `location` (see the module's docstring for what that may be)."""
    return Table(location, sep)


def _as_text(table: Any) -> pd.DataFrame:
    """A pyarrow table or batch as a frame of strings: a number as its text, null as "".
    The strings stay in Arrow's memory (pandas' pyarrow-backed `str`), never one Python
    object per cell: ten times faster on a million rows."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = {}
    for name, column in zip(table.schema.names, table.columns, strict=True):
        if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
            column = pc.cast(column, pa.string())
        columns[name.strip()] = pc.fill_null(column, "").to_pandas()
    return pd.DataFrame(columns)


def parts_digest(parts: list[Path]) -> str:
    """sha256 over a table's files, their names included (one file: its bytes alone)."""
    digest = hashlib.sha256()
    for part in parts:
        if len(parts) > 1:
            digest.update(part.name.encode() + b"\0")
        with part.open("rb") as handle:
            for block in iter(lambda handle=handle: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def read_table(location: str | Path, sep: str | None = None) -> tuple[pd.DataFrame, Source]:
    """Read a whole table with every cell as a string (see `Table`)."""
    return open_table(location, sep).read()


