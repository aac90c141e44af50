"""Section 11: every runtime on models people bring and on the default table bundle.

Each model is converted with `mlbridge convert`, checked by `verify` (every runtime
against the SavedModel), then each runtime that passed is loaded again in fresh browser
contexts (empty cache) for its first prediction, navigation to answer with its
downloads, and its time per prediction. `auto` is what verify's ranking puts first.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from common import ROOT, Sizes, goal, log, ratio, table

sys.path.insert(0, str(ROOT / "tests"))
#: Fresh browser contexts per runtime and model (full run, quick run): TF.js cpu takes
#: about a second a prediction on EfficientNetB0, and each context times 15 of them.
REPEATS = {False: 3, True: 1}


def _image_models(side: int, quick: bool) -> dict:
    """Keras applications with seeded weights and batch-norm statistics from one batch."""
    import convert_models as cm
    import keras

    def build(make):
        keras.utils.set_random_seed(0)
        return cm.calibrate(make(), (8, side, side, 3))

    apps = keras.applications
    if quick:
        return {f"MobileNetV2 α=0.35, {side}×{side}": lambda: build(lambda: apps.MobileNetV2(
            weights=None, input_shape=(side, side, 3), alpha=0.35, classes=10))}
    return {f"MobileNetV2, {side}×{side}": lambda: build(
                lambda: apps.MobileNetV2(weights=None, input_shape=(side, side, 3))),
            f"EfficientNetB0, {side}×{side}": lambda: build(
                lambda: apps.EfficientNetB0(weights=None, input_shape=(side, side, 3)))}


def _transformer(tokens: int, width: int) -> object:
    """One encoder block: token embedding, 4-head self-attention, exact-gelu feed-forward."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    ids = keras.Input((tokens,), dtype="int32", name="tokens")
    x = layers.Embedding(2000, width)(ids)
    x = layers.LayerNormalization()(x + layers.MultiHeadAttention(4, width // 4)(x, x))
    x = layers.LayerNormalization()(x + layers.Dense(width)(
        layers.Dense(4 * width, activation="gelu")(x)))
    out = layers.Dense(2, activation="softmax")(layers.GlobalAveragePooling1D()(x))
    return keras.Model(ids, out, name="transformer_block")


def _timings(runs: list[dict]) -> dict[str, dict]:
    """Median timings per runtime over repeated `verify` runs (each a fresh context)."""
    found: dict[str, list[dict]] = {}
    for parity in runs:
        for check in parity["checks"]:
            if check["status"] == "passed" and "ms_per_prediction" in check:
                found.setdefault(check["runtime"], []).append(check)
    return {name: {key: statistics.median(c[key] for c in checks)
                   for key in ("ms_per_prediction", "navigation_ms", "bytes")}
            for name, checks in found.items()}


def _rows_for(name: str, parity: dict, measured: dict[str, dict]) -> list[list[str]]:
    rows = []
    for check in parity["checks"]:
        runtime = check["runtime"]
        if check["status"] != "passed":
            why = check.get("error", check["status"])
            rows.append([name, runtime, "—", "—", "—", f"{check['status']}: {why}"[:90]])
            continue
        m = measured.get(runtime, {})
        if "ms_per_prediction" not in m:
            continue
        rows.append([name, runtime, f"{m['ms_per_prediction']:.3g} ms",
                     f"{m['navigation_ms']:,.0f} ms", f"{m['bytes'] / 2**20:.1f} MiB",
                     "passed" + (" · **auto**" if parity["ranking"][:1] == [runtime] else "")])
    return rows


def runtimes(sizes: Sizes, table_bundle: Path, work: Path) -> str:
    log("runtimes: converted image models, a transformer block and the table bundle")
    from mlbridge.browser import chromium
    from mlbridge.convert import convert, verify_converted
    from mlbridge.verify import verify

    quick = sizes.repeats == 1
    models = _image_models(32 if quick else 96, quick)
    models["transformer block, 16 tokens" if quick else "transformer block, 64 tokens"] = (
        lambda: _transformer(16, 32) if quick else _transformer(64, 128))
    rows, goals = [], []
    with chromium() as chrome:
        for name, build in models.items():
            source = work / f"{name.split(',')[0].replace(' ', '_')}.keras"
            build().save(source)
            out = work / f"{source.stem}_web"
            started = time.perf_counter()
            convert(source, out, replace=True)
            seconds = time.perf_counter() - started
            runs = [verify_converted(out, chromium=chrome) for _ in range(REPEATS[quick])]
            parity, measured = runs[-1], _timings(runs)
            log(f"runtimes: {name} converted in {seconds:.0f} s; ranking {parity['ranking']}")
            rows += _rows_for(name, parity, measured)
            if "transformer" not in name:
                goals.append((name, parity, measured))
        runs = [verify(table_bundle, chromium=chrome) for _ in range(REPEATS[quick])]
        parity = runs[-1]
        rows += _rows_for("the default table bundle (artists, linear)", parity, _timings(runs))
        version = chrome.version
    lines = []
    for name, checked, timings in goals:
        auto, cpu = checked["ranking"][0], timings.get("tfjs-cpu")
        if cpu is None or auto not in timings:
            lines.append(f"- {name}: auto is {auto}; TF.js cpu did not run, no ratio.")
            continue
        fast = cpu["ms_per_prediction"] / timings[auto]["ms_per_prediction"]
        first_ok = timings[auto]["navigation_ms"] <= cpu["navigation_ms"]
        lines.append(f"- Goal, {name}: auto ({auto}) at least 20× faster per prediction than "
                     "TF.js cpu, first prediction no slower. " + goal(
                         fast >= 20 and first_ok,
                         f"{ratio(cpu['ms_per_prediction'], timings[auto]['ms_per_prediction'])}"
                         f" per prediction; first prediction {timings[auto]['navigation_ms']:,.0f}"
                         f" ms against TF.js cpu's {cpu['navigation_ms']:,.0f} ms."))
    table_auto = parity["ranking"][0]
    lines.append("- Goal, the default table bundle keeps predict.mjs's speed and small download. "
                 + goal(table_auto == "standalone", f"auto picks {table_auto}."))
    return (f"Chromium {version}, headless, no GPU (so no WebGPU: reported unavailable, not "
            "failed). Models with seeded random weights (`weights=None`, batch-norm statistics "
            "from one batch), converted by `mlbridge convert`; every runtime checked by "
            "`verify` against the SavedModel. Per runtime that passed: the median of "
            f"{REPEATS[quick]} fresh browser contexts (empty cache), served from "
            "127.0.0.1; **per prediction** is the median time of one single-row call, **first "
            "prediction** is from navigation to the first answer, downloads included; "
            "**downloaded** is every byte the runtime and model fetched. auto is verify's "
            "ranking's first: the lowest time to 10 answers, counting the bytes at 5 MB/s.\n\n"
            + table(["model", "runtime", "per prediction", "first prediction", "downloaded",
                     "verify"], rows) + "\n\n" + "\n".join(lines) + "\n")
