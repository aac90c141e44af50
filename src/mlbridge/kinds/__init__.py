"""Column kinds: how each kind of feature is learnt, encoded in the graph, and described.

Each kind is one small class, the way Keras keeps one class per layer, and each knows
four things: how to learn its statistics from the training split (`fit`); the Keras
layer that applies them inside the exported graph (`layer`); the same encoding in numpy
(`encode`, for the least-squares baseline and the tests); and how it describes itself in
`metadata.json` (`to_json`, read back by `Column.from_json`). The browser feeds raw
values (a number or NaN, a string or ""); no transform is ever re-implemented in
JavaScript except by `predict.mjs`, whose steps are read from the trained graph.
One module per kind; `base.py` holds what they share.
"""

from mlbridge.kinds.base import Column, notes, rows_per_chunk, table_notes
from mlbridge.kinds.categorical import MAX_VOCABULARY, MIN_COUNT, CategoricalColumn
from mlbridge.kinds.numeric import TRANSFORMS, NumericColumn, choose_transform
from mlbridge.kinds.text import MAX_WORDS, MIN_ROWS, TextColumn, words

__all__ = ["MAX_VOCABULARY", "MAX_WORDS", "MIN_COUNT", "MIN_ROWS", "TRANSFORMS",
           "CategoricalColumn", "Column", "NumericColumn", "TextColumn", "choose_transform",
           "notes", "rows_per_chunk", "table_notes", "words"]
