"""Section 4: predictions in headless Chromium, on every runtime, against predict.mjs."""

from __future__ import annotations

import statistics
from pathlib import Path

from common import Sizes, goal, log, ratio, table

_BROWSER_RUN = """
async ({ url, options, single, minMs, batch }) => {
  const { loadModel } = await import("/static/mlbridge.js");
  const model = await loadModel(url, options);
  await model.predict({ twitter_followers: [1000] });
  const firstPrediction = performance.now();          // since navigation started
  // The browser's clock is coarse (0.1 ms): time many calls, at least minMs in all.
  let calls = 0;
  const start = performance.now();
  while (calls < single || performance.now() - start < minMs) {
    await model.predict({ twitter_followers: [1000 + calls] });
    calls += 1;
  }
  const singleMs = (performance.now() - start) / calls;
  // predict.mjs is synchronous; also time it called directly, without the async wrapper.
  let directMs = null;
  if (options.runtime === "standalone") {
    const { predict } = await import(`${url}predict.mjs`);
    let n = 0;
    const t0 = performance.now();
    while (n < single || performance.now() - t0 < minMs) {
      predict({ twitter_followers: [1000 + n] });
      n += 1;
    }
    directMs = (performance.now() - t0) / n;
  }
  const values = Array.from({ length: batch }, (_, i) => 1 + i * 997);
  const t = performance.now();
  await model.predict({ twitter_followers: values });
  const batchMs = performance.now() - t;
  return { firstPrediction, singleMs, directMs, calls, batchMs, backend: model.backend };
}
"""


def browser(sizes: Sizes, bundle_path: Path) -> str:
    log("browser: TF.js (webgl, cpu, wasm), LiteRT.js and predict.mjs in headless Chromium")
    from mlbridge.browser import chromium
    from mlbridge.bundle import load
    from mlbridge.server import BackgroundServer, create_app

    runs = {"TF.js, webgl": {"runtime": "tfjs-webgl"}, "TF.js, cpu": {"runtime": "tfjs-cpu"},
            "TF.js, wasm": {"runtime": "tfjs-wasm"}, "LiteRT.js, wasm": {"runtime": "litert-wasm"},
            "predict.mjs": {"runtime": "standalone"}}
    bundle = load(bundle_path)
    results: dict[str, dict] = {}
    with BackgroundServer(create_app(bundle)) as server, chromium() as chrome:
        version = chrome.version
        for name, options in runs.items():
            samples, downloaded = [], []
            for _ in range(sizes.browser_repeats):
                page = chrome.new_page()  # a fresh context: empty cache every time
                finished = []
                page.on("requestfinished", lambda request, seen=finished: seen.append(request))
                page.goto(f"{server.url}/static/verify.html")
                samples.append(page.evaluate(_BROWSER_RUN, {
                    "url": f"/models/{bundle.path.name}/web/", "options": options,
                    "single": sizes.single_predictions, "minMs": sizes.single_min_ms,
                    "batch": sizes.batch_rows}))
                downloaded.append(sum(r.sizes()["responseBodySize"] for r in finished))
                page.close()
            results[name] = {key: statistics.median(s[key] for s in samples)
                             for key in ("firstPrediction", "singleMs", "batchMs")}
            results[name]["bytes"] = statistics.median(downloaded)
            if options["runtime"] == "standalone":
                direct = statistics.median(s["directMs"] for s in samples)
    mjs = results["predict.mjs"]
    rows = [[name, f"{r['firstPrediction']:.0f} ms", f"{r['singleMs'] * 1000:.1f} µs",
             f"{r['batchMs']:.1f} ms", f"{r['bytes'] / 1024:,.0f} KiB",
             ratio(r["singleMs"], direct)] for name, r in results.items()]
    rows[-1][0] = "predict.mjs via `loadModel` (async wrapper)"
    rows.append(["predict.mjs, `predict()` called directly (sync)", "", f"{direct * 1000:.2f} µs",
                 "", "", "1.0×"])
    fastest_tfjs = min(results[name]["singleMs"] for name in runs if name.startswith("TF.js"))
    return (f"Chromium {version}, headless, software WebGL (no GPU on this machine); the "
            f"default linear bundle. Medians of {sizes.browser_repeats} fresh page loads "
            f"(empty cache); one prediction is the mean over at least "
            f"{sizes.single_predictions} calls and {sizes.single_min_ms} ms (the browser's "
            f"clock is too coarse for one call); the batch is {sizes.batch_rows:,} rows. "
            "Bytes are everything the page downloaded, from navigation to the batch.\n\n"
            + table(["runtime", "navigation → first prediction", "one prediction",
                     f"batch of {sizes.batch_rows:,}", "downloaded",
                     "one prediction vs predict.mjs direct"], rows) + "\n\n"
            + "- Goal: predict.mjs at least 100× faster per single prediction than TF.js. "
            + goal(fastest_tfjs / direct >= 100,
                   f"{ratio(fastest_tfjs, direct)} against the fastest TF.js backend, calling "
                   "`predict()` as the module is meant to be used (synchronously). Through "
                   f"`mlbridge.js`'s async `loadModel` wrapper it is "
                   f"{ratio(fastest_tfjs, mjs['singleMs'])}: the Promise costs more than "
                   "the arithmetic.")
            + "\n- Goal: no runtime download. "
            + goal(mjs["bytes"] < 100 * 1024,
                   f"predict.mjs pages download {mjs['bytes'] / 1024:,.0f} KiB in all; TF.js "
                   f"pages {results['TF.js, cpu']['bytes'] / 1024:,.0f} KiB (cpu), LiteRT.js "
                   f"pages {results['LiteRT.js, wasm']['bytes'] / 1024:,.0f} KiB.") + "\n")
