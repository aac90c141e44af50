// notes.js: say when the model is guessing, from metadata.json alone, by the same rules
// as Python (features.py, `note`): a number outside the training range, a category the
// model does not know, a missing value it filled in. One table of cases tests both.
import { words } from "./text.js";

// Thousands separators from 10,000 on, so years read as years (2008, not 2,008).
const format = (x) => x.toLocaleString("en-US", { maximumFractionDigits: 2, useGrouping: Math.abs(x) >= 10000 });

function note(input, value) {
  const name = input.name;
  if (input.kind === "text") {
    if (value === "") return `${name} is missing`;
    const found = words(value);
    input.known ??= new Set(input.vocabulary);
    const unknown = found.filter((w) => !input.known.has(w)).length;
    if (!found.length) return `${name} has no words the model can read`;
    if (unknown / found.length > 0.5) return `${name}: ${unknown} of ${found.length} words are unknown to the model`;
    return null;
  }
  if (input.kind === "categorical") {
    if (value === "") return `${name} is missing`;
    if (!input.vocabulary.includes(value)) {
      return `${name} "${value}" is a value the model does not know: counted as other`;
    }
    return null;
  }
  if (Number.isNaN(value)) return `${name} is missing: the model used ${format(input.fill)}, the training median`;
  if (value > input.max) {
    const times = input.max > 0 ? Math.floor(value / input.max) : 0;
    return times >= 2
      ? `${name} is ${times}× the largest seen in training (${format(input.max)})`
      : `${name} is above the largest seen in training (${format(input.max)})`;
  }
  if (value < input.min) return `${name} is below the smallest seen in training (${format(input.min)})`;
  return null;
}

// One row of checked values (see inputs.js), in metadata.inputs order -> [notes].
export function notes(row, inputs) {
  return inputs.map((input, j) => note(input, row[j])).filter((text) => text !== null);
}
