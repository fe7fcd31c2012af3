#!/usr/bin/env node
// The `jbc` executable. It runs the compiled build (dist/, from `npm run build`) when that build is
// current, that is newer than every file under src/: starting from JavaScript takes a tenth of the time
// of compiling TypeScript on the fly. Otherwise, in a checkout with dev dependencies, it runs the
// TypeScript sources through tsx, so what runs is always what is in src/. JBC_FROM_SOURCE=1 forces the
// sources.
import { existsSync, readdirSync, statSync } from "node:fs";

const source = new URL("../src/cli/main.ts", import.meta.url);
const compiled = new URL("../dist/src/cli/main.js", import.meta.url);

/** True when dist/ was built after the last change to any file under src/. */
function buildIsCurrent() {
  let built;
  try {
    built = statSync(compiled).mtimeMs;
  } catch {
    return false;
  }
  const src = new URL("../src/", import.meta.url);
  for (const f of readdirSync(src, { recursive: true })) {
    if (statSync(new URL(f, src)).mtimeMs > built) return false;
  }
  return true;
}

let entry = compiled;
if (existsSync(source) && (process.env.JBC_FROM_SOURCE === "1" || !buildIsCurrent())) {
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
