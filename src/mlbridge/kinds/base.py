"""The base of every column kind: what each must know, and how metadata names them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

import numpy as np
import pandas as pd

#: Every kind by its `kind` name, filled as the subclasses are defined.
KINDS: dict[str, type[Column]] = {}
#: Encoded numbers held at once when rows are encoded in chunks (32 MB of float64).
CHUNK_NUMBERS = 2**22


def rows_per_chunk(width: int) -> int:
    """Rows to encode at once for `width` numbers a row: memory bounded whatever the width
    (a text of 10,000 words is 10,000 numbers a row), between 1,024 and 65,536 rows."""
    return int(min(65536, max(1024, CHUNK_NUMBERS // max(width, 1))))


def _format(x: float) -> str:
    """A number as notes show it: at most 2 decimals, thousands separators from 10,000 on
    (so a year reads 2008), exactly as web/notes.js formats it."""
    text = (f"{x:,.2f}" if abs(x) >= 10000 else f"{x:.2f}").rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def notes(columns: list[Column], row: list[Any]) -> list[str]:
    """The notes for one row of checked raw values, in the columns' order."""
    return [text for column, value in zip(columns, row, strict=True)
            if (text := column.note(value)) is not None]


def table_notes(columns: list[Column], raw: dict[str, np.ndarray]) -> np.ndarray:
    """Every row's notes joined by "; " ("" for none), as `notes` gives them: each
    column's rule applied once per distinct value that may need a note, so a million
    rows cost a million lookups, not a million calls."""
    found = [column.row_notes(np.asarray(raw[column.input])) for column in columns]
    joined = np.full(len(found[0]) if found else 0, "", dtype=object)
    noted = np.flatnonzero(np.any([f != None for f in found], axis=0))  # noqa: E711
    for i in noted:
        joined[i] = "; ".join(f[i] for f in found if f[i] is not None)
    return joined



@dataclass
class Column(ABC):
    """One model input: its column name, its graph input name, and what training taught."""

    kind: ClassVar[str]
    dtype: ClassVar[str]
    name: str
    input: str

    @abstractmethod
    def values(self, column: pd.Series) -> np.ndarray:
        """Raw table text → what the graph input takes (float64 with NaN, or str with "")."""

    @abstractmethod
    def encode(self, values: np.ndarray) -> np.ndarray:
        """The graph's encoding in numpy: `[rows, width]` float64."""

    @abstractmethod
    def layer(self) -> Any:
        """The Keras layer that encodes this input inside the graph."""

    @property
    def feed_width(self) -> int:
        """Numbers per row the graph input takes: 1, or (text) its vocabulary's size."""
        return 1

    def feed(self, values: np.ndarray) -> np.ndarray:
        """Checked raw values → what the graph input is fed, `[rows, feed_width]`: the
        value itself (a number or a category's text), or for text its words (TextColumn)."""
        return np.asarray(values).reshape(-1, 1)

    #: What the LiteRT model (which has no strings) takes for this input.
    lite_dtype: ClassVar[str] = "float32"

    def lite_encoder(self, serving: Any) -> Any:
        """The layer that encodes this input in the LiteRT model: the serving model's own,
        unless the kind's lookup must happen outside (see CategoricalColumn)."""
        return serving.get_layer(self.layer_name)

    @property
    def layer_name(self) -> str:
        """The name of this input's encoding layer in the graph."""
        return f"{self.input}_{self.layer_suffix}"

    layer_suffix: ClassVar[str]

    @abstractmethod
    def describe(self) -> str:
        """One line for the summary: what was learnt."""

    @abstractmethod
    def note(self, value: Any) -> str | None:
        """Why the model is guessing for this raw value, or None (same rules: notes.js)."""

    def row_notes(self, values: np.ndarray) -> np.ndarray:
        """`note` of every row (None where there is none), once per distinct value."""
        found = np.full(len(values), None, dtype=object)
        maybe = self.may_note(values)
        if maybe.any():
            distinct, where = np.unique(values[maybe], return_inverse=True)
            found[maybe] = np.array([self.note(v) for v in distinct] + [None],
                                    dtype=object)[:-1][where]
        return found

    def may_note(self, values: np.ndarray) -> np.ndarray:
        """Rows whose value might have a note: all, unless a kind can tell cheaply."""
        return np.ones(len(values), dtype=bool)

    def to_json(self) -> dict:
        return {"name": self.name, "input": self.input, "kind": self.kind, "dtype": self.dtype,
                **{k: v for k, v in asdict(self).items() if k not in ("name", "input")}}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        KINDS[cls.kind] = cls

    @staticmethod
    def from_json(meta: dict) -> Column:
        kind = KINDS[meta["kind"]]
        names = {f.name for f in fields(kind)}
        return kind(**{k: v for k, v in meta.items() if k in names})

