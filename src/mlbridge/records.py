"""Look up a record's feature values by its key (an artist's handle) in SQLite.

The page asks "what are taylorswift13's followers?" before it can predict. The answer
comes from a real SQLite file built once from the table, indexed on the key so exact
lookups and prefix searches for autocomplete stay fast on a million rows.

Repeated keys: the FIRST row of the file with that key wins. That rule is simple to
explain and stable when rows are appended. Feature values may be missing (NULL): the
model imputes them, as it does for a blank field on the page.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mlbridge.errors import DataError
from mlbridge.reading import require_columns
from mlbridge.tables import open_table

MAX_KEY_LENGTH = 200
MAX_LIMIT = 50
_SCHEMA_VERSION = "3"


class RecordStore:
    """Read-only access to `records(key, f0, f1, ...)`; feature names map to f0, f1, ...

    Column names in SQL are positional so that no user-supplied name ever reaches a
    statement; values always go through bound parameters.
    """

    def __init__(self, path: Path, features: list[str], reused: bool = False) -> None:
        self.path = path
        self.features = features
        self.reused = reused  # built earlier from the same data, key and features
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=True)
            self._local.conn = conn
        return conn

    def get(self, key: str) -> dict[str, Any] | None:
        """Feature values of the record with this key (case-insensitive), or None."""
        columns = ", ".join(f"f{i}" for i in range(len(self.features)))
        row = self._connection().execute(
            f"SELECT key, {columns} FROM records WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        return {"key": row[0], "features": dict(zip(self.features, row[1:], strict=True))}

    def keys_with_prefix(self, prefix: str, limit: int) -> list[str]:
        """Up to `limit` keys starting with `prefix`, in order, using the key index."""
        rows = self._connection().execute(
            "SELECT key FROM records WHERE key >= ? AND key < ? ORDER BY key LIMIT ?",
            (prefix, prefix + "\U0010ffff", limit)).fetchall()
        return [r[0] for r in rows]

    def rows(self) -> list[list[Any]]:
        """Every record as `[key, value, ...]` (values in `features` order), keys in order."""
        columns = ", ".join(f"f{i}" for i in range(len(self.features)))
        return [list(row) for row in self._connection().execute(
            f"SELECT key, {columns} FROM records ORDER BY key")]

    def count(self) -> int:
        return self._connection().execute("SELECT COUNT(*) FROM records").fetchone()[0]


def build_store(data: str | Path, key: str, inputs: list[dict], path: Path,
                sep: str | None = None) -> RecordStore:
    """Build (or reuse, if built from the same bytes, key and inputs) the SQLite file.

    `inputs` are the bundle's input specs: a numeric feature is stored as REAL, a
    categorical one as TEXT, each NULL where missing, read exactly as training read them.
    Freshness is checked on the raw bytes before any parsing, so restarting a server on a
    large unchanged file costs a hash, not a parse; the table is read in batches, so a
    table of any size is stored in bounded memory. The file is written beside its final
    name and renamed into place, so a server stopped halfway leaves no half-built file.
    """
    from mlbridge.kinds import Column

    features = [spec["name"] for spec in inputs]
    table = open_table(data, sep)
    built_from = _fingerprint(table.fingerprint(), key, inputs)
    if path.exists() and _built_from(path) == built_from:
        return RecordStore(path, features, reused=True)
    columns = table.header()
    require_columns(columns, [key], "--key", table.location)
    require_columns(columns, features, "the bundle's features", table.location)
    kinds = [Column.from_json(spec) for spec in inputs]

    def rows() -> Iterator[tuple]:
        """Every usable row, batch by batch: memory bounded whatever the table's size."""
        for frame, _ in table.batches():
            keys = frame[key].astype(str).str.strip().to_numpy(dtype=object)
            usable = (keys != "") & np.array([len(k) <= MAX_KEY_LENGTH for k in keys])
            values = []
            for column in kinds:
                parsed = column.values(frame[column.name])[usable]
                values.append([None if (math.isnan(v) if column.kind == "numeric" else v == "")
                               else v for v in parsed.tolist()])
            yield from zip(keys[usable].tolist(), *values, strict=True)

    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    types = ", ".join(f"f{i} {'REAL' if spec['kind'] == 'numeric' else 'TEXT'}"
                      for i, spec in enumerate(inputs))
    marks = ", ".join("?" * (len(features) + 1))
    with sqlite3.connect(partial) as conn:
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute(f"CREATE TABLE records (key TEXT PRIMARY KEY COLLATE NOCASE, {types})")
        conn.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT)")
        conn.executemany(f"INSERT OR IGNORE INTO records VALUES ({marks})", rows())
        (stored,) = conn.execute("SELECT COUNT(*) FROM records").fetchone()
        conn.executemany("INSERT INTO meta VALUES (?, ?)",
                         [("built_from", built_from), ("schema", _SCHEMA_VERSION),
                          ("source", table.location)])
    conn.close()
    if not stored:
        partial.unlink(missing_ok=True)
        raise DataError(f"no row of {table.location} has a key",
                        hint=f"check the --key column ('{key}')")
    partial.replace(path)
    return RecordStore(path, features)


def _built_from(path: Path) -> str | None:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            found = dict(conn.execute("SELECT name, value FROM meta").fetchall())
        conn.close()
    except sqlite3.Error:
        return None
    return found.get("built_from") if found.get("schema") == _SCHEMA_VERSION else None


def _fingerprint(sha256: str, key: str, inputs: list[dict]) -> str:
    """What a database was built from: the data's bytes, the key and each input's kind."""
    return json.dumps([sha256, key, [[i["name"], i["kind"]] for i in inputs]])
