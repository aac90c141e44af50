// app.js: the prediction page. Labels come from the bundle's metadata, so a bundle
// trained on other columns gets a working page too. User text is only ever set with
// textContent, never as HTML.
import { createLookup } from "./lookup.js";
import { loadModel, loadTf } from "./mlbridge.js";
import { formatNumber, human, showAnswer } from "./result.js";

const $ = (id) => document.getElementById(id);

let model = null;
let config = null;
let lookup = null; // the key lookup the config names: the server's API or static files
let lastQuery = null;
const models = {}; // runtime name -> Promise of a loaded model, each loaded at most once
// The runtime, from the URL so a choice can be shared: ?runtime=tfjs-wasm (or litert-wasm,
// standalone, ...), and ?backend=webgl as older links said it; else "auto".
const query = new URLSearchParams(location.search);
const asked = query.get("runtime") ?? (query.get("backend") ? `tfjs-${query.get("backend")}` : "auto");
const LABELS = {
  auto: "auto", standalone: "predict.mjs (no runtime)", "tfjs-cpu": "TF.js cpu",
  "tfjs-wasm": "TF.js wasm", "tfjs-webgl": "TF.js webgl", "tfjs-webgpu": "TF.js webgpu",
  "litert-wasm": "LiteRT.js wasm", "litert-webgpu": "LiteRT.js webgpu",
};

function show(element, visible) {
  element.hidden = !visible;
}

function setStatus(text, kind) {
  $("status").textContent = text;
  $("status").className = `status ${kind}`;
}

function setMessage(text) {
  $("message").textContent = text;
  show($("message"), Boolean(text));
  if (text) show($("result"), false);
}

// The value a feature's field holds, as the model's raw value: blank is missing (null),
// which the model imputes; a number may be typed with thousands separators; a category is
// one of the model's values, or another typed in ("other" to the model).
function fieldValue(input) {
  const field = $(`feature-${input.input}`);
  const text = (input.kind === "categorical" && field.value === OTHER
    ? $(`feature-${input.input}-other`).value : field.value).trim();
  if (text === "") return null;
  if (input.kind !== "numeric") return text;
  const value = Number(text.replace(/[,_\s]/g, ""));
  if (!Number.isFinite(value)) {
    throw new Error(`Enter a number for ${input.name}, for example ${formatNumber(input.fill)}, or leave it blank.`);
  }
  if (input.transform === "log" && value < 0) {
    throw new Error(`Enter a number of ${input.name} that is 0 or more.`);
  }
  return value;
}

// Put a raw value (from a looked-up record) into a feature's field.
function setField(input, value) {
  const text = value === null || value === undefined ? "" : String(value);
  const field = $(`feature-${input.input}`);
  if (input.kind !== "categorical") {
    field.value = text;
    return;
  }
  const known = text === "" || input.vocabulary.includes(text);
  field.value = known ? text : OTHER;
  $(`feature-${input.input}-other`).value = known ? "" : text;
  $(`feature-${input.input}-other`).hidden = known;
}

function describe(m) {
  return { tfjs: `TF.js (${m.backend} backend)`, litert: `LiteRT.js (${m.backend})` }[m.runtime]
    ?? "predict.mjs (standalone, no runtime)";
}

async function predictAndShow(values, label) {
  lastQuery = { values, label };
  const [row] = await model.outputs(Object.fromEntries(Object.entries(values).map(([name, v]) => [name, [v]])));
  showAnswer(row, values, label, { metadata: model.metadata, keyName: config.key, answeredBy: describe(model) });
  setMessage("");
  show($("result"), true);
}

async function onLookup(event) {
  event.preventDefault();
  const key = $("key-input").value.trim();
  if (!key) return setMessage(`Type a ${human(config.key)} first.`);
  try {
    const record = await lookup.get(key);
    if (record === null) return setMessage(`No ${human(config.key)} “${key}” in the data.`);
    for (const input of model.metadata.inputs) setField(input, record.features[input.name]);
    await predictAndShow(record.features, record.key);
  } catch (error) {
    setMessage(`Could not predict: ${error.message}`);
  }
}

async function onValues(event) {
  event.preventDefault();
  try {
    const values = {};
    for (const input of model.metadata.inputs) values[input.name] = fieldValue(input);
    await predictAndShow(values, null);
  } catch (error) {
    setMessage(error.message);
  }
}

let suggestTimer = 0;
function onType() {
  clearTimeout(suggestTimer);
  const prefix = $("key-input").value.trim();
  if (!lookup || prefix.length < 1) return;
  suggestTimer = setTimeout(async () => {
    const keys = await lookup.keys(prefix, 10).catch(() => []);
    $("key-options").replaceChildren(...keys.map((key) => Object.assign(document.createElement("option"), { value: key })));
  }, 150);
}

const OTHER = "\u0000other"; // the select's "another value" choice: a text box appears

