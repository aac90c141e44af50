// inputs.js: check raw inputs against a model's features, by the same rule in every
// runtime (mlbridge.js imports it; predict.mjs carries a copy; Python's inputs.py is the
// same rule, and one table of cases, tests/cases/inputs.json, runs against all of them).
// A feature left out, null, undefined, NaN and "" mean missing; a name that is not a
// feature is an error naming the closest one, unless it is one of the table's `other`
// columns (the key, the target, ...), which are ignored.
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

// Levenshtein distance: insertions, deletions and substitutions, one each.
function distance(a, b) {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current.push(Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] !== b[j - 1] ? 1 : 0)));
    }
    previous = current;
  }
  return previous[b.length];
}

// The feature nearest a typo: at most 2 edits or a quarter of its length; first on a tie.
function closest(name, names) {
  let best = Infinity;
  let found = null;
  for (const candidate of names) {
    const d = distance(name, candidate);
    if (d < best) [best, found] = [d, candidate];
  }
  return best <= Math.max(2, Math.floor(name.length / 4)) ? found : null;
}

// {name: value or values} -> one array per feature, in `features` order ({name, kind}).
export function columns(inputs, features, other = []) {
  if (inputs === null || typeof inputs !== "object" || Array.isArray(inputs)) {
    throw new Error("inputs must be an object mapping each feature name to its values");
  }
  const names = features.map((f) => f.name);
  for (const name of Object.keys(inputs)) {
    if (!names.includes(name) && !other.includes(name)) {
      const near = closest(name, names);
      throw new Error(`unknown feature "${name}"${near ? ` (did you mean "${near}"?)` : ""}`);
    }
  }
  const given = features.filter(({ name }) => Object.hasOwn(inputs, name));
  if (!given.length) throw new Error("none of the model's features is given");
  const checked = new Map(given.map(({ name, kind }) => {
    const raw = inputs[name];
    const values = Array.isArray(raw) || ArrayBuffer.isView(raw) ? Array.from(raw) : [raw];
    return [name, values.map((v) => (kind === "numeric" ? asNumber : asCategory)(name, v))];
  }));
  const rows = [...checked.values()].map((c) => c.length);
  if (rows.some((n) => n !== rows[0])) throw new Error("every feature needs the same number of values");
  // A feature left out is missing in every row: the model imputes it.
  return features.map(({ name, kind }) => checked.get(name) ?? Array(rows[0]).fill(kind === "numeric" ? NaN : ""));
}
