// Builds the reference dApp into .build/dapp: src/main.ts bundled with esbuild (viem and the ABIs of
// interfaces/ts included), plus index.html and style.css. The deployment manifest is not part of the build:
// `make dapp` copies one beside it as manifest.json, or the page is given ?manifest=URL.
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(here, "..", ".build", "dapp");
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(here, "src", "main.ts")],
  outfile: join(out, "app.js"),
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  sourcemap: true,
  logLevel: "warning",
});
for (const file of ["index.html", "style.css"]) copyFileSync(join(here, file), join(out, file));
console.log(`built ${out}`);
