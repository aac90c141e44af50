"""The reference recipe's own environment, and section 9: what mlbridge's install leaves out.

The recipe runs in an environment of its own with the stock converter and its full
dependency set (bench/reference-requirements.txt), so the comparison stays fair and
shows what the slim install saves: size, package count, and conversion time.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tomllib
from pathlib import Path

from common import BIN, ROOT, Sizes, goal, log, ratio, table, timed

REFERENCE_ENV = ROOT / "bench" / ".reference-env"
SLIM_ENV = ROOT / "bench" / ".slim-env"
REQUIREMENTS = ROOT / "bench" / "reference-requirements.txt"
STOCK_ONLY = "# stock only"


def _build(env_dir: Path, requirements: str, overrides: list[str]) -> Path:
    """An environment from `requirements` (text) and `overrides`, built once with uv
    (bytecode compiled, as mlbridge's own); its bin/."""
    stamp = env_dir / "requirements.txt"
    wanted = requirements + "".join(f"# override: {line}\n" for line in overrides)
    if stamp.is_file() and stamp.read_text() == wanted:
        return env_dir / "bin"
    log(f"building {env_dir.relative_to(ROOT)}")
    uv = ["python3", "-m", "uv"]  # as the Makefile runs it
    env = {**os.environ, "UV_COMPILE_BYTECODE": "1", "UV_PYTHON_DOWNLOADS": "never"}
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    base = Path(sys.base_prefix) / "bin" / f"python{version}"
    subprocess.run([*uv, "venv", "-q", "--clear", "--python", str(base), str(env_dir)],
                   check=True, env=env)
    (env_dir / "requirements.in").write_text(requirements)
    (env_dir / "overrides.txt").write_text("".join(f"{line}\n" for line in overrides))
    # --no-config: not this project's [tool.uv] settings, only what is given here.
    subprocess.run([*uv, "pip", "install", "-q", "--no-config", "--python",
                    str(env_dir / "bin" / "python"), "-r", str(env_dir / "requirements.in"),
                    "--override", str(env_dir / "overrides.txt")], check=True, env=env)
    stamp.write_text(wanted)
    return env_dir / "bin"


def reference_bin() -> Path:
    """The stock converter's environment: the reference recipe runs there."""
    return _build(REFERENCE_ENV, REQUIREMENTS.read_text(), [])


def slim_bin() -> Path:
    """The same converter installed as mlbridge installs it: no stock-only pins, and
    pyproject.toml's override-dependencies (read from there: one list)."""
    requirements = "".join(line + "\n" for line in REQUIREMENTS.read_text().splitlines()
                           if not line.endswith(STOCK_ONLY))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return _build(SLIM_ENV, requirements, project["tool"]["uv"]["override-dependencies"])


def _site_packages(bin_dir: Path) -> Path:
    return next((bin_dir.parent / "lib").glob("python3*/site-packages"))


def _size_and_count(bin_dir: Path) -> tuple[float, int]:
    """MiB on disk (hard links counted once, as `du`) and installed distributions."""
    site = _site_packages(bin_dir)
    used = subprocess.run(["du", "-sm", str(bin_dir.parent)], capture_output=True, text=True,
                          check=True).stdout.split()[0]
    return float(used), len(list(site.glob("*.dist-info")))


def install(sizes: Sizes, saved_model: Path, work: Path) -> str:
    log("install: sizes, packages, and convert against tensorflowjs_converter")
    ref = reference_bin()
    slim = slim_bin() if sizes.slim_env else BIN  # --quick: one TensorFlow install less
    slim_mib, slim_count = _size_and_count(slim)
    ref_mib, ref_count = _size_and_count(ref)
    left_out = [name for name in ("jax", "jaxlib", "flax", "tensorflow_decision_forests", "ydf",
                                  "tensorflow_hub")
                if (_site_packages(ref) / name).is_dir()
                and not (_site_packages(slim) / name).exists()
                and not (_site_packages(BIN) / name).exists()]
    stock, ours = [], []
    for i in range(sizes.repeats):
        stock.append(timed([str(ref / "tensorflowjs_converter"), "--input_format=tf_saved_model",
                            str(saved_model), str(work / f"stock-{i}")])[0])
        ours.append(timed([str(BIN / "mlbridge"), "convert", str(saved_model), "--out",
                           str(work / f"ours-{i}"), "--quiet"])[0])
    stock_s, ours_s = statistics.median(stock), statistics.median(ours)
    rows = [["the converter's environment: size", f"{ref_mib:,.0f} MiB", f"{slim_mib:,.0f} MiB",
             f"{ref_mib - slim_mib:,.0f} MiB less"],
            ["the converter's environment: installed packages", str(ref_count),
             str(slim_count), f"{ref_count - slim_count} fewer"],
            ["SavedModel → model.json (the recipe's SavedModel)", f"{stock_s:.1f} s",
             f"{ours_s:.1f} s", ratio(stock_s, ours_s) + " as fast"]]
    ours_mib, ours_count = _size_and_count(BIN)
    return ("The converter installed as `pip install tensorflowjs` installs it "
            "(`bench/reference-requirements.txt`, with the pins that make it import) against "
            "the same converter installed the way mlbridge installs it (without those pins, "
            "with pyproject.toml's `override-dependencies`), both built by uv with bytecode. "
            f"(mlbridge's whole environment, with the web server, Playwright, matplotlib, "
            f"scikit-learn and the test tools, is {ours_mib:,.0f} MiB in {ours_count} "
            "packages.) Conversion: "
            "`tensorflowjs_converter --input_format=tf_saved_model` against `mlbridge "
            f"convert`, median of {sizes.repeats}, each a fresh process.\n\n"
            + table(["what", "reference (stock converter)", "mlbridge", "difference"], rows)
            + f"\n\nLeft out of mlbridge's environment: {', '.join(left_out) or 'none'}.\n\n"
            + "- Goal: none of jax, flax, tensorflow-decision-forests, ydf, tensorflow-hub "
              "installed. " + goal(len(left_out) == 6, f"{len(left_out)} of 6 left out.")
            + "\n")
