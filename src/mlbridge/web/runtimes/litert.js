// runtimes/litert.js: LiteRT.js (Google's web runtime for .tflite models) on the bundle's
// model.tflite, made by TensorFlow's own converter at batch 1: a batch runs row by row.
// LiteRT.js has no string tensors, so a trained bundle's model.tflite starts after the
// category lookups: each category is fed as its slot (lookups.js, as predict.mjs does).
import { slots } from "../lookups.js";
import { rows, tableFeeds, unavailable } from "./common.js";

export const VERSION = "2.5.3";
const DIR = new URL(`../../vendor/litertjs/${VERSION}/`, import.meta.url).href;
export const ACCELERATORS = ["wasm", "webgpu"];
const ARRAYS = { float32: Float32Array, int32: Int32Array, uint8: Uint8Array };

let loading = null;

// Import LiteRT.js and start its WebAssembly runtime, once per page.
function loadLiteRt() {
  loading ??= import(`${DIR}litert.min.js`).then(async (litert) => {
    await litert.loadLiteRt(`${DIR}wasm/`);
    return litert;
  });
  return loading;
}

export async function open(base, metadata, accelerator = "wasm") {
  if (!ACCELERATORS.includes(accelerator)) {
    throw new Error(`unknown LiteRT.js accelerator "${accelerator}" (use ${ACCELERATORS.join(", ")})`);
  }
  const spec = metadata.litert;
  if (!spec?.file) throw unavailable(`this bundle has no model.tflite: ${spec?.skipped ?? "not made"}`);
  if (accelerator === "webgpu" && !(await navigator.gpu?.requestAdapter())) {
    throw unavailable("WebGPU is not available in this browser (no GPU adapter)");
  }
  const litert = await loadLiteRt();
  const model = await litert.loadAndCompile(new URL(spec.file.replace(/^web\//, ""), base).href, { accelerator });

  // One row at a time: slice each feed's values, run, and gather each output's values.
  async function run(feeds) {
    const n = Object.values(feeds)[0].shape[0];
    const gathered = spec.outputs.map(() => []);
    for (let i = 0; i < n; i++) {
      const tensors = {};
      for (const input of spec.inputs) {
        const { values, shape } = feeds[input.name];
        const size = values.length / n;
        const row = ARRAYS[input.dtype].from(values.slice(i * size, (i + 1) * size));
        tensors[input.name] = new litert.Tensor(row, [1, ...shape.slice(1)]);
      }
      let results = null;
      try {
        results = await model.run(tensors);
        spec.outputs.forEach((output, j) => gathered[j].push(...results[output.name].toTypedArray()));
      } finally {
        for (const tensor of Object.values(tensors)) tensor.delete();
        for (const tensor of Object.values(results ?? {})) tensor.delete();
      }
    }
    return spec.outputs.map((output, j) => ({ shape: [n, ...output.shape.slice(1)], dtype: output.dtype, values: gathered[j] }));
  }

  // A trained bundle: numbers as float32 (NaN = missing), categories as their slots.
  async function table(cols) {
    const feeds = tableFeeds(cols, metadata.inputs, (values, input) => (input.kind === "numeric"
      ? { name: input.input, values, dtype: "float32" }
      : { name: input.input, values: slots(values, input.vocabulary), dtype: "int32" }));
    return rows((await run(feeds))[0]);
  }

  return { backend: accelerator, run, table, dispose: () => model.delete() };
}