// A labelled field per feature, named as the table names it (the notes do too): a number
// box, a text box for text, or for a category a choice of the model's values, "not
// known", or another value.
function field(input) {
  const id = `feature-${input.input}`;
  const label = Object.assign(document.createElement("label"), { htmlFor: id, textContent: input.name });
  if (input.kind === "text") { // free text: a line, or an area for long texts
    const box = Object.assign(document.createElement(input.long ? "textarea" : "input"), { id, name: input.name });
    box.placeholder = `words such as ${input.vocabulary.slice(0, 4).join(", ")}`;
    return [label, box];
  }
  if (input.kind === "numeric") {
    const box = Object.assign(document.createElement("input"), { id, name: input.name, autocomplete: "off" });
    box.inputMode = "decimal";
    box.placeholder = `${formatNumber(input.min)} to ${formatNumber(input.max)} in the training data`;
    return [label, box];
  }
  const option = (value, text) => Object.assign(document.createElement("option"), { value, textContent: text });
  const select = Object.assign(document.createElement("select"), { id, name: input.name });
  select.append(option("", "(not known)"), ...input.vocabulary.map((v) => option(v, v)), option(OTHER, "another value…"));
  const other = Object.assign(document.createElement("input"), {
    id: `${id}-other`, autocomplete: "off", hidden: true, placeholder: `another ${input.name}: the model counts it as other`,
  });
  other.setAttribute("aria-label", `another ${input.name}`);
  select.addEventListener("change", () => {
    other.hidden = select.value !== OTHER;
    if (!other.hidden) other.focus();
  });
  return [label, select, other];
}

function buildForms() {
  const { inputs, output } = model.metadata;
  $("title").textContent = `Predict ${human(output.name)}`;
  document.title = `mlbridge: predict ${human(output.name)}`;
  if (output.task !== "classification") {
    $("bar-min").textContent = formatNumber(output.min);
    $("bar-max").textContent = formatNumber(output.max);
    $("bar").setAttribute("aria-valuemin", String(output.min));
    $("bar").setAttribute("aria-valuemax", String(output.max));
  }
  $("feature-fields").replaceChildren(...inputs.flatMap(field));
  if (lookup) {
    $("key-label").textContent = `${human(config.key)[0].toUpperCase()}${human(config.key).slice(1)}`;
    show($("lookup-form"), true);
  } else {
    $("value-hint").textContent = "Enter the values; leave a field blank if it is not known.";
  }
  for (const button of document.querySelectorAll("button")) button.disabled = false;
}

// The switch offers "auto" and each runtime this site or server carries (config.json).
function buildSwitch() {
  const choices = ["auto", ...(config.runtimes ?? ["tfjs-cpu", "standalone"])];
  $("runtime-options").replaceChildren(...choices.map((name) => {
    const label = document.createElement("label");
    const radio = Object.assign(document.createElement("input"), { type: "radio", name: "runtime", value: name });
    radio.addEventListener("change", onRuntimeChange);
    label.append(radio, ` ${LABELS[name] ?? name}`);
    return label;
  }));
}

async function useRuntime(runtime) {
  setStatus("Loading the model…", "loading");
  // auto: the best of verify's ranking (or the safe order) among the runtimes carried here.
  const load = () => loadModel(config.model_url, { runtime, among: config.runtimes });
  models[runtime] ??= load();
  try {
    model = await models[runtime];
  } catch (error) {
    delete models[runtime];
    throw error;
  }
  for (const radio of document.querySelectorAll("input[name=runtime]")) radio.checked = radio.value === runtime;
  const chosen = runtime === "auto" ? ` (auto chose ${LABELS[model.name] ?? model.name})` : "";
  $("runtime-info").textContent = `Runtime: ${describe(model)}${chosen}`;
  $("runtime-info").dataset.runtime = model.name;
  setStatus("Model ready.", "ready");
}

async function onRuntimeChange(event) {
  const runtime = event.target.value;
  const url = new URL(location.href);
  url.searchParams.delete("backend");
  if (runtime === "auto") url.searchParams.delete("runtime");
  else url.searchParams.set("runtime", runtime);
  history.replaceState(null, "", url); // the choice is in the URL, to share
  try {
    await useRuntime(runtime);
    if (lastQuery) await predictAndShow(lastQuery.values, lastQuery.label);
  } catch (error) {
    setStatus(`That runtime could not be loaded: ${error.message}`, "error");
  }
}

async function main() {
  $("lookup-form").addEventListener("submit", onLookup);
  $("value-form").addEventListener("submit", onValues);
  $("key-input").addEventListener("input", onType);
  if (asked.startsWith("tfjs")) loadTf().catch(() => {}); // start TF.js while config loads
  try {
    const response = await fetch("config.json"); // relative: the page may live under a sub-path
    if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
    config = await response.json();
    if (config.lookup) lookup = createLookup(config.lookup);
    buildSwitch();
    await useRuntime(asked);
  } catch (error) {
    setStatus(`The model could not be loaded: ${error.message}.`, "error");
    return;
  }
  buildForms();
  if (config.report_url) {
    $("report-link").href = config.report_url;
    show($("report-link"), true);
  }
  document.body.dataset.ready = "true";
}

main();
