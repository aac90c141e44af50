// result.js: draw one answer on the page: a number with its likely range, or a label with
// a bar per class; then the notes saying where the model was guessing. Text only ever
// goes in with textContent, never as HTML.
import { columns } from "./inputs.js";
import { notes } from "./notes.js";

const $ = (id) => document.getElementById(id);
export const human = (name) => name.replaceAll("_", " ");
export const formatNumber = (n) =>
  n.toLocaleString("en-US", { maximumFractionDigits: 2, useGrouping: Math.abs(n) >= 10000 });
const percent = (p) => `${Math.round(p * 100)}%`;
const MOST_CLASSES = 5;

function element(tag, text, className) {
  const made = document.createElement(tag);
  if (text !== undefined) made.textContent = text;
  if (className) made.className = className;
  return made;
}

function showNumber(row, output, who) {
  const [value, lower, upper] = row;
  const rounded = Math.round(value);
  const span = output.max - output.min;
  const at = (v) => `${(Math.min(1, Math.max(0, (v - output.min) / span)) * 100).toFixed(1)}%`;
  $("prediction-value").textContent = String(rounded);
  $("prediction-label").textContent = `${human(output.name)} (out of ${formatNumber(output.max)})`;
  $("bar-fill").style.width = at(value);
  $("bar").setAttribute("aria-valuenow", String(rounded));
  const ranged = row.length === 3;
  $("bar-range").hidden = !ranged;
  $("prediction-range").hidden = !ranged;
  let sentence = `${who}, my ${human(output.name)} would be ${rounded} out of ${formatNumber(output.max)}.`;
  if (ranged) {
    $("bar-range").style.left = at(lower);
    $("bar-range").style.width = `calc(${at(upper)} - ${at(lower)})`;
    const words = `${rounded}, likely between ${Math.round(lower)} and ${Math.round(upper)}`;
    $("prediction-range").textContent =
      `${words} (${percent(output.interval)} of new cases fall in such a range).`;
    sentence = `${who}, my ${human(output.name)} would be ${words}.`;
  }
  $("share-text").textContent = sentence;
  $("class-bars").replaceChildren();
}

function showLabel(row, output, who) {
  const ranked = output.labels.map((label, j) => ({ label, p: row[j] })).sort((a, b) => b.p - a.p);
  const [best] = ranked;
  $("prediction-value").textContent = best.label;
  $("prediction-label").textContent = `${human(output.name)}, ${percent(best.p)} likely`;
  $("class-bars").replaceChildren(...ranked.slice(0, MOST_CLASSES).map(({ label, p }) => {
    const item = element("li");
    const bar = element("div", undefined, "bar");
    const fill = element("div", undefined, "bar-fill");
    fill.style.width = `${(p * 100).toFixed(1)}%`;
    bar.append(fill);
    bar.setAttribute("role", "meter");
    bar.setAttribute("aria-valuenow", String(Math.round(p * 100)));
    bar.setAttribute("aria-label", label);
    item.append(element("span", label, "class-name"), bar, element("span", percent(p), "class-p"));
    return item;
  }));
  $("share-text").textContent = `${who}, my ${human(output.name)} would most likely be ${best.label}.`;
}

// Draw `row` (the model's raw output for one input row) for the inputs `values`.
export function showAnswer(row, values, label, { metadata, keyName, answeredBy }) {
  const { output, inputs } = metadata;
  const classifier = output.task === "classification";
  const list = $("result-inputs");
  list.replaceChildren();
  if (label) list.append(element("dt", human(keyName)), element("dd", label));
  for (const input of inputs) {
    const value = values[input.name];
    const text = value === null || value === undefined || value === "" ? "(missing)"
      : typeof value === "number" ? formatNumber(value) : String(value);
    list.append(element("dt", input.name), element("dd", text)); // as the table and the notes name it
  }
  $("prediction-value").dataset.value = classifier ? row.join(",") : String(row[0]);
  for (const id of ["bar", "bar-scale"]) $(id).hidden = classifier;
  const who = label ? `As ${label}` : "If I were in this table";
  (classifier ? showLabel : showNumber)(row, output, who);
  const checked = columns(Object.fromEntries(inputs.map((i) => [i.name, [values[i.name]]])), inputs);
  const said = notes(checked.map((c) => c[0]), inputs);
  $("notes").replaceChildren(...said.map((text) => element("li", text)));
  $("notes").hidden = said.length === 0;
  $("answered-by").textContent = `Answered by ${answeredBy}.`;
}
