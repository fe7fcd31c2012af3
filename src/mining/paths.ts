import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let cached: string | undefined;

/**
 * The package's root directory (where package.json is), found by walking up from this module, so
 * build outputs resolve the same from src/ under tsx and from dist/src/ when compiled.
 */
export function packageRoot(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("package.json not found above the mining module");
    dir = up;
  }
  cached = dir;
  return dir;
}

/** Where node-gyp puts the native kernel addon. */
export function nativeAddonPath(): string {
  return join(packageRoot(), "native", "build", "Release", "jbc_mining.node");
}

/** Where `npm run build:wasm` puts the WebAssembly kernel. */
export function wasmKernelPath(): string {
  return join(packageRoot(), "build", "wasm", "sha256d-simd.wasm");
}
