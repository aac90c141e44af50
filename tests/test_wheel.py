"""The package as a user gets it: a wheel, in a fresh virtual environment, far from here.

`uv build` makes the wheel; a new venv in a temporary directory gets that wheel alone
(`uv pip install`, which resolves the converter's full dependency set, as pip would:
none of this project's lock or overrides apply), and the `mlbridge` it installs trains,
serves the page with TF.js and LiteRT.js, and writes a static site, from a directory that is not the
checkout. Anything still read from the checkout would fail here.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from conftest import ROOT

UV = ["python3", "-m", "uv"]


def sh(*args: str | Path, cwd: Path, timeout: float = 900) -> str:
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH")}
    env.update(UV_PYTHON_DOWNLOADS="never", UV_COMPILE_BYTECODE="0", NO_COLOR="1")
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"{args}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_the_wheel_trains_serves_and_builds_a_site_outside_the_checkout(tmp_path, browser):
    sh(*UV, "build", "--quiet", "--wheel", "--out-dir", tmp_path / "dist", cwd=ROOT)
    (wheel,) = (tmp_path / "dist").glob("mlbridge-*.whl")
    python = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    sh(*UV, "venv", "--quiet", "--python", python, tmp_path / "venv", cwd=tmp_path)
    sh(*UV, "pip", "install", "--quiet", "--python", tmp_path / "venv" / "bin" / "python",
       wheel, cwd=tmp_path)
    bin_dir = tmp_path / "venv" / "bin"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = sh(bin_dir / "python", "-c", "import mlbridge; print(mlbridge.__file__)",
               cwd=elsewhere)
    assert where.startswith(str(tmp_path / "venv")), where

    sh(bin_dir / "mlbridge", "train", "-q", cwd=elsewhere)  # the bundled data, in the wheel
    assert (elsewhere / "models" / "artists" / "web" / "model.json").is_file()
    sh(bin_dir / "mlbridge", "site", "-q", cwd=elsewhere)
    assert (elsewhere / "site" / "vendor" / "tfjs" / "4.22.0" / "tf.fesm.min.js").is_file()
    assert (elsewhere / "site" / "lookup" / "root.json").is_file()

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([bin_dir / "mlbridge", "serve", "-q", "--port", str(port)],
                              cwd=elsewhere, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "serve failed"
                time.sleep(0.3)
        for runtime in ("tfjs-wasm", "litert-wasm"):  # each runtime came from the wheel
            page = browser.new_page()
            page.goto(f"{url}?runtime={runtime}")
            page.wait_for_selector("body[data-ready=true]", timeout=60_000)
            assert page.get_attribute("#runtime-info", "data-runtime") == runtime
            page.fill("#key-input", "taylorswift13")
            page.click("#lookup-form button")
            page.wait_for_selector("#result:not([hidden])")
            assert page.text_content("#prediction-value").isdigit()
            page.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
