// mlbridge.js: load an mlbridge bundle in the browser and predict from raw values.
//
//   import { loadModel } from "/static/mlbridge.js";
//   const model = await loadModel("/models/artists/web/");
//   const [popularity] = await model.predict({ twitter_followers: [1000] });
//
// The bundle's graph holds every transform (imputing, log, scaling, category lookup,
// clipping), so this file does no preprocessing of its own: it checks the inputs (by the
// rules of inputs.js, shared with predict.mjs), and feeds each to its named graph input:
// float32 [rows, 1] for a number (NaN = missing), string [rows, 1] for a category.
// Two runtimes give the same numbers: "tfjs" (the TF.js graph model) and "standalone"
// (the bundle's predict.mjs: plain arithmetic, no TF.js download at all).

import { columns } from "./inputs.js";

export { columns };

const TFJS_URL = new URL("../vendor/tfjs/tf.fesm.min.js", import.meta.url).href;

let tfjs = null;

/** Import TensorFlow.js once, and only when a TF.js model is asked for. */
export function loadTf(url = TFJS_URL) {
  tfjs ??= import(url);
  return tfjs;
}

async function fetchJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

/**
 * Load a bundle's web/ folder. Options: runtime ("tfjs" or "standalone"), and for TF.js
 * backend ("webgl", "cpu", ...) and tfjsUrl. Resolves to
 * { metadata, runtime, backend, predict(inputs) -> Promise<number[]>, dispose() }.
 */
export async function loadModel(url, { runtime = "tfjs", backend, tfjsUrl } = {}) {
  const base = url.endsWith("/") ? url : `${url}/`;
  const metadata = await fetchJson(`${base}metadata.json`);
  if (runtime === "standalone") return loadStandalone(base, metadata);
  if (runtime !== "tfjs") throw new Error(`unknown runtime "${runtime}" (use "tfjs" or "standalone")`);
  const tf = await loadTf(tfjsUrl);
  if (backend && !(await tf.setBackend(backend))) {
    throw new Error(`the TF.js backend "${backend}" is not available in this browser`);
  }
  await tf.ready();
  const graph = await tf.loadGraphModel(`${base}model.json`);
  // A category lookup is a hash-table op, which only executeAsync runs; without one the
  // synchronous execute is several times faster per call.
  const lookups = metadata.inputs.some((input) => input.kind === "categorical");
  return {
    metadata,
    runtime: "tfjs",
    backend: tf.getBackend(),
    async predict(inputs) {
      const cols = columns(inputs, metadata.inputs);
      const feeds = Object.fromEntries(metadata.inputs.map((input, j) => [
        input.input,
        tf.tensor(cols[j], [cols[j].length, 1], input.kind === "categorical" ? "string" : "float32"),
      ]));
      let y = null;
      try {
        y = lookups ? await graph.executeAsync(feeds) : graph.execute(feeds);
        return Array.from(await y.data());
      } finally {
        tf.dispose(Object.values(feeds));
        if (y) y.dispose();
      }
    },
    dispose() {
      graph.dispose();
    },
  };
}

async function loadStandalone(base, metadata) {
  if (!metadata.standalone?.file) {
    throw new Error(`this bundle has no predict.mjs: ${metadata.standalone?.skipped ?? "not generated"}`);
  }
  const module = await import(`${base}predict.mjs`);
  return {
    metadata,
    runtime: "standalone",
    backend: "none",
    async predict(inputs) {
      return module.predict(inputs);
    },
    dispose() {},
  };
}
