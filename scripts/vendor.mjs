// Vendor the browser runtimes from the pinned npm packages into the Python package
// (src/mlbridge/vendor/), so the page, `mlbridge site` and a wheel carry them with no
// CDN and no Node.js at run time. Run by `make setup`; writes a file only when it changed.
//
// Two of the packages cannot be loaded by a browser as published, so esbuild rewrites
// their imports (and nothing else):
// - @tensorflow/tfjs-backend-wasm's (and -webgpu's) ES module imports "@tensorflow/tfjs-core" by bare
//   name, which becomes "./tf.fesm.min.js" (the TF.js build beside it, so the backend
//   registers with the same engine), and Node built-ins (fs, path, os, perf_hooks) that
//   only the wasm backend's Node.js branch uses, which become empty modules;
// - @litertjs/core imports "@litertjs/wasm-utils" (1.5 KB) by bare name: bundled in.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { build } from "esbuild";

const out = "src/mlbridge/vendor";
const modules = "node_modules";
const NODE_BUILTINS = /^(fs|path|os|perf_hooks|worker_threads|crypto)$/;

// Write `source` (a path or bytes) to `target` unless it already holds the same bytes.
function copyIfChanged(source, target) {
  const bytes = typeof source === "string" ? readFileSync(source) : source;
  let current = null;
  try { current = readFileSync(target); } catch { /* not there yet */ }
  if (current && current.equals(bytes)) return;
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, bytes);
}

const rewriteImports = {
  name: "mlbridge-vendor",
  setup(b) {
    b.onResolve({ filter: /^@tensorflow\/tfjs-core$/ }, () => ({ path: "./tf.fesm.min.js", external: true }));
    b.onResolve({ filter: NODE_BUILTINS }, (args) => ({ path: args.path, namespace: "empty" }));
    b.onLoad({ filter: /.*/, namespace: "empty" }, () => ({ contents: "export default {};", loader: "js" }));
  },
};

async function bundle(entry, outfile) {
  const result = await build({
    entryPoints: [entry], bundle: true, format: "esm", minify: true, write: false,
    platform: "browser", target: "es2020", plugins: [rewriteImports], logLevel: "error",
    legalComments: "inline",
  });
  copyIfChanged(Buffer.from(result.outputFiles[0].contents), outfile);
}

// TF.js: the runtime as published, and its wasm backend (two of its three binaries: the
// threaded one needs a cross-origin-isolated page, which mlbridge.js turns off).
copyIfChanged(`${modules}/@tensorflow/tfjs/dist/tf.fesm.min.js`, `${out}/tfjs/tf.fesm.min.js`);
await bundle(`${modules}/@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.fesm.js`,
  `${out}/tfjs/tf-backend-wasm.min.js`);
for (const name of ["tfjs-backend-wasm.wasm", "tfjs-backend-wasm-simd.wasm"]) {
  copyIfChanged(`${modules}/@tensorflow/tfjs-backend-wasm/dist/${name}`, `${out}/tfjs/${name}`);
}
await bundle(`${modules}/@tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.fesm.js`,
  `${out}/tfjs/tf-backend-webgpu.min.js`);

// LiteRT.js: its ES module, and the two runtimes loadLiteRt() picks between without
// options (relaxed SIMD, or compat); the JSPI and threaded ones are only loaded when asked.
await bundle(`${modules}/@litertjs/core/dist/index.js`, `${out}/litertjs/litert.min.js`);
for (const stem of ["litert_wasm_internal", "litert_wasm_compat_internal"]) {
  for (const ext of ["js", "wasm"]) {
    copyIfChanged(`${modules}/@litertjs/core/wasm/${stem}.${ext}`, `${out}/litertjs/wasm/${stem}.${ext}`);
  }
}
