import { scanJs } from "./js.ts";
import { loadNativeScan } from "./native.ts";
import { loadWasmScan } from "./wasm.ts";

/** The kernels, fastest first. */
export const KERNEL_NAMES = ["native", "wasm", "js"] as const;
export type KernelName = (typeof KERNEL_NAMES)[number];
export type KernelChoice = KernelName | "auto";

/**
 * A nonce scanner: a pure function over a nonce range of one prepared header (see prepareWork).
 * `scan` returns the offset of the first nonce in [start, start + count) whose top 32 hash bits are
 * <= work[11], or -1. Candidates still need the full-target check (see findNonce).
 */
export interface Kernel {
  readonly name: KernelName;
  /**
   * Nonces per call that take roughly 0.1-0.2 ms: long enough that call overhead is noise, short enough
   * that a job abort checked between calls is seen well within a millisecond.
   */
  readonly chunk: number;
  scan(work: Uint32Array, start: number, count: number): number;
}

const CHUNKS: Record<KernelName, number> = { native: 2048, wasm: 1024, js: 256 };

export type KernelStatus =
  | { name: KernelName; available: true }
  | { name: KernelName; available: false; reason: string };

/** Which kernels this process can run, fastest first, with the reason for each one it cannot. */
export function kernelStatus(): KernelStatus[] {
  return KERNEL_NAMES.map((name) => {
    const r = tryLoad(name);
    return r.ok ? { name, available: true } : { name, available: false, reason: r.reason };
  });
}

function tryLoad(
  name: KernelName,
):
  | { ok: true; scan: (work: Uint32Array, start: number, count: number) => number }
  | { ok: false; reason: string } {
  switch (name) {
    case "native":
      return loadNativeScan();
    case "wasm":
      return loadWasmScan();
    case "js":
      return { ok: true, scan: scanJs };
  }
}

/**
 * The requested kernel, or with "auto" the fastest that runs here: native when the addon is built and
 * the CPU has SHA-NI, else WebAssembly SIMD when built, else TypeScript. Throws when a kernel asked for
 * by name is unavailable, with the reason.
 */
export function loadKernel(choice: KernelChoice = "auto"): Kernel {
  const names: readonly KernelName[] = choice === "auto" ? KERNEL_NAMES : [choice];
  const reasons: string[] = [];
  for (const name of names) {
    const r = tryLoad(name);
    if (r.ok) return { name, chunk: CHUNKS[name], scan: r.scan };
    reasons.push(`${name}: ${r.reason}`);
  }
  throw new Error(`mining kernel unavailable: ${reasons.join("; ")}`);
}
