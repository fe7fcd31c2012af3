import { join } from "node:path";
import { packageRoot } from "../util/paths.ts";

/** Where node-gyp puts the native kernel addon. */
export function nativeAddonPath(): string {
  return join(packageRoot(), "native", "build", "Release", "jbc_mining.node");
}

/** Where `npm run build:wasm` puts the WebAssembly kernel. */
export function wasmKernelPath(): string {
  return join(packageRoot(), "build", "wasm", "sha256d-simd.wasm");
}
