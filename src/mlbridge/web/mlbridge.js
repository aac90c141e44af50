// mlbridge.js: load an mlbridge bundle in the browser and predict from raw values.
//
//   import { loadModel } from "/static/mlbridge.js";
//   const model = await loadModel("/models/artists/web/");
//   const [popularity] = await model.predict({ twitter_followers: [1000] });
//   const [{ value, lower, upper }] = await model.predictInterval({ twitter_followers: [1000] });
//   // a classifier answers [{ label, probabilities: { label: p, ... } }]
//
// The bundle's graph holds every transform (imputing, log, scaling, category lookup,
// clipping), so this file does no preprocessing of its own: it checks the inputs (by the
// rules of inputs.js, shared with predict.mjs), and feeds each to its named graph input:
// float32 [rows, 1] for a number (NaN = missing), string [rows, 1] for a category.
// Two runtimes give the same numbers: "tfjs" (the TF.js graph model) and "standalone"
// (the bundle's predict.mjs: plain arithmetic, no TF.js download at all).

import { answer, range } from "./answers.js";
import { columns } from "./inputs.js";

export { columns };

// The three ways to ask, the same for both runtimes, built on `outputs` (raw rows).
function withAnswers(fields, outputs) {
  return {
    ...fields,
    outputs,
    async predict(inputs) {
      return (await outputs(inputs)).map((row) => answer(row, fields.metadata.output));
    },
    async predictInterval(inputs) {
      return (await outputs(inputs)).map((row) => range(row, fields.metadata.output));
    },
  };
}

// The vendored runtime, served beside the page under a versioned path (src/mlbridge/resources.py).
export const TFJS_VERSION = "4.22.0";
const TFJS_URL = new URL(`../vendor/tfjs/${TFJS_VERSION}/tf.fesm.min.js`, import.meta.url).href;

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
 * backend ("webgl", "cpu", ...) and tfjsUrl. Resolves to { metadata, runtime, backend,
 * predict(inputs), predictInterval(inputs), outputs(inputs), dispose() }: each returns a
 * Promise of one answer per row (see answers.js), outputs the raw output rows.
 */
export async function loadModel(url, { runtime = "tfjs", backend, tfjsUrl } = {}) {
  // Absolute, so the dynamic import() of predict.mjs resolves a page-relative URL too.
  const base = new URL(url.endsWith("/") ? url : `${url}/`, document.baseURI).href;
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
  const fields = { metadata, runtime: "tfjs", backend: tf.getBackend(), dispose: () => graph.dispose() };
  return withAnswers(fields, async (inputs) => {
    const cols = columns(inputs, metadata.inputs);
    const feeds = Object.fromEntries(metadata.inputs.map((input, j) => [
      input.input,
      tf.tensor(cols[j], [cols[j].length, 1], input.kind === "categorical" ? "string" : "float32"),
    ]));
    let y = null;
    try {
      y = lookups ? await graph.executeAsync(feeds) : graph.execute(feeds);
      return await y.array();
    } finally {
      tf.dispose(Object.values(feeds));
      if (y) y.dispose();
    }
  });
}

async function loadStandalone(base, metadata) {
  if (!metadata.standalone?.file) {
    throw new Error(`this bundle has no predict.mjs: ${metadata.standalone?.skipped ?? "not generated"}`);
  }
  const module = await import(`${base}predict.mjs`);
  const fields = { metadata, runtime: "standalone", backend: "none", dispose() {} };
  return withAnswers(fields, async (inputs) => module.outputs(inputs));
}
