"""The key lookup as static files, split by key prefix, for a site with no server.

A static host cannot run a query, so the records are laid out as a prefix tree of small
JSON files that the page walks one byte of the key at a time (`web/lookup.js`):

- `lookup/root.json` is the tree's root (the empty prefix); the file for a prefix is
  `lookup/<hex of its UTF-8 bytes>.json` (`74.json` for "t", `7461.json` for "ta").
- A **leaf** holds every record under its prefix: `{"records": [[key, value, ...], ...]}`
  with values in the order of the site's `config.json` `lookup.features`.
- A **node** is a prefix with more than `LEAF_BYTES` of records: `{"split": true,
  "common": hex of the longest prefix all its keys share (at least its own), "first":
  [up to FIRST_KEYS keys, in order], "exact": the record whose key is `common` itself, or
  null}`; its children are `common` plus one byte, for each byte that has records.

`common` makes it a radix tree: a million keys such as `taylorswift13_123456` would
otherwise cost one file per shared character. So an exact lookup or an autocomplete
reads the root and a few small files (3 or 4 on the benchmark's million keys), never
the whole table.
Matching is the server's (`records.py`): keys compared with ASCII letters folded to lower
case (SQLite's NOCASE), the first usable row of a repeated key, keys in NOCASE order.
"""

from __future__ import annotations

import bisect
import json
from itertools import accumulate
from pathlib import Path
from typing import Any

#: A leaf's records stop at about this many bytes of JSON; larger prefixes are split.
LEAF_BYTES = 16_000
#: Keys a node keeps for autocomplete (the page asks for 10).
FIRST_KEYS = 10

_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold(key: str) -> bytes:
    """A key as it is matched: ASCII letters in lower case (SQLite NOCASE), UTF-8 bytes."""
    return key.translate(_FOLD).encode()


def file_name(prefix: bytes) -> str:
    """The file that holds `prefix`'s part of the tree."""
    return f"{prefix.hex() or 'root'}.json"


def write_lookup(directory: Path, rows: list[list[Any]]) -> dict[str, int]:
    """Write `rows` (`[key, value, ...]`, keys unique under `fold`) as the prefix tree.

    Returns how many records and files were written, the largest file's size in bytes
    and the tree's depth (files read to reach the deepest leaf).
    """
    directory.mkdir(parents=True, exist_ok=True)
    ordered = sorted(rows, key=lambda row: fold(row[0]))
    keys = [fold(row[0]) for row in ordered]
    encoded = [json.dumps(row, ensure_ascii=False, separators=(",", ":")) for row in ordered]
    ends = [0, *accumulate(len(text.encode()) + 1 for text in encoded)]
    files = largest = depth = 0
    stack = [(b"", 0, len(ordered), 1)]
    while stack:
        prefix, lo, hi, level = stack.pop()
        if hi - lo == 1 or ends[hi] - ends[lo] <= LEAF_BYTES:
            text = '{"records":[' + ",".join(encoded[lo:hi]) + "]}"
        else:
            common = _shared(keys[lo], keys[hi - 1])
            exact = ordered[lo] if keys[lo] == common else None
            text = json.dumps({"split": True, "common": common.hex(),
                               "first": [row[0] for row in ordered[lo:lo + FIRST_KEYS]],
                               "exact": exact}, ensure_ascii=False, separators=(",", ":"))
            stack.extend((child, start, end, level + 1) for child, start, end in
                         _children(keys, common, lo + (exact is not None), hi))
        data = text.encode()
        (directory / file_name(prefix)).write_bytes(data)
        files += 1
        largest = max(largest, len(data))
        depth = max(depth, level)
    return {"records": len(ordered), "files": files, "largest_bytes": largest, "depth": depth}


def _shared(first: bytes, last: bytes) -> bytes:
    """The longest common prefix of two keys (of the first and last of a sorted range)."""
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    return first[:size]


def _children(keys: list[bytes], prefix: bytes, lo: int, hi: int
              ) -> list[tuple[bytes, int, int]]:
    """The one-byte-longer prefixes under `prefix` in sorted `keys[lo:hi]`, with their ranges."""
    size = len(prefix)
    found = []
    while lo < hi:
        byte = keys[lo][size]
        end = hi if byte == 255 else bisect.bisect_left(keys, prefix + bytes([byte + 1]), lo, hi)
        found.append((prefix + bytes([byte]), lo, end))
        lo = end
    return found
