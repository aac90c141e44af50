// Runs a converted TF.js graph model on given inputs, on one backend, in this page.
// Loaded by mlbridge.convert.parity through Playwright. Inputs and outputs travel as
// flat arrays of numbers (or strings) with their shapes, so no precision is lost.
// A model that fails to load or run is a result ({ error }), not an exception: the
// caller records it as that backend's parity failure.

let tfModule = null;

export async function run({ tfjsUrl, modelUrl, backend, inputs, outputs }) {
  if (!tfModule) tfModule = await import(tfjsUrl);
  const tf = tfModule;
  const switched = await tf.setBackend(backend);
  await tf.ready();
  const active = tf.getBackend();
  if (!switched || active !== backend) {
    return { backend: active, error: `backend ${backend} is not available (got ${active})` };
  }
  const named = {};
  for (const spec of inputs) {
    named[spec.name] = tf.tensor(spec.values, spec.shape, spec.dtype);
  }
  let model = null;
  try {
    model = await tf.loadGraphModel(modelUrl);
    // executeAsync, not execute: it runs control flow (loops) and hash tables too.
    let result = await model.executeAsync(named, outputs);
    if (!Array.isArray(result)) result = [result];
    const values = [];
    const text = new TextDecoder();
    for (const tensor of result) {
      const data = Array.from(await tensor.data());
      values.push({ shape: tensor.shape, dtype: tensor.dtype,
                    values: tensor.dtype === "string" ? data.map((b) => text.decode(b)) : data });
    }
    tf.dispose(result);
    return { backend: tf.getBackend(), outputs: values };
  } catch (error) {
    return { backend: active, error: String((error && error.message) || error) };
  } finally {
    tf.dispose(Object.values(named));
    if (model) model.dispose();
  }
}
