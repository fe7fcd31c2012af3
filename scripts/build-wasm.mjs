#!/usr/bin/env node
/**
 * Builds the WebAssembly SIMD mining kernel from source: generates its text (wasm/sha256d-simd.mjs) and
 * assembles it with wabt (an npm package: no download, no toolchain). Writes build/wasm/sha256d-simd.wasm,
 * and the text next to it for reading.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateWat } from "../wasm/sha256d-simd.mjs";

// --optional (the install script): a missing wabt (e.g. npm ci --omit=dev) is a note, not a failure.
const optional = process.argv.includes("--optional");
let initWabt;
try {
  initWabt = (await import("wabt")).default;
} catch (err) {
  if (!optional) throw err;
  console.log(`jbc: note: the WebAssembly mining kernel was not built (${err.message.split("\n")[0]})`);
  process.exit(0);
}
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outDir = join(root, "build", "wasm");
const wat = generateWat();
const wabt = await initWabt();
const mod = wabt.parseWat("sha256d-simd.wat", wat, { simd: true });
try {
  mod.resolveNames();
  mod.validate();
  const { buffer } = mod.toBinary({ log: false, write_debug_names: false });
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "sha256d-simd.wat"), wat);
  writeFileSync(join(outDir, "sha256d-simd.wasm"), buffer);
  console.log(`build-wasm: wrote build/wasm/sha256d-simd.wasm (${buffer.length} bytes)`);
} finally {
  mod.destroy();
}
