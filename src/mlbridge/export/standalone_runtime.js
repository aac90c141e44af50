// The fixed code of predict.mjs, in sections; standalone.py takes only those the model
// uses: the decoder when some weights are base64, one function per step kind, then the
// interpreter. Each step reads the row (one raw value per feature) and the values so far.
// ---- f32
// Decode base64 little-endian float32 into rows (exact weights, a third the size).
function f32(text, rows, cols) {
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const flat = new Float32Array(bytes.buffer);
  if (!cols) return flat;
  return Array.from({ length: rows }, (_, i) => flat.subarray(i * cols, (i + 1) * cols));
}
// ---- number
function number(s, h, row) {
  const x = row[s.at];
  let v = Number.isNaN(x) ? s.fill : x;
  if (s.log) v = Math.log1p(Math.max(v, 0));
  h.push((v - s.mean) / s.std);
  if (s.flag) h.push(Number.isNaN(x) ? 1 : 0);
  return h;
}
// ---- category
function category(s, h, row) {
  const [slot] = slots([row[s.at]], s.vocabulary); // lookups.js: 0 other, 1 missing, 2.. known
  for (let i = 0; i < s.vocabulary.length + 2; i++) h.push(i === slot ? 1 : 0);
  return h;
}
// ---- text
function text(s, h, row) {
  for (const v of wordHot([row[s.at]], s.vocabulary)) h.push(v); // text.js: its words, 0/1
  return h;
}
// ---- dense
function dense(s, h) {
  const out = [];
  for (let k = 0; k < s.bias.length; k++) {
    let sum = s.bias[k];
    for (let j = 0; j < h.length; j++) sum += h[j] * s.kernel[j][k];
    if (s.activation === "relu") sum = Math.max(sum, 0);
    if (s.activation === "sigmoid") sum = 1 / (1 + Math.exp(-sum));
    out.push(sum);
  }
  return out;
}
// ---- rescale
const rescale = (s, h) => h.map((v) => v * s.scale + s.offset);
// ---- clip
const clip = (s, h) => h.map((v) => Math.min(Math.max(v, s.low), s.high));
// ---- interval
const interval = (s, [v]) => [v, Math.max(v - s.half, s.low), Math.min(v + s.half, s.high)];
// ---- twoclass
const twoclass = (s, [p]) => [1 - p, p];
// ---- softmax
function softmax(s, h) {
  const top = Math.max(...h);
  const e = h.map((v) => Math.exp(v - top));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}
// ---- interpreter
// {feature: raw value(s)} -> the model's output rows, as the graph gives them.
export function outputs(inputs) {
  const cols = columns(inputs, metadata.features, metadata.other);
  return cols[0].map((_, i) => {
    const row = cols.map((c) => c[i]);
    return STEPS.reduce((h, s) => step[s.op](s, h, row), []);
  });
}

// Regression: [numbers in target units]. Classification: [{ label, probabilities }].
export const predict = (inputs) => outputs(inputs).map((row) => answer(row, metadata));

// Regression with an interval: [{ value, lower, upper }].
export const predictInterval = (inputs) => outputs(inputs).map((row) => range(row, metadata));
