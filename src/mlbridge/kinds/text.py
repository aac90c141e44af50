"""Free text: a column of words (a title, a name, a list of genres), as a bag of words.

The rule for words is one line, the same in Python (`words`) and JavaScript
(`web/text.js`), with one table of cases (`tests/cases/text.json`) for both: lower-case
the text, then take every run of letters and digits (Unicode categories L and N; so
punctuation, spaces and underscores split words). The words seen in at least
`MIN_ROWS` training rows, the most frequent first, up to `MAX_WORDS`, are the
vocabulary, and a row is the multi-hot of its words: 1 where it has the word.

Why outside the graph: TF.js 4.22 has no op that lower-cases, and its wasm backend has no
string kernels (StringSplit) at all, while its cpu backend does; LiteRT.js has no string
tensors. So the words and their multi-hot are made by that one shared function in every
runtime (mlbridge.js for TF.js and LiteRT.js, predict.mjs), and the graph takes the
multi-hot, float32 `[batch, words]`, like any other number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from mlbridge.kinds.base import Column

#: A word needs this many training rows to be in the vocabulary: one row teaches nothing
#: (nor does a word in every row).
MIN_ROWS = 2
#: At most this many words, the most frequent first. Measured in `make bench` (section
#: 13): see the README for why this size.
MAX_WORDS = 1000
#: A text's share of words the model does not know above which the notes say so.
UNKNOWN_SHARE = 0.5
_WORD = re.compile(r"[^\W_]+")  # letters and digits, as web/text.js's [\p{L}\p{N}]+


def words(text: str) -> list[str]:
    """The words of a text: lower-cased runs of letters and digits, in order."""
    return _WORD.findall(text.lower())


@dataclass
class TextColumn(Column):
    """Text: the multi-hot of its words over a vocabulary from the training split.

    Missing text is "" (no words). A word the vocabulary lacks counts for nothing; the
    notes say when most of a text's words are new to the model.
    """

    kind: ClassVar[str] = "text"
    dtype: ClassVar[str] = "float32"  # the graph takes the multi-hot, made outside it
    layer_suffix: ClassVar[str] = "words"
    vocabulary: list[str] = field(default_factory=list)
    distinct_in_training: int = 0
    words_per_row: float = 0.0
    missing_in_training: int = 0
    min_rows: int = MIN_ROWS
    long: bool = False  # the page offers a text area rather than a line

    @classmethod
    def fit(cls, name: str, input_name: str, train: pd.Series,
            max_words: int = MAX_WORDS) -> TextColumn:
        text = cls.text(train)
        # Each distinct text is split once (a category-like column repeats a few texts
        # a million times), its words counted once per row that has it.
        repeats = text.value_counts(sort=False)
        split = [words(value) for value in repeats.index.tolist()]
        found = [set(row) for row in split]
        rows_with = np.repeat(repeats.to_numpy(), [len(row) for row in found])
        counts = pd.Series(rows_with, index=list(chain.from_iterable(found)),
                           dtype=np.int64).groupby(level=0).sum()
        # A word in every row says nothing (as "name" in "name 1", "name 2", ...).
        useful = counts[(counts >= MIN_ROWS) & (counts < len(text))]
        kept = [w for w, _ in sorted(useful.items(), key=lambda wn: (-wn[1], wn[0]))][
            :max_words]  # the most frequent first; ties by the word
        lengths = np.array([len(row) for row in split])
        present = text[text != ""]
        return cls(name, input_name, vocabulary=kept, distinct_in_training=len(counts),
                   words_per_row=float(lengths @ repeats.to_numpy() / len(text))
                   if len(text) else 0.0,
                   missing_in_training=int((text == "").sum()),
                   long=bool(len(present) and present.str.len().mean() > 60))

    @staticmethod
    def text(column: pd.Series) -> pd.Series:
        return column.astype(str).str.strip()

    def values(self, column: pd.Series) -> np.ndarray:
        from mlbridge.cells import clean_text

        return clean_text(column).to_numpy(dtype=object)

    @property
    def feed_width(self) -> int:
        return len(self.vocabulary)

    def encode(self, values: np.ndarray) -> np.ndarray:
        index = {w: i for i, w in enumerate(self.vocabulary)}
        out = np.zeros((len(values), len(self.vocabulary)))
        for row, value in enumerate(values):
            for word in words(str(value)):
                if word in index:
                    out[row, index[word]] = 1.0
        return out

    def feed(self, values: np.ndarray) -> np.ndarray:
        return self.encode(values).astype(np.float32)

    @property
    def width(self) -> int:
        return len(self.vocabulary)

    def layer(self) -> Any:
        from mlbridge.layers import keras

        return keras.layers.Identity(name=self.layer_name)  # the multi-hot comes encoded

    def note(self, value: Any) -> str | None:
        if value == "":
            return f"{self.name} is missing"
        found = words(str(value))
        unknown = sum(1 for word in found if word not in self._known)
        if not found:
            return f"{self.name} has no words the model can read"
        if unknown / len(found) > UNKNOWN_SHARE:
            return (f"{self.name}: {unknown} of {len(found)} words are unknown to the model")
        return None

    @cached_property
    def _known(self) -> frozenset[str]:
        return frozenset(self.vocabulary)

    def describe(self) -> str:
        gaps = f", {self.missing_in_training:,} missing" if self.missing_in_training else ""
        return (f"text, {len(self.vocabulary):,} words kept (in at least {self.min_rows} rows) "
                f"of {self.distinct_in_training:,}, {self.words_per_row:.1f} words a row{gaps}")
