// Decode a base64 little-endian float32 matrix into rows (exact weights, a third the size).
function f32(text, rows, cols) {
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const flat = new Float32Array(bytes.buffer);
  return Array.from({ length: rows }, (_, i) => flat.subarray(i * cols, (i + 1) * cols));
}
// ---- the interpreter: everything above this line is included only when used ----
function values(inputs, name) {
  if (!(name in Object(inputs ?? {}))) throw new Error(`missing feature "${name}"`);
  const raw = inputs[name];
  return (typeof raw === "object" ? Array.from(raw) : [raw]).map((v) => {
    const n = typeof v === "string" && v.trim() ? Number(v) : v;
    if (Number.isFinite(n)) return n;
    throw new Error(`feature "${name}" has a value that is not a number: ${JSON.stringify(v)}`);
  });
}

const step = {
  log1p: (s, h) => h.map((v, j) => (s.where[j] ? Math.log1p(Math.max(v, 0)) : v)),
  normalize: (s, h) => h.map((v, j) => (v - s.mean[j]) / Math.max(Math.sqrt(s.variance[j]), 1e-7)),
  dense: (s, h) => {
    const out = [];
    for (let k = 0; k < s.bias.length; k++) {
      let sum = s.bias[k];
      for (let j = 0; j < h.length; j++) sum += h[j] * s.kernel[j][k];
      out.push(s.relu && sum < 0 ? 0 : sum);
    }
    return out;
  },
  rescale: (s, h) => h.map((v) => v * s.scale + s.offset),
  clip: (s, h) => h.map((v) => Math.min(Math.max(v, s.low), s.high)),
};

// {feature: [raw values]} -> [predictions in target units]
export function predict(inputs) {
  const cols = metadata.features.map((name) => values(inputs, name));
  if (cols.some((c) => c.length !== cols[0].length)) throw new Error("features differ in length");
  return cols[0].map((_, i) => STEPS.reduce((h, s) => step[s.op](s, h), cols.map((c) => c[i]))[0]);
}
