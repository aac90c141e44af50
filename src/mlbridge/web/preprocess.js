// preprocess.js: a brought model's text layers (Keras TextVectorization, StringLookup), done
// in the page, because the converted graph starts after them: TF.js has no StringLower nor
// StringSplitV2 (and no string kernels on wasm) and LiteRT.js has no strings at all.
// Each spec is one of metadata.json's `preprocess.steps`, written by convert/text.py from
// the layer itself; the rules are Keras's, and tests run this file against the layer:
//
//   standardize: the steps TensorFlow runs: "lower" lower-cases ASCII letters only (as
//     tf.strings.lower: "É" stays), "replace" a regex (RE2 translated to JavaScript by
//     text.py, run with the "u" flag), "strip" trims ASCII whitespace;
//   split: "whitespace" on runs of ASCII space, \t, \n, \v, \f, \r only (TF's
//     StringSplitV2; not U+00A0 nor U+3000), "character" into code points, or none;
//   ngrams: each width in order, words joined by one space;
//   lookup: a token's id is its position in `vocabulary`, an unknown token `oov_index`;
//   "int": ids cut to `sequence_length` and padded with 0 at the end (the longest row
//     when it is null); "multi_hot", "count", "tf_idf", "one_hot": a row of `depth`
//     float32, where the mask token counts for nothing.
//
//   import { preprocess } from "./preprocess.js";
//   preprocess(spec, ["A great film!"]) // { values: Int32Array [...], shape: [1, 12], dtype: "int32" }

const ASCII_WHITESPACE = /[ \t\n\v\f\r]+/;
const ASCII_UPPER = /[A-Z]+/g;
const EDGES = /^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g;

const prepared = new WeakMap();

// The spec's regexes and token index, made once per spec.
function prepare(spec) {
  let ready = prepared.get(spec);
  if (ready) return ready;
  const steps = spec.standardize.map((step) => {
    if (step.op === "replace") return { ...step, regex: new RegExp(step.pattern, step.global ? "gu" : "u") };
    if (step.op === "lower" || step.op === "strip") return step;
    throw new Error(`preprocess.js: unknown standardize step "${step.op}" (layer ${spec.layer})`);
  });
  const index = new Map();
  spec.vocabulary.forEach((token, i) => {
    if (!index.has(token)) index.set(token, i); // the first place wins, as in Keras's table
  });
  ready = { steps, index };
  prepared.set(spec, ready);
  return ready;
}

// RE2's rewrite as text.py lists it: strings, and numbers for groups (0: the match).
function rewriter(parts) {
  return (...match) => parts.map((p) => (typeof p === "number" ? match[p] ?? "" : p)).join("");
}

export function standardize(text, steps) {
  for (const step of steps) {
    if (step.op === "lower") text = text.replace(ASCII_UPPER, (s) => s.toLowerCase());
    else if (step.op === "strip") text = text.replace(EDGES, "");
    else text = text.replace(step.regex, rewriter(step.rewrite));
  }
  return text;
}

export function split(text, how) {
  if (how === "whitespace") return text.split(ASCII_WHITESPACE).filter((t) => t !== "");
  if (how === "character") return Array.from(text);
  if (how === null || how === undefined) return [text];
  throw new Error(`preprocess.js: unknown split "${how}"`);
}

export function ngrams(tokens, widths) {
  if (!widths) return tokens;
  const out = [];
  for (const n of widths) {
    for (let i = 0; i + n <= tokens.length; i++) out.push(tokens.slice(i, i + n).join(" "));
  }
  return out;
}

// Each row's tokens: a row is one string (split) or the row's strings (no split).
function tokenRows(spec, strings, rows) {
  const { steps } = prepare(spec);
  const width = strings.length / rows;
  return Array.from({ length: rows }, (_, r) => {
    const texts = strings.slice(r * width, (r + 1) * width).map((s) => standardize(String(s), steps));
    const tokens = spec.split ? texts.flatMap((t) => split(t, spec.split)) : texts;
    return ngrams(tokens, spec.ngrams);
  });
}

/**
 * One text layer on a batch of strings: `strings` is a flat array (rows of the model
 * input's shape, e.g. one string a row for [null, 1]) or a feed { values, shape }; the
 * result is the feed the graph takes for `spec.input`.
 */
export function preprocess(spec, strings) {
  const values = Array.isArray(strings) ? strings : Array.from(strings.values);
  const inner = spec.from_shape.slice(1).map((d) => d ?? 1);
  const shape = Array.isArray(strings) ? [values.length / inner.reduce((a, b) => a * b, 1), ...inner] : strings.shape;
  const rows = shape[0];
  const { index } = prepare(spec);
  const id = (token) => index.get(token) ?? spec.oov_index;
  const tokens = tokenRows(spec, values, rows);
  if (spec.output_mode === "int") {
    if (!spec.split && spec.sequence_length == null && !spec.ngrams) {
      return { values: Int32Array.from(tokens.flat(), id), shape: [...shape], dtype: "int32" };
    }
    const length = spec.sequence_length ?? tokens.reduce((most, t) => Math.max(most, t.length), 0);
    const out = new Int32Array(rows * length); // 0: the mask, Keras's padding
    tokens.forEach((row, r) => {
      for (let i = 0; i < Math.min(length, row.length); i++) out[r * length + i] = id(row[i]);
    });
    return { values: out, shape: [rows, length], dtype: "int32" };
  }
  const depth = spec.depth;
  const out = new Float32Array(rows * depth);
  tokens.forEach((row, r) => {
    for (const token of row) {
      if (spec.mask_token !== null && token === spec.mask_token) continue;
      const at = r * depth + id(token);
      out[at] = spec.output_mode === "count" || spec.output_mode === "tf_idf" ? out[at] + 1 : 1;
    }
  });
  if (spec.output_mode === "tf_idf") {
    out.forEach((count, i) => {
      out[i] = Math.fround(count * spec.idf_weights[i % depth]);
    });
  }
  return { values: out, shape: [rows, depth], dtype: "float32" };
}

/**
 * `run(feeds)`'s feeds with every text input preprocessed: a feed of strings named by a
 * spec's `from` becomes the graph's `spec.input` (ids or an encoding); a feed that is
 * already numbers passes as it is.
 */
export function preprocessFeeds(section, feeds) {
  if (!section?.steps?.length) return feeds;
  const out = { ...feeds };
  const used = new Set();
  for (const spec of section.steps) {
    const feed = feeds[spec.from];
    if (!feed || (feed.dtype && feed.dtype !== "string")) continue;
    out[spec.input] = preprocess(spec, feed);
    used.add(spec.from);
  }
  for (const name of used) {
    if (!section.steps.some((spec) => spec.input === name)) delete out[name];
  }
  return out;
}
