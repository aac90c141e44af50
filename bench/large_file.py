"""Make large files by resampling the bundled tables with seeded jitter.

There is no large real file with these columns; these keep the real joint
distributions. Artists: each row is a random real row with its follower count
multiplied by exp(N(0, 0.05)) (about ±5%), and a handle made unique by a numeric suffix.
Cars: each row a random real row of cars.csv, its measurements jittered the same way
(empty cells stay empty), `Origin` (the category) unchanged, `Name` made unique. Never
committed: `make bench` writes them in a temporary folder.
"""

from __future__ import annotations

import argparse
import gzip
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def make_large(out: Path, rows: int = 1_000_000, seed: int = 0) -> Path:
    """Write `rows` resampled rows to `out` (same columns as artists.csv); return `out`."""
    source = pd.read_csv(ROOT / "data" / "artists.csv")
    rng = np.random.default_rng(seed)
    picked = source.iloc[rng.integers(0, len(source), rows)].reset_index(drop=True)
    jitter = np.exp(rng.normal(0.0, 0.05, rows))
    picked["twitter_followers"] = np.maximum(
        1, np.round(picked["twitter_followers"] * jitter)).astype(np.int64)
    picked["handle"] = picked["handle"] + "_" + pd.Series(np.arange(rows)).astype(str)
    out.parent.mkdir(parents=True, exist_ok=True)
    picked.to_csv(out, index=False)
    return out


def make_large_cars(out: Path, rows: int = 1_000_000, seed: int = 0) -> Path:
    """Write `rows` resampled rows of cars.csv to `out`: numbers with gaps, one category."""
    source = pd.read_csv(ROOT / "data" / "cars.csv")
    rng = np.random.default_rng(seed)
    picked = source.iloc[rng.integers(0, len(source), rows)].reset_index(drop=True)
    for name in ("Displacement", "Horsepower", "Weight_in_lbs", "Acceleration"):
        picked[name] = (picked[name] * np.exp(rng.normal(0.0, 0.05, rows))).round(1)
    picked["Name"] = picked["Name"] + " #" + pd.Series(np.arange(rows)).astype(str)
    out.parent.mkdir(parents=True, exist_ok=True)
    picked.to_csv(out, index=False)
    return out


#: Genres of the scale table, each with its own effect on popularity (Zipf-frequent).
GENRES = 30


def scale_chunk(rows: int, start: int, rng: np.random.Generator) -> Any:
    """`rows` rows of an artists-like table with a category and gaps, as an Arrow table:
    followers and popularity resampled from artists.csv with ±5% jitter, a genre (Zipf
    over GENRES, its own effect on popularity), 5% of followers and 3% of genres empty."""
    import pyarrow as pa
    import pyarrow.compute as pc

    source = pd.read_csv(ROOT / "data" / "artists.csv")
    picked = rng.integers(0, len(source), rows)
    followers = np.maximum(1, np.round(source["twitter_followers"].to_numpy()[picked]
                                       * np.exp(rng.normal(0.0, 0.05, rows))))
    genre = np.minimum(rng.zipf(1.5, rows), GENRES) - 1
    effect = np.linspace(-12, 12, GENRES)[(genre * 7) % GENRES]
    popularity = np.clip(np.round(source["popularity"].to_numpy()[picked] + effect
                                  + rng.normal(0, 2, rows)), 0, 100)
    names = pa.array([f"genre {g}" for g in range(GENRES)])
    handles = pc.binary_join_element_wise(
        "artist_", pc.cast(pa.array(np.arange(start, start + rows)), pa.string()), "")
    return pa.table({
        "handle": handles,
        "twitter_followers": pa.array(followers.astype(np.int64),
                                      mask=rng.random(rows) < 0.05),
        "genre": pc.take(names, pa.array(genre, mask=rng.random(rows) < 0.03)),
        "popularity": pa.array(popularity.astype(np.int64))})


def write_scale_table(rows: int, parquet: Path, csv_gz: Path | None = None, seed: int = 0,
                      chunk: int = 1_000_000) -> None:
    """Write the scale table as Parquet (row groups of `chunk`) and, if asked, .csv.gz
    (gzip level 1: six times faster to write than the default), a chunk at a time:
    memory bounded whatever `rows`."""
    import pyarrow.csv as csv_writer
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    parquet.parent.mkdir(parents=True, exist_ok=True)
    schema = scale_chunk(1, 0, np.random.default_rng(seed)).schema
    with ExitStack() as stack:
        writer = stack.enter_context(pq.ParquetWriter(parquet, schema))
        text = None
        if csv_gz is not None:
            sink = stack.enter_context(gzip.open(csv_gz, "wb", compresslevel=1))
            text = stack.enter_context(csv_writer.CSVWriter(sink, schema))
        for start in range(0, rows, chunk):
            table = scale_chunk(min(chunk, rows - start), start, rng).cast(schema)
            writer.write_table(table)
            if text is not None:
                text.write_table(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(make_large(args.out, args.rows, args.seed))
