// inputs.js: check raw inputs against a model's features, by the same rules in every
// runtime (mlbridge.js imports it; predict.mjs carries a copy; bundle.py follows the same
// table of cases in the tests). null, undefined, NaN and "" mean missing.
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const show = (v) => (typeof v === "number" ? String(v) : JSON.stringify(v));
const isMissing = (v) => v == null || Number.isNaN(v) || (typeof v === "string" && !v.trim());

function asNumber(name, v) {
  if (isMissing(v)) return NaN;
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && NUMBER.test(v.trim())) return Number(v.trim());
  throw new Error(`feature "${name}" has a value that is not a number: ${show(v)}`);
}

function asCategory(name, v) {
  if (isMissing(v)) return "";
  if (typeof v === "string") return v.trim();
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  throw new Error(`feature "${name}" has a value that is not text or a number: ${show(v)}`);
}

// {name: value or values} -> one array per feature, in `features` order ({name, kind}).
export function columns(inputs, features) {
  if (inputs === null || typeof inputs !== "object" || Array.isArray(inputs)) {
    throw new Error("inputs must be an object mapping each feature name to its values");
  }
  const cols = features.map(({ name, kind }) => {
    if (!(name in inputs)) throw new Error(`missing feature "${name}"`);
    const raw = inputs[name];
    const values = Array.isArray(raw) || ArrayBuffer.isView(raw) ? Array.from(raw) : [raw];
    return values.map((v) => (kind === "categorical" ? asCategory : asNumber)(name, v));
  });
  if (cols.some((c) => c.length !== cols[0].length)) {
    throw new Error("every feature needs the same number of values");
  }
  return cols;
}
