/**
 * The API under heavy reads and writes (npm run bench:dos-api; issue 17 item 3, docs/benchmarks.md
 * "API responsiveness under load").
 *
 * Builds a regtest chain in a temporary LevelDB store: genesis, BENCH_FULL_BLOCKS (300) full blocks of 16
 * random 60,000-character text records (960 KB each; about 1.9 MB of /blockchain.json a block, the text
 * twice: in the records and in the original's `data` field), then the largest
 * block consensus accepts since the record cap: 4,095 data records of 242 bytes and the miner's (999,180
 * bytes of records; before the cap, 199,979 records of 3 bytes were legal, and their view 27 MiB). Then, each phase on a freshly started
 * `jbc node` process (no P2P) on that store:
 *
 *   chainJson1   one GET /blockchain.json, read to its end;
 *   chainJson8   8 of them at once;
 *   blockView8   8 clients GET /api/blocks/<the largest block> back to back for BENCH_PHASE_SECONDS;
 *   postMax      a peer POSTs BENCH_POSTS (3) maximum-size blocks (4,096 records each, extending the
 *                tip) one after another.
 *
 * During each phase a prober in a process of its own (bench/health-probe.ts) GETs /api/health every 20 ms,
 * open loop; the node's memory is read from /proc every 50 ms. Per phase: health p50/p99/max, RSS at the
 * start, the peak growth of RSS and of its anonymous part (the rest is mostly LevelDB's memory-mapped
 * table files, page cache that grows with the bytes read), and what the load got (bytes, completeness,
 * statuses, times).
 *
 * BENCH_PHASES=postMax (a comma-separated list) runs only the phases named; BENCH_POST_SIGNED=1 makes the
 * posted blocks' records signed (4,095 records of 140 bytes under fresh keys, 982 KB), so the signature
 * checks are measured too.
 *
 * JBC_TEST_BIN=PATH runs another checkout's bin/jbc.mjs (test/helpers/spawn.ts), e.g. main's, for the
 * figures before a change; both run from their TypeScript sources (JBC_FROM_SOURCE=1) so neither gets a
 * compiled build the other lacks. The last line printed is one JSON object with every figure.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Chain } from "../src/chain/chain.ts";
import { type Block, encodeBlock } from "../src/consensus/block.ts";
import { headerHash } from "../src/consensus/header.ts";
import { regtest } from "../src/consensus/params.ts";
import { signRecord } from "../src/consensus/records.ts";
import { useNativeCrypto } from "../src/node/crypto.ts";
import { chainDir } from "../src/node/paths.ts";
import { LevelStore } from "../src/store/level.ts";
import { makeChild } from "../test/helpers/blocks.ts";
import { addFullBlocks, largestRecords, rssOf, sampleRss } from "../test/helpers/dos.ts";
import { type NodeProcess, spawnNode } from "../test/helpers/spawn.ts";
import { percentile } from "./stats.ts";

const FULL_BLOCKS = Number(process.env["BENCH_FULL_BLOCKS"] ?? 300);
const PHASE_SECONDS = Number(process.env["BENCH_PHASE_SECONDS"] ?? 15);
const POSTS = Number(process.env["BENCH_POSTS"] ?? 3);
const PHASES = process.env["BENCH_PHASES"]?.split(",");
const POST_SIGNED = process.env["BENCH_POST_SIGNED"] === "1";
const CLIENTS = 8;
const PROBE_INTERVAL_MS = 20;
/** A download that has not finished by then is counted as failed (main's broken ones hang). */
const DOWNLOAD_TIMEOUT_MS = 300_000;
const BIN = process.env["JBC_TEST_BIN"];
process.env["JBC_FROM_SOURCE"] = "1";

const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;
const MB = 1024 * 1024;
useNativeCrypto();

/** The largest block a parent can have under the record cap: 4,095 data records of 242 bytes, 1 MB. */
function maxBlock(parent: Block, first: number): Block {
  return makeChild(parent, regtest, {
    time: parent.header.time + 1,
    miner: "bench",
    records: largestRecords(first, regtest),
  });
}

