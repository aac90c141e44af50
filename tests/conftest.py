"""Shared fixtures: small real tables, a real CLI runner, and one trained bundle per session."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTISTS = ROOT / "data" / "artists.csv"
CARS = ROOT / "data" / "cars.csv"
PENGUINS = ROOT / "data" / "penguins.csv"
WEATHER = ROOT / "data" / "seattle-weather.csv"
MLBRIDGE = Path(sys.executable).with_name("mlbridge")


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> Result:
    """Run the installed `mlbridge` script for real, as a user would."""
    env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1"}
    proc = subprocess.run([str(MLBRIDGE), *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=timeout, env=env, stdin=subprocess.DEVNULL)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under `root`, to prove a directory was left byte-for-byte."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@contextmanager
def static_server(directory: Path) -> Iterator[str]:
    """`python3 -m http.server` on `directory`, as any static host: yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind",
                               "127.0.0.1", "-d", str(directory)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture(scope="session")
def artists_bundle(tmp_path_factory: pytest.TempPathFactory):
    """The default linear model trained once on the bundled data, through the Python API."""
    from mlbridge import train

    out = tmp_path_factory.mktemp("bundles") / "artists"
    return train(ARTISTS, target="popularity", features=["twitter_followers"], key="handle",
                 out=out, target_range=(0, 100))


@pytest.fixture(scope="session")
def cars_bundle(tmp_path_factory: pytest.TempPathFactory):
    """Every useful column of cars.csv: numbers with gaps (Horsepower) and a category."""
    from mlbridge import train

    return train(CARS, target="Miles_per_Gallon", key="Name",
                 out=tmp_path_factory.mktemp("bundles") / "cars")


@pytest.fixture(scope="session")
def penguins_bundle(tmp_path_factory: pytest.TempPathFactory):
    """Body mass from every other column of penguins.csv: three categories, NA gaps."""
    from mlbridge import train

    return train(PENGUINS, target="body_mass_g",
                 out=tmp_path_factory.mktemp("bundles") / "penguins")


@pytest.fixture(scope="session")
def species_bundle(tmp_path_factory: pytest.TempPathFactory):
    """Three penguin species from every other column: a softmax classifier."""
    from mlbridge import train

    return train(PENGUINS, target="species", out=tmp_path_factory.mktemp("bundles") / "species")


@pytest.fixture(scope="session")
def sex_bundle(tmp_path_factory: pytest.TempPathFactory):
    """A penguin's sex (two labels; NA rows dropped): a sigmoid classifier."""
    from mlbridge import train

    return train(PENGUINS, target="sex", out=tmp_path_factory.mktemp("bundles") / "sex")


@pytest.fixture(scope="session")
def weather_bundle(tmp_path_factory: pytest.TempPathFactory):
    """Seattle's weather (five unbalanced labels) from the day's measurements."""
    from mlbridge import train

    return train(WEATHER, target="weather", out=tmp_path_factory.mktemp("bundles") / "weather")


@pytest.fixture(scope="session")
def cars_server(cars_bundle):
    """The real app for the cars bundle, with lookups by car name."""
    from mlbridge.server import BackgroundServer, create_app, open_records

    with BackgroundServer(create_app(cars_bundle, open_records(cars_bundle))) as server:
        yield server.url


@pytest.fixture(scope="session")
def live_server(artists_bundle):
    """The real app on a free 127.0.0.1 port, with the SQLite lookup built from the data."""
    from mlbridge.server import BackgroundServer, create_app, open_records

    records = open_records(artists_bundle)
    with BackgroundServer(create_app(artists_bundle, records)) as server:
        yield server.url


@pytest.fixture(scope="session")
def browser():
    from mlbridge.browser import chromium

    with chromium() as chrome:
        yield chrome


ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def small_artists(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """400 rows of the bundled data: enough to train a dnn in seconds."""
    import pandas as pd

    path = tmp_path_factory.mktemp("data") / "small_artists.csv"
    pd.read_csv(ARTISTS).sample(400, random_state=0).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def dnn_bundle(tmp_path_factory: pytest.TempPathFactory, small_artists: Path):
    """A dnn (two hidden layers) with float16-quantized TF.js weights."""
    from mlbridge import train

    return train(small_artists, target="popularity", features=["twitter_followers"],
                 key="handle", out=tmp_path_factory.mktemp("bundles") / "dnn", model="dnn",
                 epochs=80, target_range=(0, 100), quantize="float16")
