// mlbridge.js: load an mlbridge bundle in the browser and predict from raw values.
//
//   import { loadModel } from "/static/mlbridge.js";
//   const model = await loadModel("/models/artists/web/");
//   const [popularity] = await model.predict({ twitter_followers: [1000] });
//
// The bundle's graph holds every transform (log, scaling, clipping), so this file does
// no preprocessing of its own: it checks the inputs, orders them, and runs the graph.
// Two runtimes give the same numbers: "tfjs" (the TF.js graph model) and "standalone"
// (the bundle's predict.mjs: plain arithmetic, no TF.js download at all).

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
 * Check raw inputs against the model's features and flatten them, row-major.
 * Throws an Error naming the feature when one is missing or holds a non-number.
 */
export function toMatrix(inputs, features) {
  if (inputs === null || typeof inputs !== "object") {
    throw new Error(`inputs must be an object like { ${features[0]}: [1000] }`);
  }
  const columns = features.map((name) => {
    if (!(name in inputs)) throw new Error(`missing feature "${name}"`);
    const raw = inputs[name];
    const values = Array.isArray(raw) || ArrayBuffer.isView(raw) ? Array.from(raw) : [raw];
    return values.map((value) => {
      const number = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
      if (typeof number !== "number" || !Number.isFinite(number)) {
        throw new Error(`feature "${name}" has a value that is not a number: ${JSON.stringify(value)}`);
      }
      return number;
    });
  });
  const rows = columns[0].length;
  if (columns.some((column) => column.length !== rows)) {
    throw new Error("every feature needs the same number of values");
  }
  const matrix = new Float32Array(rows * features.length);
  columns.forEach((column, j) => column.forEach((v, i) => { matrix[i * features.length + j] = v; }));
  return { rows, matrix };
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
  const features = metadata.inputs.map((input) => input.name);
  const tf = await loadTf(tfjsUrl);
  if (backend && !(await tf.setBackend(backend))) {
    throw new Error(`the TF.js backend "${backend}" is not available in this browser`);
  }
  await tf.ready();
  const graph = await tf.loadGraphModel(`${base}model.json`);
  return {
    metadata,
    runtime: "tfjs",
    backend: tf.getBackend(),
    async predict(inputs) {
      const { rows, matrix } = toMatrix(inputs, features);
      const x = tf.tensor2d(matrix, [rows, features.length], "float32");
      const y = graph.predict(x);
      try {
        return Array.from(await y.data());
      } finally {
        x.dispose();
        y.dispose();
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
