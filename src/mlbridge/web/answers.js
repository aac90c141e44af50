// answers.js: a row of the model's output as the answer a caller wants, the same in
// every runtime (mlbridge.js imports it; predict.mjs carries a copy). `output` is
// { task, labels }. The graph's output row is [value] or [value, lower, upper] for
// regression, one probability per label for classification.

// Regression: the value. Classification: { label, probabilities: { label: p } }.
export function answer(row, output) {
  if (output.task !== "classification") return row[0];
  let best = 0;
  for (let j = 1; j < row.length; j++) if (row[j] > row[best]) best = j;
  const probabilities = Object.fromEntries(output.labels.map((label, j) => [label, row[j]]));
  return { label: output.labels[best], probabilities };
}

// Regression with an interval: { value, lower, upper }.
export function range(row, output) {
  if (output.task === "classification" || row.length !== 3) {
    throw new Error("this model has no interval: it is a classifier, or was trained with --interval 0");
  }
  return { value: row[0], lower: row[1], upper: row[2] };
}
