// mlbridge.js: load an mlbridge bundle in the browser and predict from raw values.
//
//   import { loadModel } from "/static/mlbridge.js";
//   const model = await loadModel("/models/artists/web/");      // runtime "auto"
//   const [popularity] = await model.predict({ twitter_followers: [1000] });
//   const [{ value, lower, upper }] = await model.predictInterval({ twitter_followers: [1000] });
//   // a classifier answers [{ label, probabilities: { label: p, ... } }]
//
// Runtimes (one module each in runtimes/): "tfjs-cpu", "tfjs-wasm", "tfjs-webgl",
// "tfjs-webgpu" (the TF.js graph model), "litert-wasm", "litert-webgpu" (LiteRT.js and the
// bundle's model.tflite), "standalone" (the bundle's predict.mjs: no runtime download), and
// "auto": the fastest that `mlbridge verify` passed in this kind of browser (its ranking
// is in metadata.json), else the safe order below. `{ runtime: "tfjs", backend: "wasm" }`
// names the same as "tfjs-wasm". The graph holds every transform, so this file does no
// preprocessing: it checks the inputs (inputs.js, shared with predict.mjs) and feeds them.

import { answer, range } from "./answers.js";
import { columns } from "./inputs.js";
import { preprocessFeeds } from "./preprocess.js";
import * as litert from "./runtimes/litert.js";
import * as standalone from "./runtimes/standalone.js";
import * as tfjs from "./runtimes/tfjs.js";

export { columns };
export const loadTf = tfjs.loadTf;
export const TFJS_VERSION = tfjs.VERSION;
const MODULES = { tfjs, litert, standalone };
export const RUNTIMES = [...tfjs.BACKENDS.map((b) => `tfjs-${b}`), ...litert.ACCELERATORS.map((a) => `litert-${a}`), "standalone"];
// With no ranking from verify for this browser: predict.mjs (plain arithmetic), else TF.js
// on cpu, the one backend with a kernel for every op (wasm lacks some; see the README).
export const SAFE_ORDER = ["standalone", "tfjs-cpu"];

/** The browser engine, as verify records it with its ranking ("Chromium", "Firefox", ...). */
export function browserEngine() {
  const brands = navigator.userAgentData?.brands?.map((b) => b.brand) ?? [];
  if (brands.includes("Chromium") || /Chrome\//.test(navigator.userAgent)) return "Chromium";
  if (/Firefox\//.test(navigator.userAgent)) return "Firefox";
  if (/Safari\//.test(navigator.userAgent)) return "WebKit";
  return "other";
}

/** The runtimes "auto" tries, best first: verify's ranking made in this kind of browser,
 * else SAFE_ORDER. A runtime that cannot load here (no WebGPU) is skipped. */
export function autoOrder(metadata) {
  const record = metadata.runtimes;
  if (record?.engine === browserEngine() && record.ranking?.length) return record.ranking;
  return SAFE_ORDER.filter((name) => name !== "standalone" || metadata.standalone?.file);
}

function parse(runtime, backend) {
  const [kind, ...rest] = runtime.split("-");
  if (!MODULES[kind] || (rest.length && backend)) {
    throw new Error(`unknown runtime "${runtime}" (use auto or one of ${RUNTIMES.join(", ")})`);
  }
  return { kind, backend: rest.join("-") || backend };
}

async function fetchJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

/**
 * Load a bundle's web/ folder (trained or converted). Options: runtime (default "auto"),
 * backend (with runtime "tfjs" or "litert"), among (auto: only these runtimes, e.g. the
 * ones a site carries). Resolves to { metadata, runtime, backend,
 * run(feeds), dispose() } and, for a trained bundle, predict(inputs), predictInterval(inputs)
 * and outputs(inputs): each a Promise of one answer per row (answers.js). `run` takes
 * { inputName: { values, shape, dtype } } and gives the graph's outputs, in order.
 */
export async function loadModel(url, { runtime = "auto", backend, among } = {}) {
  // Absolute, so the dynamic import() of predict.mjs resolves a page-relative URL too.
  const base = new URL(url.endsWith("/") ? url : `${url}/`, document.baseURI).href;
  const metadata = await fetchJson(`${base}metadata.json`);
  if (runtime !== "auto") return open(base, metadata, parse(runtime, backend));
  let failure = null;
  for (const name of autoOrder(metadata).filter((n) => !among || among.includes(n))) {
    try {
      return await open(base, metadata, parse(name));
    } catch (error) {
      failure = error; // unavailable here (no WebGPU, ...): the next one
    }
  }
  throw failure ?? new Error("no runtime can run this bundle");
}

async function open(base, metadata, { kind, backend }) {
  const opened = await MODULES[kind].open(base, metadata, backend);
  const name = kind === "standalone" ? "standalone" : `${kind}-${opened.backend}`;
  // A converted model with text layers: its graph starts after them, the page does them.
  const run = metadata.preprocess ? (feeds) => opened.run(preprocessFeeds(metadata.preprocess, feeds)) : opened.run;
  const model = { metadata, runtime: kind, backend: opened.backend, name, run, dispose: opened.dispose };
  if (!metadata.inputs) return model; // a converted model: run(feeds) only
  const outputs = opened.outputs
    ?? (async (inputs) => opened.table(columns(inputs, metadata.inputs, metadata.other_columns)));
  return {
    ...model,
    outputs,
    async predict(inputs) {
      return (await outputs(inputs)).map((row) => answer(row, metadata.output));
    },
    async predictInterval(inputs) {
      return (await outputs(inputs)).map((row) => range(row, metadata.output));
    },
  };
}
