"""The ways a bundle runs in a browser (or Node.js), one small class each.

Each runtime knows what it needs of a bundle (`missing`), the files a page downloads for
it (`vendored`, `model_files`: what `mlbridge site` copies), and how `verify` drives it
(`run`): in Chromium through `mlbridge.js`'s `loadModel(url, {runtime})`, each in a fresh
browser context so that its first prediction pays its own downloads, or in Node.js.
Their JavaScript halves are `web/runtimes/*.js`. `rank` orders those that passed, for
`runtime: "auto"`.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from mlbridge.errors import VerifyError
from mlbridge.localhttp import SECURITY_HEADERS, LocalServer, serve
from mlbridge.resources import LITERT, TFJS, WEB_DIR, Vendored

#: The bandwidth `score` assumes to turn a runtime's bytes into time (40 Mbit/s).
BYTES_PER_SECOND = 5_000_000
#: `score` is the time to this many answers: the first (cold), then the rest at the
#: measured time per prediction. One would favour the smallest download, hundreds the
#: fastest kernel; ten is a person trying a few values on a page.
ANSWERS = 10
#: Timed samples of single-row predictions per runtime; the median is recorded.
TIMED_CALLS = 15


class Runtime:
    """One way to run a bundle; `name` is what loadModel's `runtime` option takes."""

    #: A reference runtime that cannot run a bundle fails verify; any other is recorded
    #: as unsupported for it, with its own error, and "auto" never picks it.
    reference: bool = False

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def missing(self, metadata: dict) -> str | None:
        """Why this bundle has nothing for this runtime, or None."""
        return None

    def vendored(self) -> list[tuple[Vendored, str]]:
        """Runtime files a page may download, as (vendored package, path in its folder)."""
        return []

    def model_files(self, metadata: dict) -> list[str]:
        """The bundle's files this runtime reads (paths as in metadata `files`)."""
        return []

    def run(self, browser: Any, server: LocalServer, url: str, feeds: Any, one: Any,
            table: bool) -> dict:
        """Load the bundle at `url` in a fresh context, predict `one` (timed, cold), then
        `feeds` (compared), then `one` TIMED_CALLS times; the page's report, or its error."""
        from playwright.sync_api import Error

        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(f"{server.url}/static/verify.html")
            return page.evaluate(_IN_PAGE, {"url": url, "options": {"runtime": self.name},
                                            "feeds": feeds, "one": one, "table": table,
                                            "calls": TIMED_CALLS})
        except Error as exc:
            raise VerifyError(f"{self.name} could not be run in Chromium: "
                              f"{str(exc).splitlines()[0]}",
                              hint="check that Chromium starts: chromium --headless "
                              "--version") from exc
        finally:
            context.close()


_IN_PAGE = """
async ({ url, options, feeds, one, table, calls }) => {
  const mlbridge = await import("/static/mlbridge.js");
  const engine = mlbridge.browserEngine();
  const call = (model, x) => (table ? model.outputs(x) : model.run(x));
  const fail = (e, extra) => ({ engine, ...extra, error: String(e?.message ?? e),
                                unavailable: e?.name === "RuntimeUnavailable" });
  const start = performance.now();
  let model = null;
  try {
    model = await mlbridge.loadModel(url, options);
    await call(model, one);
  } catch (e) {
    return fail(e, {});
  }
  const navigation_ms = performance.now(); // the page's clock starts at navigation
  const first_ms = navigation_ms - start;
  const bytes = performance.getEntriesByType("resource").filter((r) => r.startTime >= start)
    .reduce((sum, r) => sum + (r.encodedBodySize || 0), 0);
  try {
    const all = await call(model, feeds);
    // A page's clock ticks in 0.1 ms steps: each timed sample repeats the call often
    // enough to last about 5 ms, and counts as that time over the repeats.
    let t = performance.now();
    await call(model, one);
    const repeats = Math.max(1, Math.ceil(5 / Math.max(performance.now() - t, 0.01)));
    const times = [];
    for (let i = 0; i < calls; i++) {
      t = performance.now();
      for (let r = 0; r < repeats; r++) await call(model, one);
      times.push((performance.now() - t) / repeats);
    }
    const outputs = table ? all
      : all.map((o) => ({ shape: o.shape, values: Array.from(o.values) }));
    return { engine, backend: model.backend, outputs, first_ms, navigation_ms, bytes, times };
  } catch (e) {
    return fail(e, { first_ms });
  } finally {
    model.dispose();
  }
}
"""


class TfjsRuntime(Runtime):
    """The TF.js graph model (web/model.json) on one TF.js backend."""

    #: What each backend adds to tf.fesm.min.js (cpu and webgl are in it). wasm: both
    #: binaries, since the browser picks (SIMD or not); the threaded one is never used.
    ADDS: ClassVar[dict[str, tuple[str, ...]]] = {
        "wasm": ("tf-backend-wasm.min.js", "tfjs-backend-wasm-simd.wasm",
                 "tfjs-backend-wasm.wasm"),
        "webgpu": ("tf-backend-webgpu.min.js",)}

    def __init__(self, backend: str) -> None:
        super().__init__(f"tfjs-{backend}")
        self.backend = backend
        self.reference = backend == "cpu"  # TF.js's reference backend: a kernel for every op

    def missing(self, metadata: dict) -> str | None:
        return None if "web/model.json" in metadata.get("files", {}) else "no web/model.json"

    def vendored(self) -> list[tuple[Vendored, str]]:
        return [(TFJS, name) for name in ("tf.fesm.min.js", *self.ADDS.get(self.backend, ()))]

    def model_files(self, metadata: dict) -> list[str]:
        return [name for name in metadata.get("files", {}) if name == "web/model.json"
                or (name.startswith("web/") and name.endswith(".bin"))]


