/**
 * HTTP API benchmark (npm run bench:api).
 *
 * 1. GET /blockchain.json for a 10,000-block chain, median of several runs: cold (first request after a
 *    node starts, JIT not warmed up), uncached (warm JIT, cache disabled: every block read from LevelDB
 *    and serialized), cached (the node's default: serialized blocks kept in a bounded cache). The
 *    original Python node answers this in about 0.55 s on this machine; the target is under 0.1 s.
 * 2. GET /api/status throughput and latency with a bounded loop of concurrent requests on 127.0.0.1,
 *    first with the node idle, then while it mines devnet blocks on every core.
 *
 * The node is a separate `jbc node` process, as a user runs it, so the client's own work (this
 * process) does not share the server's event loop. Everything stays on 127.0.0.1; the data lives in a
 * temporary directory. The last line printed is one JSON object with every figure.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Chain } from "../src/chain/chain.ts";
import { regtest } from "../src/consensus/params.ts";
import { buildBlock } from "../src/consensus/template.ts";
import { chainDir } from "../src/node/paths.ts";
import { LevelStore } from "../src/store/level.ts";
import { mineBlock } from "../test/helpers/blocks.ts";
import { type NodeProcess, type StartOptions, spawnNode } from "../test/helpers/spawn.ts";
import { median, percentile } from "./stats.ts";

const BLOCKS = Number(process.env["BENCH_BLOCKS"] ?? 10_000);
const RUNS = Number(process.env["BENCH_RUNS"] ?? 9);
const COLD_RUNS = Number(process.env["BENCH_COLD_RUNS"] ?? 5);
const LOAD_SECONDS = Number(process.env["BENCH_LOAD_SECONDS"] ?? 5);
const LOAD_MAX_REQUESTS = 200_000;
const CONCURRENCY = 32;
const ORIGINAL_SECONDS = 0.55;

const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

/** Fills a store with `n` regtest blocks after genesis, one second apart, each with a short data record. */
async function buildChain(dir: string, n: number): Promise<void> {
  const store = await LevelStore.open(chainDir(dir), regtest);
  const chain = await Chain.open({ params: regtest, store });
  let time = regtest.genesis.header.time;
  for (let i = 0; i < n; i++) {
    const ctx = chain.nextBlockContext();
    const block = buildBlock({
      prevHash: ctx.prevHash,
      height: ctx.height,
      bits: ctx.bits,
      time: ++time,
      miner: `bench miner ${i % 4}`,
      records: [{ type: "data", data: new TextEncoder().encode(`block ${ctx.height}`) }],
    });
    await chain.processBlock(mineBlock(block));
  }
  await chain.close();
  await store.close();
}

async function timeChainDump(url: string): Promise<{ ms: number; bytes: number; blocks: number }> {
  const t0 = performance.now();
  const res = await fetch(`${url}/blockchain.json`);
  const text = await res.text();
  const ms = performance.now() - t0;
  const blocks = (JSON.parse(text) as unknown[]).length;
  return { ms, bytes: text.length, blocks };
}

/** `CONCURRENCY` workers request /api/status back to back until the time or request budget runs out. */
async function loadStatus(
  url: string,
): Promise<{ rps: number; p50: number; p99: number; requests: number; errors: number }> {
  const latencies: number[] = [];
  let errors = 0;
  const deadline = performance.now() + LOAD_SECONDS * 1000;
  let issued = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline && issued < LOAD_MAX_REQUESTS) {
      issued++;
      const t0 = performance.now();
      try {
        const res = await fetch(`${url}/api/status`);
        await res.arrayBuffer();
        if (!res.ok) errors++;
      } catch {
        errors++;
      }
      latencies.push(performance.now() - t0);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - t0) / 1000;
  return {
    rps: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    requests: latencies.length,
    errors,
  };
}

/** A `jbc node` process without P2P on `datadir` (test/helpers/spawn.ts), up once it logged its URL. */
function startNode(datadir: string, o: Omit<StartOptions, "name" | "datadir"> = {}): Promise<NodeProcess> {
  return spawnNode({
    name: "bench-node",
    datadir,
    startTimeoutMs: 60_000,
    ...o,
    args: ["--no-p2p", ...(o.args ?? [])],
  });
}

