/**
 * Mining benchmark (`npm run bench:mine`). Measures, in one run:
 *   - each kernel's hash rate on one thread (native SHA-NI, WebAssembly SIMD, TypeScript) and the
 *     node:crypto reference (one sha256d call per nonce), as the median of several timed windows;
 *   - the pool on 1 and 2 worker threads (alternating windows), and the scaling ratio between them;
 *   - abort latency: from the main thread bumping the generation counter to each worker's
 *     acknowledgement (timestamps from process.hrtime, one clock for all threads), over >= 200 aborts;
 *   - the main thread's event-loop delay p99 (perf_hooks.monitorEventLoopDelay) while every core mines,
 *     net of the histogram's sampling interval, and the raw histogram figure.
 * The machine is shared, so the figures are noisy: run it a few times. The last line of output is one
 * JSON object with every figure.
 */
import { availableParallelism, cpus } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { sha256d } from "../src/consensus/hash.ts";
import { type KernelName, kernelStatus, loadKernel } from "../src/mining/kernels/index.ts";
import { MiningPool, type PoolJob } from "../src/mining/pool.ts";
import { prepareWork } from "../src/mining/sha256.ts";
import { median, percentile } from "./stats.ts";

const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 600);
const WINDOWS = Number(process.env.BENCH_WINDOWS ?? 5);
const ABORTS = Number(process.env.BENCH_ABORTS ?? 300);

const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

/** Hashes per second of `step` (which returns how many hashes it did), median of WINDOWS windows. */
function rateOf(step: () => number): number {
  const warmEnd = performance.now() + 200; // let V8 tier the code up before timing
  while (performance.now() < warmEnd) step();
  const rates: number[] = [];
  for (let w = 0; w < WINDOWS; w++) {
    let hashes = 0;
    const start = performance.now();
    const end = start + WINDOW_MS;
    let now = start;
    while (now < end) {
      hashes += step();
      now = performance.now();
    }
    rates.push(hashes / ((now - start) / 1000));
  }
  return median(rates);
}

// A header whose nonces essentially never meet the target: every kernel does full work per nonce.
const HEADER = new Uint8Array(80).map((_, i) => (i * 37 + 11) & 0xff);
const WORK = prepareWork(HEADER, 1n);

function kernelRate(name: KernelName): number | null {
  const status = kernelStatus().find((k) => k.name === name)!;
  if (!status.available) {
    console.log(`${name.padEnd(8)} unavailable: ${status.reason}`);
    return null;
  }
  const k = loadKernel(name);
  let nonce = 0;
  const rate = rateOf(() => {
    k.scan(WORK, nonce, k.chunk);
    nonce = (nonce + k.chunk) % 2 ** 31;
    return k.chunk;
  });
  console.log(`${name.padEnd(8)} ${(rate / 1e6).toFixed(2)} MH/s on one thread (chunk ${k.chunk})`);
  return rate;
}

function cryptoRate(): number {
  const h = Uint8Array.from(HEADER);
  const view = new DataView(h.buffer);
  let nonce = 0;
  let sink = 0;
  const rate = rateOf(() => {
    for (let i = 0; i < 256; i++) {
      view.setUint32(76, nonce++, true);
      sink ^= sha256d(h)[31]!;
    }
    return 256;
  });
  if (sink === -1) console.log(sink); // keeps the hashing observable
  console.log(
    `${"crypto".padEnd(8)} ${(rate / 1e6).toFixed(2)} MH/s on one thread (node:crypto sha256d per nonce)`,
  );
  return rate;
}

const JOB: PoolJob = {
  prevHash: new Uint8Array(32).fill(0x5a),
  height: 1,
  bits: 0x1d00ffff,
  time: 1795478400,
  miner: "bench",
  target: 1n,
};

interface PoolRate {
  total: number;
  perThread: number[];
  kernel: string;
}

/**
 * Pool hash rates on 1 and on 2 threads. Both pools stay up and take turns, one window each, so a burst
 * of load from elsewhere on the machine lands on both sides of the ratio rather than on one; each figure
 * is the median over its windows of the summed per-worker counters.
 */
async function poolRates(): Promise<[PoolRate, PoolRate]> {
  const pools = [await MiningPool.start({ threads: 1 }), await MiningPool.start({ threads: 2 })];
  try {
    const totals: number[][] = [[], []];
    const per: number[][][] = [[], []];
    for (let w = 0; w < WINDOWS; w++) {
      for (const [k, pool] of pools.entries()) {
        pool.mine(JOB);
        await sleep(100);
        const c0 = pool.hashCounts();
        const t0 = performance.now();
        await sleep(WINDOW_MS);
        const c1 = pool.hashCounts();
        const seconds = (performance.now() - t0) / 1000;
        pool.abort();
        await pool.idle();
        const rates = c1.map((c, i) => (c - c0[i]!) / seconds);
        per[k]!.push(rates);
        totals[k]!.push(rates.reduce((a, b) => a + b, 0));
      }
    }
    return pools.map((pool, k) => ({
      total: median(totals[k]!),
      perThread: Array.from({ length: pool.threads }, (_, i) => median(per[k]!.map((r) => r[i]!))),
      kernel: pool.kernel,
    })) as [PoolRate, PoolRate];
  } finally {
    await Promise.all(pools.map((p) => p.close()));
  }
}

