"""Section 5: a million rows, trained, exported, and looked up."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import Sizes, goal, log, table
from large_file import make_large
from recipe import run_mlbridge


def scale(sizes: Sizes, work: Path) -> tuple[str, Path, list[str]]:
    log(f"scale: {sizes.large_rows:,}-row file")
    from mlbridge.bundle import load
    from mlbridge.server import open_records

    data = make_large(work / "large.csv", sizes.large_rows)
    run = run_mlbridge(data, work / "large")
    meta = run["metadata"]
    start = time.perf_counter()
    records = open_records(load(run["bundle"]))
    build = time.perf_counter() - start
    keys = pd.read_csv(data, usecols=["handle"])["handle"].sample(
        sizes.lookups, random_state=1).tolist()
    latencies = []
    for key in keys:
        t = time.perf_counter()
        assert records.get(key) is not None
        latencies.append((time.perf_counter() - t) * 1000)
    p50, p99 = np.percentile(latencies, [50, 99])
    rows_per_s = meta["data"]["rows_read"] / run["total_seconds"]
    peak_gib = run["peak_rss"] / 2**30
    rows = [["`mlbridge train` wall time (CSV → bundle, one process)",
             f"{run['total_seconds']:.1f} s"],
            ["rows per second (read → exported)", f"{rows_per_s:,.0f}"],
            ["peak memory (max RSS)", f"{peak_gib:.2f} GiB"],
            ["epochs run / batch size", f"{meta['model']['epochs_run']} / "
                                        f"{meta['model']['batch_size']}"],
            ["test MSE vs least squares", f"{meta['metrics']['test']['mse']:.1f} vs "
             f"{meta['metrics']['baselines']['least_squares']['mse']:.1f}"],
            ["SQLite build (`serve`'s lookup database)", f"{build:.1f} s"],
            [f"lookup latency p50 / p99 ({sizes.lookups:,} random keys, in process)",
             f"{p50:.3f} ms / {p99:.3f} ms"]]
    text = (f"A {sizes.large_rows:,}-row file made by `bench/large_file.py`: rows of "
            "`data/artists.csv` resampled with replacement, followers × exp(N(0, 0.05)), "
            "seed 0; not real data, and not committed.\n\n"
            + table(["what", "figure"], rows) + "\n\n"
            + "- Goal: train and export within 60 s and 3 GiB. "
            + goal(run["total_seconds"] <= 60 and peak_gib <= 3,
                   f"{run['total_seconds']:.1f} s, {peak_gib:.2f} GiB.") + "\n"
            + "- Goal: lookup p99 under 5 ms. " + goal(p99 < 5, f"{p99:.3f} ms.") + "\n")
    return text, run["bundle"], keys
