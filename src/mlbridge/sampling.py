"""Which rows go where, decided row by row: the 80/20 split, the calibration rows, and a
uniform sample of bounded size, all from one hash of each row.

A row's side must not depend on which other rows came with it, nor on their order, nor
on the file's format, so that a table streamed in batches is split as it would be read
whole, and a table that grows keeps its old rows where they were. So every decision is a
function of one 64-bit hash of the row (its key's, where there is one), salted by the
seed, using independent digits of it: the last four choose the side (test when below
2,000 of 10,000), the next one the calibration fifth of the training rows, and the rest
order the rows for the sample (`BottomK`: the k rows with the lowest draw are a uniform
sample, the same whatever the order the rows arrive in).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlbridge.cells import parse_numbers

TEST_FRACTION = 0.2
#: Share of the training rows held out to calibrate the regression interval (never fit).
CALIBRATION_FRACTION = 0.2


def key_hashes(keys: pd.Series, seed: int) -> np.ndarray:
    """A 64-bit hash of each key's text, salted by `seed`: a key names a record, so
    "007" and "7" are different keys (and a Parquet 7 is the text "7")."""
    return pd.util.hash_pandas_object(keys.astype(str).str.strip(), index=False,
                                      hash_key=f"{seed:016d}"[-16:]).to_numpy()


def row_hashes(frame: pd.DataFrame, seed: int) -> np.ndarray:
    """A 64-bit hash per row, salted by `seed`, that reads a number as its value: "0",
    "0.0" and a Parquet 0.0 are the same cell, so a table hashes alike in every format."""
    salt = f"{seed:016d}"[-16:]
    hashed = np.zeros(len(frame), dtype=np.uint64)
    blank = pd.util.hash_array(np.array([""], dtype=object), hash_key=salt)[0]
    for name in frame.columns:
        column = frame[name]
        numbers = (column.to_numpy(dtype=np.float64) if column.dtype.kind == "f"
                   else parse_numbers(column)[0])
        is_number = ~np.isnan(numbers)
        texts = np.full(len(frame), blank, dtype=np.uint64)  # a number's text part is ""
        if not is_number.all():  # hashing text is the slow part: only where it is text
            words = column.astype(str).to_numpy(dtype=object)[~is_number]
            texts[~is_number] = pd.util.hash_array(words, hash_key=salt)
        cell = (pd.util.hash_array(np.where(is_number, numbers + 0.0, 0.0), hash_key=salt)
                ^ texts)
        hashed = hashed * np.uint64(1_000_003) + cell  # wraps around: mixing, not counting
    return hashed


class Sides:
    """For each row of a frame: test or train, calibration or not, and its sample draw."""

    def __init__(self, frame: pd.DataFrame, seed: int, key: str | None) -> None:
        hashed = key_hashes(frame[key], seed) if key else row_hashes(frame, seed)
        self.test = hashed % np.uint64(10_000) < TEST_FRACTION * 10_000
        self.calibration = (hashed // np.uint64(10_000)) % np.uint64(10) < (
            CALIBRATION_FRACTION * 10)
        self.draw = hashed // np.uint64(100_000)


def split(frame: pd.DataFrame, seed: int, key: str | None = None
          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cut 80/20 by each row's hash (see the module); the training rows in draw order (a
    seeded shuffle), which the validation cut of a dnn relies on.

    With a handful of rows the hash may put all on one side: then the row of lowest
    hash is the test split's one row.
    """
    sides = Sides(frame, seed, key)
    test = sides.test
    if not test.any() or test.all():
        test = sides.draw == sides.draw.min()
    order = np.argsort(sides.draw[~test], kind="stable")
    return frame[~test].iloc[order], frame[test]


class BottomK:
    """The `k` rows of lowest draw among all rows offered, in draw order: a uniform
    sample without replacement that needs one pass, holds at most `k` rows plus a batch,
    and is the same whatever order and batches the rows come in."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.frame: pd.DataFrame | None = None
        self.draw = np.zeros(0, dtype=np.uint64)
        self.flags = np.zeros(0, dtype=bool)

    def offer(self, frame: pd.DataFrame, draw: np.ndarray, flags: np.ndarray) -> None:
        """Consider these rows (with a flag kept beside each: calibration or not)."""
        if len(self.draw) >= self.k:  # full: only a row below the highest kept can enter
            below = draw < self.draw[-1]
            frame, draw, flags = frame[below], draw[below], flags[below]
        if not len(draw):
            return
        frame = frame if self.frame is None else pd.concat([self.frame, frame])
        draw = np.concatenate([self.draw, draw])
        flags = np.concatenate([self.flags, flags])
        order = np.argsort(draw, kind="stable")[:self.k]
        self.frame, self.draw, self.flags = frame.iloc[order], draw[order], flags[order]
