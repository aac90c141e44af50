"""What every benchmark section shares: sizes, timing a process, and Markdown output."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ARTISTS = ROOT / "data" / "artists.csv"


@dataclass
class Sizes:
    """How big and how often: the full run and the smoke run differ only here."""

    repeats: int
    large_rows: int
    browser_repeats: int
    single_predictions: int
    single_min_ms: int
    batch_rows: int
    lookups: int
    load_seconds: int
    load_connections: int
    cap_rows: int
    embedding_epochs: int
    tables: int  # how many of each section's real tables to train on
    site_lookups: int  # keys looked up through the static site, each from an empty cache
    slim_env: bool  # build the converter-only environment (else mlbridge's own stands in)
    scale_rows: tuple[int, ...]  # the big tables' sizes (section 14)
    sample_rows: int  # training rows held when training on them
    curve_rows: tuple[int, ...]  # training rows of each dnn of the quality curve


FULL = Sizes(repeats=3, large_rows=1_000_000, browser_repeats=5, single_predictions=200,
             single_min_ms=500,
             batch_rows=10_000, lookups=1000, load_seconds=10, load_connections=32,
             cap_rows=40_000, embedding_epochs=200, tables=3, site_lookups=10,
             slim_env=True, scale_rows=(10_000_000, 100_000_000), sample_rows=1_000_000,
             curve_rows=(10_000, 100_000, 1_000_000, 10_000_000))
QUICK = Sizes(repeats=1, large_rows=5_000, browser_repeats=1, single_predictions=5,
              single_min_ms=20,
              batch_rows=100, lookups=50, load_seconds=1, load_connections=4,
              cap_rows=2_000, embedding_epochs=3, tables=1, site_lookups=1,
              slim_env=False, scale_rows=(20_000,), sample_rows=5_000,
              curve_rows=(1_000, 5_000, 20_000))


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def timed(args: list[str], **kwargs) -> tuple[float, int, str]:
    """Run a command; return (wall seconds, peak RSS in bytes of that process, stdout).

    The peak is the process's own high-water mark (`VmHWM`), read while it runs, not
    `wait4`'s `ru_maxrss`: Linux carries the forking parent's peak into the child's at
    exec, so every child of this 2 GiB benchmark process measured at least 2 GiB."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL, **kwargs)
        peak = [0]
        done = threading.Event()
        watcher = threading.Thread(target=_watch_peak, args=(proc.pid, peak, done))
        watcher.start()
        _, status, _ = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        done.set()
        watcher.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{args[0]} {args[1]} failed with exit code {proc.returncode}")
    return wall, peak[0], text


def _watch_peak(pid: int, peak: list[int], done: threading.Event) -> None:
    """Keep `peak[0]` at the process's VmHWM, read every 20 ms until `done`."""
    status = Path(f"/proc/{pid}/status")
    while not done.is_set():
        try:
            found = re.search(r"VmHWM:\s+(\d+) kB", status.read_text())
        except OSError:  # gone, or not yet readable
            found = None
        if found:
            peak[0] = max(peak[0], int(found[1]) * 1024)
        done.wait(0.02)


def ratio(slow: float, fast: float, digits: int = 1) -> str:
    return f"{slow / fast:.{digits}f}×" if fast > 0 else "n/a"


def goal(met: bool, text: str) -> str:
    return f"**met**: {text}" if met else f"**missed**: {text}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(map(str, row)) + " |" for row in rows])


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    from mlbridge.pipeline import versions

    v = versions()
    return (f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, {platform.platform()}; "
            f"Python {v['python']}, TensorFlow {v['tensorflow']}, Keras {v['keras']}, "
            f"tensorflowjs {v['tensorflowjs']}, TF.js 4.22.0.")
