#!/usr/bin/env node
/**
 * Builds the SHA-NI mining addon with node-gyp, from source, against the local Node headers.
 *
 *   node native/build.mjs             build; exit non-zero on failure (npm run build:native)
 *   node native/build.mjs --optional  build; on failure print a note and exit 0 (the install script):
 *                                     without a compiler the miner falls back to WebAssembly or TypeScript.
 *
 * No network: node-gyp is the one npm bundles, and when Node's headers are installed next to the
 * node binary (as on Debian, /usr/include/node) they are passed as --nodedir so node-gyp never tries
 * to download them.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const optional = process.argv.includes("--optional");
const here = dirname(fileURLToPath(import.meta.url));

function nodeGyp() {
  // npm exports the path of its bundled node-gyp to lifecycle scripts.
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return [process.execPath, fromNpm];
  const bundled = join(
    dirname(process.execPath),
    "..",
    "lib",
    "node_modules",
    "npm",
    "node_modules",
    "node-gyp",
    "bin",
    "node-gyp.js",
  );
  if (existsSync(bundled)) return [process.execPath, bundled];
  return ["node-gyp"];
}

function nodedirArgs() {
  if (process.env.npm_config_nodedir) return [`--nodedir=${process.env.npm_config_nodedir}`];
  const prefix = join(dirname(process.execPath), "..");
  return existsSync(join(prefix, "include", "node", "node_api.h")) ? [`--nodedir=${prefix}`] : [];
}

const [cmd, ...pre] = nodeGyp();
const args = [...pre, "rebuild", ...nodedirArgs()];
const r = spawnSync(cmd, args, {
  cwd: here,
  stdio: optional ? ["ignore", "ignore", "pipe"] : "inherit",
  encoding: "utf8",
});
if (r.status === 0) {
  process.stdout.write("jbc: built the native SHA-NI mining kernel (native/build/Release/jbc_mining.node)\n");
  process.exit(0);
}
const lines = (r.stderr ?? "").trim().split("\n");
const why = r.error ? r.error.message : (lines.find((l) => /Error:|not found/.test(l)) ?? lines.at(-1) ?? "");
if (optional) {
  process.stdout.write(`jbc: note: the native mining kernel was not built (${why || `exit ${r.status}`}).\n`);
  process.stdout.write("jbc: mining will use the WebAssembly or TypeScript kernel instead.\n");
  process.exit(0);
}
process.stderr.write(`native build failed: ${why || `exit ${r.status}`}\n`);
process.exit(r.status ?? 1);
