// runtimes/common.js: what the runtime modules share.
import { wordHot } from "../text.js";

// An error that says "this runtime cannot run here" (no WebGPU, no model file for it), as
// opposed to "it ran and failed": verify records the first as unavailable, never as a pass.
export function unavailable(message) {
  return Object.assign(new Error(message), { name: "RuntimeUnavailable" });
}

// A trained bundle's inputs: one column of checked values per feature (inputs.js), each
// fed as [rows, width]: width 1, but a text's multi-hot of its words (text.js).
// `encode(column, input)` gives the values and dtype a runtime takes for the others.
export function tableFeeds(cols, inputs, encode) {
  return Object.fromEntries(inputs.map((input, j) => {
    if (input.kind === "text") {
      const width = input.vocabulary.length;
      return [input.input, { values: wordHot(cols[j], input.vocabulary), shape: [cols[j].length, width], dtype: "float32" }];
    }
    const { name, values, dtype } = encode(cols[j], input);
    return [name, { values, shape: [cols[j].length, 1], dtype }];
  }));
}

// A flat output with shape [rows, k] as rows of k numbers.
export function rows({ shape, values }) {
  const k = shape.slice(1).reduce((a, b) => a * b, 1);
  return Array.from({ length: shape[0] }, (_, i) => Array.from(values.slice(i * k, (i + 1) * k)));
}
