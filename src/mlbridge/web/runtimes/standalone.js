// runtimes/standalone.js: the bundle's predict.mjs, plain arithmetic with no runtime to
// download. It checks raw inputs itself, so it answers `outputs(inputs)`, not `run(feeds)`.
import { unavailable } from "./common.js";

export async function open(base, metadata) {
  if (!metadata.standalone?.file) {
    throw unavailable(`this bundle has no predict.mjs: ${metadata.standalone?.skipped ?? "not generated"}`);
  }
  const module = await import(`${base}predict.mjs`);
  return { backend: "none", outputs: async (inputs) => module.outputs(inputs), dispose() {} };
}
