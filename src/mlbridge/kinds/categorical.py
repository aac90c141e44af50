"""A category: a vocabulary from the training split, one-hot inside the graph."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from mlbridge.kinds.base import Column

#: A category needs this many training rows to get its own slot; rarer ones share the
#: out-of-vocabulary slot (a weight learnt from a handful of rows is mostly noise).
MIN_COUNT = 5
#: At most this many categories per feature, the most frequent first. Measured in
#: `make bench` ("Vocabulary cap"): see the README for why this size.
MAX_VOCABULARY = 1000


@dataclass
class CategoricalColumn(Column):
    """A category: the frequent training values each get a one-hot slot; rare and unseen
    values share the out-of-vocabulary slot; a missing value ("") has a slot of its own."""

    kind: ClassVar[str] = "categorical"
    dtype: ClassVar[str] = "string"
    layer_suffix: ClassVar[str] = "lookup"
    lite_dtype: ClassVar[str] = "int32"  # the slot (web/lookups.js), not the text
    vocabulary: list[str] = field(default_factory=list)
    distinct_in_training: int = 0
    folded_values: int = 0
    folded_rows: int = 0
    missing_in_training: int = 0
    min_count: int = MIN_COUNT

    #: The lookup's slots, in the one-hot's order: out-of-vocabulary first, then missing.
    OOV_SLOT: ClassVar[int] = 0
    MISSING_SLOT: ClassVar[int] = 1

    @classmethod
    def fit(cls, name: str, input_name: str, train: pd.Series,
            max_vocabulary: int = MAX_VOCABULARY) -> CategoricalColumn:
        text = cls.text(train)
        present = text[text != ""]
        counts = present.value_counts()
        counts = counts.iloc[np.lexsort((counts.index.to_numpy(dtype=str), -counts.to_numpy()))]
        kept = counts[counts >= MIN_COUNT].iloc[:max_vocabulary]
        return cls(name, input_name, vocabulary=kept.index.tolist(),
                   distinct_in_training=len(counts), folded_values=len(counts) - len(kept),
                   folded_rows=int(counts.sum() - kept.sum()),
                   missing_in_training=int((text == "").sum()))

    @staticmethod
    def text(column: pd.Series) -> pd.Series:
        """Numbers and text alike as stripped strings; missing tokens were made "" on read."""
        return column.astype(str).str.strip()

    def values(self, column: pd.Series) -> np.ndarray:
        from mlbridge.cells import clean_text

        return clean_text(column).to_numpy(dtype=object)

    def slots(self, values: np.ndarray) -> np.ndarray:
        """The one-hot slot of each value: 0 unseen, 1 missing, 2.. the vocabulary."""
        text = np.asarray(values, dtype=object)
        if not all(isinstance(v, str) for v in text):
            text = np.array([str(v) for v in text], dtype=object)
        found = pd.Index(self.vocabulary, dtype=object).get_indexer(text)
        missing = text == ""
        return np.where(found >= 0, found + 2,
                        np.where(missing, self.MISSING_SLOT, self.OOV_SLOT)).astype(np.int64)

    def encode(self, values: np.ndarray) -> np.ndarray:
        return np.eye(self.width)[self.slots(values)]

    @cached_property
    def known(self) -> frozenset[str]:
        return frozenset(self.vocabulary)

    def labels(self, values: np.ndarray) -> np.ndarray:
        """Each value as the model sees it: itself if kept, else "(other)" or "(missing)"."""
        names = np.array(["(other)", "(missing)", *self.vocabulary], dtype=object)
        return names[self.slots(values)]

    @property
    def width(self) -> int:
        return len(self.vocabulary) + 2

    def layer(self) -> Any:
        from mlbridge.layers import keras

        return keras.layers.StringLookup(vocabulary=["", *self.vocabulary], num_oov_indices=1,
                                         output_mode="one_hot", name=self.layer_name)

    def lite_encoder(self, serving: Any) -> Any:
        """The one-hot of a slot: the lookup itself runs outside (LiteRT has no strings)."""
        from mlbridge.layers import SlotOneHot

        return SlotOneHot(self.width, name=f"{self.input}_one_hot")

    def may_note(self, values: np.ndarray) -> np.ndarray:
        return ~pd.Series(values, dtype=object).isin(self.known).to_numpy()

    def note(self, value: Any) -> str | None:
        if value == "":
            return f"{self.name} is missing"
        if value not in self.known:
            return f'{self.name} "{value}" is a value the model does not know: counted as other'
        return None

    def describe(self) -> str:
        folded = (f", {self.folded_values:,} folded into 'other' ({self.folded_rows:,} rows)"
                  if self.folded_values else "")
        gaps = f", {self.missing_in_training:,} missing" if self.missing_in_training else ""
        return f"category, {len(self.vocabulary):,} values kept{folded}{gaps}"


