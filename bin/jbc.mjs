#!/usr/bin/env node
// The `jbc` executable. In a checkout with dev dependencies it runs the TypeScript sources through tsx,
// so what runs is always what is in src/; without tsx (an install without dev dependencies) it runs
// the compiled dist/ from `npm run build`.
import { existsSync } from "node:fs";

const source = new URL("../src/cli/main.ts", import.meta.url);
const compiled = new URL("../dist/src/cli/main.js", import.meta.url);

let entry = compiled;
if (existsSync(source)) {
  try {
    const { register } = await import("tsx/esm/api");
    register();
    entry = source;
  } catch {
    // tsx is not installed: fall back to the build.
  }
}
if (entry === compiled && !existsSync(compiled)) {
  process.stderr.write(
    "jbc: neither tsx nor a build (dist/) is available: run npm install, or npm run build\n",
  );
  process.exit(1);
}
const { main } = await import(entry.href);
await main(process.argv);
