"""Section 10: the static site of the million-row bundle, built and used from a static host."""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path

from common import BIN, Sizes, goal, log, table, timed

#: Page-side clocks (performance.now(), from navigation start): when the page is ready,
#: when the lookup form is submitted, when the answer shows. The page's own time to a
#: first answer is ready + (shown - submitted): the driver's typing in between is not
#: the page's.
_MARKS = """
const mark = (name) => { window[name] ??= performance.now(); };
new MutationObserver(() => {
  if (document.body?.dataset.ready === "true") mark("__ready");
  const result = document.getElementById("result");
  if (result && !result.hidden) mark("__shown");
}).observe(document, { subtree: true, attributes: true, childList: true });
document.addEventListener("submit", () => mark("__submitted"), true);
"""


def static_site(sizes: Sizes, bundle: Path, keys: list[str], work: Path) -> str:
    log("static site: build, lookup bytes, first prediction")
    from mlbridge.browser import chromium
    from mlbridge.localhttp import serve

    (bundle / "records.sqlite").unlink(missing_ok=True)  # the site builds its lookup anew
    site = work / "site"
    wall, _, _ = timed([str(BIN / "mlbridge"), "site", str(bundle), "--out", str(site),
                           "-q"])
    lookup_files = list((site / "lookup").glob("*.json"))
    sizes_kb = [f.stat().st_size / 1000 for f in lookup_files]
    asked = random.Random(2).sample(keys, min(len(keys), sizes.site_lookups))
    queries = {"auto, the page's default (predict.mjs here)": "",
               "TF.js cpu (`?runtime=tfjs-cpu`)": "?runtime=tfjs-cpu"}
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in queries}
    with serve({"/": site}) as server, chromium() as chrome:
        url = f"{server.url}/"
        warm = chrome.new_page()  # start Chromium's renderer machinery once, off the clock
        warm.goto(f"{url}config.json")
        warm.close()
        for samples, query in zip(runs.values(), queries.values(), strict=True):
            for key in asked:
                page = chrome.new_page()  # a fresh context: an empty cache every time
                page.add_init_script(_MARKS)
                seen: list = []
                page.on("requestfinished", lambda request, out=seen: out.append(request))
                start = time.perf_counter()
                page.goto(url + query)
                page.wait_for_selector("body[data-ready=true]", timeout=60_000)
                page.fill("#key-input", key)
                page.click("#lookup-form button")
                page.wait_for_selector("#result:not([hidden])", timeout=60_000)
                wall_s = time.perf_counter() - start
                page_s = page.evaluate("() => (window.__ready + window.__shown - "
                                       "window.__submitted) / 1000")
                lookup_kb = sum(r.sizes()["responseBodySize"] for r in seen
                                if "/lookup/" in r.url) / 1000
                samples.append((page_s, lookup_kb, wall_s))
                page.close()
    rows = [["`mlbridge site` wall time (SQLite store + lookup files + copies)", f"{wall:.1f} s"],
            ["lookup files / largest / total", f"{len(lookup_files):,} / "
             f"{max(sizes_kb):.1f} KB / {sum(sizes_kb) / 1000:.1f} MB"]]
    worst_kb = max(kb for samples in runs.values() for _, kb, _ in samples)
    for name, samples in runs.items():
        seconds = [s for s, _, _ in samples]
        walls = [w for _, _, w in samples]
        rows.append([f"first prediction from an empty cache, {name}: median / worst",
                     f"{statistics.median(seconds):.2f} s / {max(seconds):.2f} s"])
        rows.append([f"the same, {name}, with the driver's typing (wall): median / worst",
                     f"{statistics.median(walls):.2f} s / {max(walls):.2f} s"])
        rows.append([f"lookup bytes per key, {name}: median / worst",
                     f"{statistics.median(kb for _, kb, _ in samples):.1f} KB / "
                     f"{max(kb for _, kb, _ in samples):.1f} KB"])
    default = [s for s, _, _ in next(iter(runs.values()))]
    first_median, first_worst = statistics.median(default), max(default)
    return (f"`mlbridge site` on the {sizes.large_rows:,}-row bundle of section 5, then the "
            "site served by a static file server on 127.0.0.1 (`mlbridge.localhttp`: Python's "
            f"`http.server`) and {len(asked)} random keys looked up "
            "through the page in headless Chromium, each in a fresh browser "
            "context (an empty cache). A first prediction is the page's own time, by its "
            "clock (`performance.now()`): from navigation to ready, plus from submitting the "
            "key to the answer on screen; the wall time with the driver's typing is beside "
            "it.\n\n"
            + table(["what", "figure"], rows) + "\n\n"
            + "- Goal: the site builds within 60 s. " + goal(wall <= 60, f"{wall:.1f} s.")
            + "\n- Goal: a lookup downloads under 50 KB. "
            + goal(worst_kb < 50, f"at most {worst_kb:.1f} KB.")
            + "\n- Goal: first prediction from an empty cache within 1 s (median, as every "
            "timing here). " + goal(first_median <= 1, f"{first_median:.2f} s with the page's "
                                    f"default (worst of {len(default)}: {first_worst:.2f} s)."
                                    ) + "\n")
