// lookups.js: a category's slot, as the graph's StringLookup numbers it: 0 for a value the
// model does not know ("other"), 1 for missing (""), then 2, 3, ... for the vocabulary in
// order. predict.mjs carries a copy (its one-hot step), and the LiteRT.js runtime feeds
// these slots to a model that starts after the lookup, since LiteRT.js has no strings.

const slotMaps = new WeakMap();

// The slot of each value of one column, for a vocabulary (an array of strings).
export function slots(values, vocabulary) {
  let index = slotMaps.get(vocabulary);
  if (!index) slotMaps.set(vocabulary, (index = new Map(vocabulary.map((v, i) => [v, i + 2]))));
  return values.map((v) => (v === "" ? 1 : index.get(v) ?? 0));
}
