// Decode base64 little-endian float32 into rows (exact weights, a third the size).
function f32(text, rows, cols) {
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const flat = new Float32Array(bytes.buffer);
  if (!cols) return flat;
  return Array.from({ length: rows }, (_, i) => flat.subarray(i * cols, (i + 1) * cols));
}
// ---- the interpreter: everything above this line is included only when used ----
// Each step reads the row (one raw value per feature) and the values so far, h.
const step = {
  number: (s, h, row) => {
    const x = row[s.at];
    let v = Number.isNaN(x) ? s.fill : x;
    if (s.log) v = Math.log1p(Math.max(v, 0));
    h.push((v - s.mean) / s.std);
    if (s.flag) h.push(Number.isNaN(x) ? 1 : 0);
    return h;
  },
  category: (s, h, row) => {
    s.slots ??= new Map(s.vocabulary.map((v, i) => [v, i + 2]));
    const slot = row[s.at] === "" ? 1 : s.slots.get(row[s.at]) ?? 0; // 0: other, 1: missing
    for (let i = 0; i < s.vocabulary.length + 2; i++) h.push(i === slot ? 1 : 0);
    return h;
  },
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

// {feature: raw value(s)} -> [predictions in target units]
export function predict(inputs) {
  const cols = columns(inputs, metadata.features);
  return cols[0].map((_, i) => {
    const row = cols.map((c) => c[i]);
    return STEPS.reduce((h, s) => step[s.op](s, h, row), [])[0];
  });
}