/** A block of 4,095 signed records of 140 bytes (numbered from `first`), each under a fresh key. */
function signedMaxBlock(parent: Block, first: number): Block {
  const records = Array.from({ length: regtest.maxBlockRecords - 1 }, (_, i) => {
    const data = new Uint8Array(140).fill(0x61 + (i % 26));
    new DataView(data.buffer).setUint32(0, first + i);
    return signRecord(data, randomBytes(32));
  });
  return makeChild(parent, regtest, { time: parent.header.time + 1, miner: "bench", records });
}

async function buildStore(dir: string): Promise<{ largest: string; posts: Uint8Array[] }> {
  const store = await LevelStore.open(chainDir(dir), regtest);
  const chain = await Chain.open({ params: regtest, store });
  const tip = await addFullBlocks(chain, regtest, regtest.genesis, FULL_BLOCKS, "bench");
  const largestBlock = maxBlock(tip, 0);
  const r = await chain.processBlock(largestBlock);
  if (r.status !== "main") throw new Error(`largest block: ${r.status}`);
  const largest = headerHash(largestBlock.header);
  await chain.close();
  await store.close();
  // The peer's blocks extend the largest one, each with records no block before it holds.
  const posts: Uint8Array[] = [];
  let parent = largestBlock;
  for (let i = 0; i < POSTS; i++) {
    parent = (POST_SIGNED ? signedMaxBlock : maxBlock)(parent, (i + 1) * 10_000);
    posts.push(encodeBlock(parent));
  }
  return { largest, posts };
}

interface Probe {
  stop(): Promise<{ latencies: number[]; errors: number }>;
}

/** Starts bench/health-probe.ts against `url`; resolves once its first probe answered. */
async function startProbe(url: string): Promise<Probe> {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      fileURLToPath(new URL("./health-probe.ts", import.meta.url)),
      url,
      String(PROBE_INTERVAL_MS),
    ],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const lines = createInterface({ input: child.stdout! });
  const out: string[] = [];
  let ready!: () => void;
  const isReady = new Promise<void>((r) => {
    ready = r;
  });
  lines.on("line", (l) => (l === "ready" ? ready() : out.push(l)));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  await isReady;
  return {
    async stop() {
      child.stdin!.end("stop\n");
      await exited;
      return JSON.parse(out.at(-1)!) as { latencies: number[]; errors: number };
    },
  };
}

