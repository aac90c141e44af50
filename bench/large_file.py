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
from pathlib import Path

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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(make_large(args.out, args.rows, args.seed))