/** Abort latency in ms for every worker over `aborts` job aborts, all cores mining. */
async function abortLatencies(threads: number, aborts: number): Promise<number[]> {
  const pool = await MiningPool.start({ threads });
  const out: number[] = [];
  try {
    for (let i = 0; i < aborts; i++) {
      pool.mine(JOB);
      // Let workers get into the hot loop at a random point of a chunk.
      await sleep(2 + (i % 4));
      const generation = pool.generation;
      const t0 = process.hrtime.bigint();
      pool.abort();
      await pool.idle();
      for (const t of pool.ackTimes(generation)) {
        if (t === undefined) throw new Error("worker did not acknowledge");
        out.push(Number(t - t0) / 1e6);
      }
    }
  } finally {
    await pool.close();
  }
  return out;
}

const LOOP_RESOLUTION_MS = 10;

/**
 * Event-loop delay of this thread while `threads` workers mine for `ms`. Node's histogram records the
 * interval between its timer's ticks, so every sample includes the `resolution` itself (an idle loop
 * reads ~10.1 ms at resolution 10; nodejs/node#62935): `p99` is the delay beyond that interval, `rawP99`
 * the histogram's own figure.
 */
async function eventLoopDelay(
  threads: number,
  ms: number,
): Promise<{ p99: number; rawP99: number; max: number }> {
  const pool = await MiningPool.start({ threads });
  try {
    pool.mine(JOB);
    await sleep(200);
    const h = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    h.enable();
    // The main thread keeps doing what a node does while mining: timers, reading the stats.
    const timer = setInterval(() => pool.hashCounts(), 50);
    await sleep(ms);
    clearInterval(timer);
    h.disable();
    pool.abort();
    await pool.idle();
    const rawP99 = h.percentile(99) / 1e6;
    return { p99: Math.max(0, rawP99 - LOOP_RESOLUTION_MS), rawP99, max: h.max / 1e6 - LOOP_RESOLUTION_MS };
  } finally {
    await pool.close();
  }
}

async function run(): Promise<void> {
  const cores = availableParallelism();
  console.log(
    `mining benchmark: ${cpus()[0]?.model ?? "unknown CPU"}, ${cores} cores, node ${process.version}`,
  );
  console.log(`windows: ${WINDOWS} x ${WINDOW_MS} ms (median), aborts: ${ABORTS}`);

  const native = kernelRate("native");
  const wasm = kernelRate("wasm");
  const js = kernelRate("js");
  const crypto = cryptoRate();

  const [pool1, pool2] = await poolRates();
  console.log(`pool 1 thread   ${(pool1.total / 1e6).toFixed(2)} MH/s (${pool1.kernel})`);
  const perThread = pool2.perThread.map((r) => (r / 1e6).toFixed(2)).join(", ");
  console.log(
    `pool 2 threads  ${(pool2.total / 1e6).toFixed(2)} MH/s (${pool2.kernel}; per thread ${perThread})`,
  );
  const scaling = pool2.total / pool1.total;
  console.log(`pool scaling    ${scaling.toFixed(2)}x from 1 to 2 threads`);

  const lat = await abortLatencies(cores, ABORTS);
  const p50 = percentile(lat, 50);
  const p99 = percentile(lat, 99);
  console.log(
    `abort latency   p50 ${p50.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms, max ${Math.max(...lat).toFixed(3)} ms ` +
      `(${lat.length} acknowledgements, ${ABORTS} aborts x ${cores} workers)`,
  );

  const loop = await eventLoopDelay(cores, 3000);
  console.log(
    `event loop      delay p99 ${loop.p99.toFixed(2)} ms, max ${loop.max.toFixed(2)} ms while ${cores} workers mine ` +
      `(histogram p99 ${loop.rawP99.toFixed(2)} ms includes the ${LOOP_RESOLUTION_MS} ms sampling interval)`,
  );

  const mhs = (x: number | null): number | null => (x === null ? null : round(x / 1e6));
  console.log(
    JSON.stringify({
      native_mhs: mhs(native),
      wasm_mhs: mhs(wasm),
      js_mhs: mhs(js),
      crypto_mhs: mhs(crypto),
      pool_kernel: pool1.kernel,
      pool1_mhs: mhs(pool1.total),
      pool2_mhs: mhs(pool2.total),
      pool_scaling: round(scaling),
      abort_p50_ms: round(p50, 3),
      abort_p99_ms: round(p99, 3),
      eventloop_p99_ms: round(loop.p99),
      eventloop_raw_p99_ms: round(loop.rawP99),
      cores,
    }),
  );
}

await run();
