/**
 * The `/api/health` prober of bench:dos-api, in a process of its own so that its timing does not share the
 * load generator's event loop. Open loop: one GET every `intervalMs` whether or not the earlier ones have
 * answered, so a stall of the server shows as many slow samples, not as one (a closed loop would wait out
 * the stall and take a single sample of it).
 *
 *   node --import tsx bench/health-probe.ts URL INTERVAL_MS
 *
 * Prints `ready` once the first probe answered, probes until its stdin says `stop` (or closes), waits up to
 * 60 s for the probes in flight (one that never answers counts with its time so far) and prints
 * { latencies, errors } as its last line.
 */
import { createInterface } from "node:readline";

const url = process.argv[2]!;
const intervalMs = Number(process.argv[3] ?? 20);
const latencies: number[] = [];
let errors = 0;
const inFlight = new Map<Promise<void>, number>();

async function probe(): Promise<void> {
  const t0 = performance.now();
  try {
    const res = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(60_000) });
    await res.arrayBuffer();
    if (!res.ok) errors++;
  } catch {
    errors++;
  }
  latencies.push(performance.now() - t0);
}

function fire(): void {
  const p = probe();
  inFlight.set(p, performance.now());
  void p.finally(() => inFlight.delete(p));
}

await probe(); // the connection pool warmed up, the server known to answer
latencies.length = 0;
errors = 0;
console.log("ready");
const timer = setInterval(fire, intervalMs);
await new Promise<void>((resolve) => {
  const rl = createInterface({ input: process.stdin });
  rl.on("line", (line) => line.trim() === "stop" && resolve());
  rl.on("close", resolve);
});
clearInterval(timer);
await Promise.race([Promise.all(inFlight.keys()), new Promise<void>((r) => setTimeout(r, 60_000).unref())]);
// Probes that never answered count with the time they waited.
for (const started of inFlight.values()) latencies.push(performance.now() - started);
console.log(JSON.stringify({ latencies, errors }));
process.exit(0);
