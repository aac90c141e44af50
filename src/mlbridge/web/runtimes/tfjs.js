// runtimes/tfjs.js: the TF.js graph model (model.json) on one of TF.js's backends: cpu,
// wasm, webgl or webgpu. TF.js and each backend are imported once, when first asked for,
// from the vendored copies served beside the page (src/mlbridge/vendor/tfjs).
import { rows, tableFeeds, unavailable } from "./common.js";

export const VERSION = "4.22.0";
const DIR = new URL(`../../vendor/tfjs/${VERSION}/`, import.meta.url).href;
// Backends that are modules of their own; cpu and webgl are in tf.fesm.min.js.
const MODULES = { wasm: "tf-backend-wasm.min.js", webgpu: "tf-backend-webgpu.min.js" };
export const BACKENDS = ["cpu", "wasm", "webgl", "webgpu"];

let loading = null;
let tf = null;
const added = {};

/** Import TensorFlow.js once (the page starts this early, while it reads its config). */
export function loadTf() {
  loading ??= import(`${DIR}tf.fesm.min.js`).then((module) => (tf = module));
  return loading;
}

async function addBackend(backend) {
  if (backend === "webgpu" && !(await navigator.gpu?.requestAdapter())) {
    throw unavailable("WebGPU is not available in this browser (no GPU adapter)");
  }
  if (!MODULES[backend]) return;
  added[backend] ??= import(`${DIR}${MODULES[backend]}`).then((module) => {
    if (backend === "wasm") {
      module.setWasmPaths(DIR);
      // The threaded binary needs a cross-origin-isolated page; it is not vendored.
      tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
    }
  });
  await added[backend];
}

// Make `backend` TF.js's active one (TF.js has one at a time, and moves a tensor's data
// when a model loaded on another backend runs).
async function activate(backend) {
  if (tf.getBackend() === backend) return;
  await addBackend(backend);
  if (!(await tf.setBackend(backend))) {
    throw unavailable(`the TF.js backend "${backend}" is not available in this browser`);
  }
  await tf.ready();
}

export async function open(base, metadata, backend = "cpu") {
  if (!BACKENDS.includes(backend)) throw new Error(`unknown TF.js backend "${backend}" (use ${BACKENDS.join(", ")})`);
  await loadTf();
  await activate(backend);
  const graph = await tf.loadGraphModel(`${base}model.json`);
  // A category is a lookup table and a brought model may hold a loop, which only
  // executeAsync runs; a table of numbers runs with execute, several times faster a call.
  const sync = !metadata.signature && metadata.inputs.every((input) => input.kind === "numeric");
  const outputs = metadata.signature?.outputs.map((output) => output.name);

  async function run(feeds) {
    await activate(backend);
    const tensors = Object.fromEntries(Object.entries(feeds).map(([name, { values, shape, dtype }]) =>
      [name, tf.tensor(values, shape, dtype)]));
    let result = null;
    try {
      result = sync ? graph.execute(tensors, outputs) : await graph.executeAsync(tensors, outputs);
      const list = Array.isArray(result) ? result : [result];
      const text = new TextDecoder();
      return Promise.all(list.map(async (t) => {
        const data = await t.data();
        return { shape: t.shape, dtype: t.dtype, values: t.dtype === "string" ? data.map((b) => text.decode(b)) : data };
      }));
    } finally {
      tf.dispose(Object.values(tensors));
      if (result) tf.dispose(result);
    }
  }

  // A trained bundle: a number is float32 (NaN = missing), a category its text ("" = missing).
  async function table(cols) {
    const feeds = tableFeeds(cols, metadata.inputs, (values, input) => ({
      name: input.input, values, dtype: input.kind === "numeric" ? "float32" : "string",
    }));
    return rows((await run(feeds))[0]);
  }

  return { backend: tf.getBackend(), run, table, dispose: () => graph.dispose() };
}
