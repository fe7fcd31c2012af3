/**
 * What the adversarial tests and bench/dos-chain.ts measure on a victim in this process: its heap after a
 * full garbage collection, its data directory's bytes, and the event loop's delay.
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** Bytes of live heap after a full collection (run twice: the first frees what finalizers release). */
export function liveHeap(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Apparent size of every file under `dir`, in bytes (what the node wrote, LevelDB's log included). */
export function dirBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    total += st.isDirectory() ? dirBytes(p) : st.size;
  }
  return total;
}

/** Starts recording the event loop's delay (10 ms resolution); `stop` returns the max and p99 in ms. */
export function loopDelay(): { stop(): { maxMs: number; p99Ms: number } } {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  return {
    stop() {
      h.disable();
      return { maxMs: h.max / 1e6, p99Ms: h.percentile(99) / 1e6 };
    },
  };
}

export const MB = 1_000_000;