class LiteRtRuntime(Runtime):
    """LiteRT.js on web/model.tflite (made by TensorFlow's own converter, batch 1)."""

    #: loadLiteRt() picks one of these by the browser's features (relaxed SIMD or not).
    FILES: ClassVar[tuple[str, ...]] = tuple(
        f"wasm/{stem}.{ext}" for stem in ("litert_wasm_internal", "litert_wasm_compat_internal")
        for ext in ("js", "wasm"))

    def __init__(self, accelerator: str) -> None:
        super().__init__(f"litert-{accelerator}")
        self.accelerator = accelerator

    def missing(self, metadata: dict) -> str | None:
        litert = metadata.get("litert") or {}
        return None if litert.get("file") else litert.get("skipped", "no model.tflite")

    def vendored(self) -> list[tuple[Vendored, str]]:
        return [(LITERT, name) for name in ("litert.min.js", *self.FILES)]

    def model_files(self, metadata: dict) -> list[str]:
        return [] if self.missing(metadata) else [metadata["litert"]["file"]]


class StandaloneRuntime(Runtime):
    """web/predict.mjs in the page: the model as plain arithmetic, no runtime download."""

    reference = True  # mlbridge's own code: it must always agree

    def __init__(self, name: str = "standalone") -> None:
        super().__init__(name)

    def missing(self, metadata: dict) -> str | None:
        if "inputs" not in metadata:
            return "a converted model has no predict.mjs"
        standalone = metadata.get("standalone") or {}
        return None if standalone.get("file") else standalone.get("skipped", "no predict.mjs")

    def model_files(self, metadata: dict) -> list[str]:
        return [] if self.missing(metadata) else [metadata["standalone"]["file"]]


class NodeRuntime(StandaloneRuntime):
    """web/predict.mjs in Node.js: the same module, for servers and scripts."""

    def __init__(self) -> None:
        super().__init__("standalone-node")

    def run_module(self, module: Path, inputs: dict[str, list]) -> list:
        """The module's `outputs(inputs)` in Node.js (the machine's `node` or `nodejs`)."""
        node = shutil.which("node") or shutil.which("nodejs")
        if node is None:
            raise VerifyError("Node.js not found", hint="install it: apt-get install -y nodejs")
        done = subprocess.run([node, "--input-type=module", "-e", _IN_NODE,
                               module.resolve().as_uri()], input=json.dumps(inputs),
                              capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return {"error": f"predict.mjs failed in Node.js: {last}"}
        return {"outputs": json.loads(done.stdout)}


_IN_NODE = """
const { outputs } = await import(process.argv[1]);
let text = "";
for await (const chunk of process.stdin) text += chunk;
process.stdout.write(JSON.stringify(outputs(JSON.parse(text))));
"""

#: Every runtime, in the order verify runs them and its table lists them.
RUNTIMES: tuple[Runtime, ...] = (
    TfjsRuntime("cpu"), TfjsRuntime("wasm"), TfjsRuntime("webgl"), TfjsRuntime("webgpu"),
    LiteRtRuntime("wasm"), LiteRtRuntime("webgpu"), StandaloneRuntime(), NodeRuntime())
BY_NAME = {runtime.name: runtime for runtime in RUNTIMES}


@contextmanager
def page_server(web: Path) -> Iterator[LocalServer]:
    """A local origin for verify's page: mlbridge.js and its runtimes, the vendored
    runtimes, and the bundle's web/ at /model/, with the page's own security headers."""
    mounts = {"/static": WEB_DIR, "/model": web,
              **{f"/{vendored.url}": vendored.folder for vendored in (TFJS, LITERT)}}
    with serve(mounts, headers=SECURITY_HEADERS) as server:
        yield server


def timing(report: dict) -> dict:
    """What a page run measured: first prediction (from loading and from navigation),
    median per prediction, bytes."""
    found = {}
    if "first_ms" in report:
        found["first_ms"] = round(float(report["first_ms"]), 2)
    if "navigation_ms" in report:  # the same answer, from the page's navigation
        found["navigation_ms"] = round(float(report["navigation_ms"]), 2)
    if report.get("times"):
        found["ms_per_prediction"] = round(float(statistics.median(report["times"])), 4)
    if "bytes" in report:
        found["bytes"] = int(report["bytes"])
    return found


def score(check: dict) -> float:
    """Milliseconds to the first ANSWERS answers: the first (cold, downloads included) as
    measured on this machine plus its bytes at BYTES_PER_SECOND, then the rest at the
    measured time per prediction."""
    transfer = 1000.0 * check.get("bytes", 0) / BYTES_PER_SECOND
    return check["first_ms"] + transfer + (ANSWERS - 1) * check["ms_per_prediction"]


def ranking(checks: list[dict], engine: str, browser: str, checked: str) -> dict:
    """The `runtimes` section: page runtimes that passed, best (lowest `score`) first,
    and the kind of browser it holds for (auto uses it there only)."""
    timed = [c for c in checks if c["status"] == "passed" and "ms_per_prediction" in c]
    timed.sort(key=score)
    return {"engine": engine, "browser": browser, "checked": checked,
            "ranking": [c["runtime"] for c in timed],
            "score_ms": {c["runtime"]: round(score(c), 1) for c in timed},
            "rule": f"lowest time to {ANSWERS} answers: the first (cold, measured) plus its "
                    f"bytes at {BYTES_PER_SECOND / 1e6:g} MB/s, then {ANSWERS - 1} at the "
                    "median time per prediction"}