/** GET /blockchain.json read to its end: bytes, blocks counted in the stream, and whether it is whole. */
async function download(
  url: string,
): Promise<{ ok: boolean; status: number; bytes: number; blocks: number; ms: number; error?: string }> {
  const t0 = performance.now();
  const marker = Buffer.from('{"index":"');
  let bytes = 0;
  let blocks = 0;
  let carry = Buffer.alloc(0);
  let last = 0;
  let status = 0;
  try {
    const res = await fetch(`${url}/blockchain.json`, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
    status = res.status;
    for await (const chunk of res.body!) {
      const buf = Buffer.concat([carry, chunk as Uint8Array]);
      for (let at = buf.indexOf(marker); at >= 0; at = buf.indexOf(marker, at + marker.length)) blocks++;
      carry = Buffer.from(buf.subarray(Math.max(0, buf.length - marker.length + 1)));
      bytes += (chunk as Uint8Array).length;
      last = buf[buf.length - 1]!;
    }
    const ms = performance.now() - t0;
    return { ok: status === 200 && last === 0x5d, status, bytes, blocks, ms };
  } catch (err) {
    const ms = performance.now() - t0;
    return { ok: false, status, bytes, blocks, ms, error: err instanceof Error ? err.message : String(err) };
  }
}

interface PhaseResult {
  healthP50Ms: number;
  healthP99Ms: number;
  healthMaxMs: number;
  probes: number;
  probeErrors: number;
  rssStartMb: number;
  rssGrowthMb: number;
  anonGrowthMb: number;
  [k: string]: unknown;
}

/** Runs `load` on a fresh node with the prober and the RSS sampler around it. */
async function phase(
  name: string,
  dir: string,
  load: (node: NodeProcess) => Promise<Record<string, unknown>>,
): Promise<PhaseResult | undefined> {
  if (PHASES && !PHASES.includes(name)) return undefined;
  const node = await spawnNode({
    name: "dos-api",
    datadir: dir,
    args: ["--no-p2p"],
    startTimeoutMs: 120_000,
  });
  try {
    // Let startup settle (the tree load's garbage, JIT of the first requests).
    await (await fetch(`${node.url}/api/status`)).arrayBuffer();
    await new Promise((r) => setTimeout(r, 1000));
    const probe = await startProbe(node.url);
    const rssStart = rssOf(node.proc.pid!).total;
    const rss = sampleRss(node.proc.pid!);
    const got = await load(node);
    const growth = rss.stop();
    const { latencies, errors } = await probe.stop();
    const result: PhaseResult = {
      healthP50Ms: round(percentile(latencies, 50)),
      healthP99Ms: round(percentile(latencies, 99)),
      healthMaxMs: round(Math.max(...latencies)),
      probes: latencies.length,
      probeErrors: errors,
      rssStartMb: round(rssStart / MB),
      rssGrowthMb: round(growth.total / MB),
      anonGrowthMb: round(growth.anon / MB),
      ...got,
    };
    console.log(`${name}: ${JSON.stringify(result)}`);
    return result;
  } finally {
    await node.stop(30_000);
  }
}

const dir = mkdtempSync(join(tmpdir(), "jbc-bench-dos-api-"));
try {
  console.log(`building ${FULL_BLOCKS} full blocks, the largest block and ${POSTS} to post...`);
  const tb = performance.now();
  const { largest, posts } = await buildStore(dir);
  console.log(`  built in ${round((performance.now() - tb) / 1000)} s; node: ${BIN ?? "this checkout"}`);
  const tipBlocks = FULL_BLOCKS + 2;

  const summarize = (runs: Awaited<ReturnType<typeof download>>[]) => ({
    complete: runs.filter((r) => r.ok && r.blocks === tipBlocks).length,
    downloads: runs.length,
    blocksSeen: runs.map((r) => r.blocks),
    mb: runs.map((r) => round(r.bytes / MB)),
    seconds: runs.map((r) => round(r.ms / 1000, 2)),
    errors: [...new Set(runs.flatMap((r) => (r.error ? [r.error] : r.ok ? [] : [`status ${r.status}`])))],
  });
  const chainJson1 = await phase("chainJson1", dir, async (n) => summarize([await download(n.url)]));
  const chainJson8 = await phase("chainJson8", dir, async (n) =>
    summarize(await Promise.all(Array.from({ length: CLIENTS }, () => download(n.url)))),
  );
  const blockView8 = await phase("blockView8", dir, async (n) => {
    const statuses: Record<string, number> = {};
    const ms: number[] = [];
    let bytes = 0;
    const deadline = performance.now() + PHASE_SECONDS * 1000;
    const client = async (): Promise<void> => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        try {
          const res = await fetch(`${n.url}/api/blocks/${largest}`, { signal: AbortSignal.timeout(120_000) });
          bytes = (await res.arrayBuffer()).byteLength;
          statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        } catch {
          statuses["error"] = (statuses["error"] ?? 0) + 1;
        }
        ms.push(performance.now() - t0);
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, client));
    return {
      requests: ms.length,
      statuses,
      responseKb: round(bytes / 1024),
      viewP50Ms: round(percentile(ms, 50)),
      viewP99Ms: round(percentile(ms, 99)),
    };
  });
  const postMax = await phase("postMax", dir, async (n) => {
    const results: string[] = [];
    const ms: number[] = [];
    for (const raw of posts) {
      const t0 = performance.now();
      const res = await fetch(`${n.url}/api/blocks`, {
        method: "POST",
        headers: { "content-type": "application/octet-stream" },
        body: raw,
        signal: AbortSignal.timeout(120_000),
      });
      const body = (await res.json()) as { status?: string; error?: { code: string } };
      ms.push(performance.now() - t0);
      results.push(res.ok ? String(body.status) : `${res.status} ${body.error?.code}`);
    }
    return { results, postMs: ms.map((x) => Math.round(x)) };
  });

  console.log(
    JSON.stringify({
      bench: "dos-api",
      node: BIN ?? "this checkout",
      fullBlocks: FULL_BLOCKS,
      postSigned: POST_SIGNED,
      largestRecords: regtest.maxBlockRecords,
      phaseSeconds: PHASE_SECONDS,
      chainJson1,
      chainJson8,
      blockView8,
      postMax,
      loadavg1: round(loadavg()[0]!, 2),
      cores: availableParallelism(),
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
