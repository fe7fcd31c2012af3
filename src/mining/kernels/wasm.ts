import { readFileSync } from "node:fs";
import { errorMessage } from "../../util/errors.ts";
import { wasmKernelPath } from "../paths.ts";

type WasmScan = (
  s0: number,
  s1: number,
  s2: number,
  s3: number,
  s4: number,
  s5: number,
  s6: number,
  s7: number,
  w0: number,
  w1: number,
  w2: number,
  top: number,
  start: number,
  count: number,
) => number;

/** The slice of the WebAssembly JS API used here (@types/node 20 does not declare the global). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}

/**
 * Loads the WebAssembly SIMD kernel built by `npm run build:wasm`, or says why it cannot be used (not
 * built, or a runtime without SIMD). Compiled synchronously: the module is small and this runs once
 * per thread.
 */
export function loadWasmScan():
  | { ok: true; scan: (work: Uint32Array, start: number, count: number) => number }
  | { ok: false; reason: string } {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(wasmKernelPath());
  } catch {
    return { ok: false, reason: "WebAssembly kernel not built (run npm run build:wasm)" };
  }
  let fn: WasmScan;
  try {
    const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
    const instance = new wasm.Instance(new wasm.Module(bytes), {});
    fn = instance.exports["scan"] as WasmScan;
  } catch (err) {
    return { ok: false, reason: `WebAssembly SIMD unavailable (${errorMessage(err)})` };
  }
  // Parameters are i32: the high bit of each word arrives as a sign, which the kernel ignores.
  const scan = (w: Uint32Array, start: number, count: number): number =>
    fn(w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, w[8]!, w[9]!, w[10]!, w[11]!, start, count);
  return { ok: true, scan };
}