const dir = mkdtempSync(join(tmpdir(), "jbc-bench-api-"));
try {
  console.log(`building a ${BLOCKS}-block regtest chain...`);
  const tb = performance.now();
  await buildChain(join(dir, "chain"), BLOCKS);
  console.log(`  built in ${round((performance.now() - tb) / 1000)} s`);

  // Cold: the first request after a node starts (serialized-block cache empty; the OS page cache is
  // warm after the first start). Warm: later requests, answered mostly from the node's bounded cache.
  const cold: number[] = [];
  let last = { ms: 0, bytes: 0, blocks: 0 };
  for (let i = 0; i < COLD_RUNS; i++) {
    const n = await startNode(join(dir, "chain"));
    try {
      last = await timeChainDump(n.url);
      cold.push(last.ms);
    } finally {
      await n.stop();
    }
  }
  // Uncached: JIT warm, every block read from LevelDB and serialized on every request.
  const uncachedTimes: number[] = [];
  const nc = await startNode(join(dir, "chain"), { args: ["--json-cache-mb", "0"] });
  try {
    await timeChainDump(nc.url);
    for (let i = 0; i < RUNS; i++) uncachedTimes.push((await timeChainDump(nc.url)).ms);
  } finally {
    await nc.stop();
  }
  const uncached = median(uncachedTimes);
  const node = await startNode(join(dir, "chain"));
  let dump: { cold: number; warm: number; warmMin: number; bytes: number; blocks: number };
  let idle: Awaited<ReturnType<typeof loadStatus>>;
  try {
    await timeChainDump(node.url); // fills the cache
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) times.push((await timeChainDump(node.url)).ms);
    dump = {
      cold: median(cold),
      warm: median(times),
      warmMin: Math.min(...times),
      bytes: last.bytes,
      blocks: last.blocks,
    };
    console.log(
      `GET /blockchain.json (${dump.blocks} blocks, ${round(dump.bytes / 1e6)} MB): cold median ${round(dump.cold)} ms ` +
        `(${COLD_RUNS} fresh starts), uncached median ${round(uncached)} ms, cached median ${round(dump.warm)} ms ` +
        `(min ${round(dump.warmMin)}, ${RUNS} runs each); ` +
        `original ≈ ${ORIGINAL_SECONDS * 1000} ms`,
    );
    idle = await loadStatus(node.url);
    console.log(
      `GET /api/status, idle node: ${Math.round(idle.rps)} req/s, p50 ${round(idle.p50)} ms, p99 ${round(idle.p99)} ms ` +
        `(${idle.requests} requests, ${CONCURRENCY} concurrent, ${idle.errors} errors)`,
    );
  } finally {
    await node.stop();
  }

  // A devnet node mining on every core: real work, so the workers never idle.
  const threads = availableParallelism();
  const mining = await startNode(join(dir, "mining"), { network: "devnet", mine: true, threads });
  let busy: Awaited<ReturnType<typeof loadStatus>>;
  let hashRate = 0;
  try {
    await new Promise((r) => setTimeout(r, 2500)); // let the workers spin up and report a rate
    busy = await loadStatus(mining.url);
    const s = (await (await fetch(`${mining.url}/api/status`)).json()) as {
      mining: { hashRate: number; running: boolean };
    };
    hashRate = s.mining.hashRate;
    console.log(
      `GET /api/status while mining on ${threads} thread(s) (${round(hashRate / 1e6)} MH/s): ${Math.round(busy.rps)} req/s, ` +
        `p50 ${round(busy.p50)} ms, p99 ${round(busy.p99)} ms (${busy.requests} requests, ${busy.errors} errors)`,
    );
  } finally {
    await mining.stop();
  }

  console.log(
    JSON.stringify({
      bench: "api",
      blocks: dump.blocks,
      chainJsonColdMedianMs: round(dump.cold),
      chainJsonUncachedMedianMs: round(uncached),
      chainJsonWarmMedianMs: round(dump.warm),
      chainJsonWarmMinMs: round(dump.warmMin),
      chainJsonBytes: dump.bytes,
      chainJsonRuns: { cold: COLD_RUNS, warm: RUNS },
      originalMs: ORIGINAL_SECONDS * 1000,
      speedupColdVsOriginal: round((ORIGINAL_SECONDS * 1000) / dump.cold, 1),
      speedupUncachedVsOriginal: round((ORIGINAL_SECONDS * 1000) / uncached, 1),
      speedupWarmVsOriginal: round((ORIGINAL_SECONDS * 1000) / dump.warm, 1),
      targetMs: 100,
      coldMeetsTarget: dump.cold < 100,
      uncachedMeetsTarget: uncached < 100,
      warmMeetsTarget: dump.warm < 100,
      statusIdleRps: Math.round(idle.rps),
      statusIdleP99Ms: round(idle.p99),
      statusMiningRps: Math.round(busy.rps),
      statusMiningP50Ms: round(busy.p50),
      statusMiningP99Ms: round(busy.p99),
      miningThreads: threads,
      miningHashRate: Math.round(hashRate),
      concurrency: CONCURRENCY,
      loadSeconds: LOAD_SECONDS,
      // Other work on the machine skews every figure: the 1-minute load average when the run ended.
      loadAverage: round(loadavg()[0]!),
      cores: availableParallelism(),
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
