/**
 * Chain and store benchmark: what processBlock sustains into LevelDB, what a 100-block reorg costs, and how
 * long a node with 100,000 blocks takes to start and how much memory it then holds. Everything runs on real
 * LevelDB databases in temp dirs, through the same Chain.processBlock every block takes.
 *
 *   npm run bench:chain                 # full run (~1-2 minutes on 2 cores)
 *   npm run bench:chain -- --quick      # smaller sizes, to check the script itself
 *   npm run bench:chain -- --hash=noble # consensus hashing with its own pure-JS code, not node:crypto
 *
 * (a) blocks/s: a pre-built 10,000-block regtest chain, given as serialized bytes; the timed loop decodes
 *     each (decodeBlock) and calls processBlock(block, raw), as the network layer does. Median of 3 runs,
 *     each on a fresh datadir, after an uncounted warm-up run on 2,000 blocks. Once with 10 data records of
 *     100 bytes per block, once with only the miner record.
 * (b) reorg: a 101-block side branch overtakes a 100-block main branch; the time of the processBlock call
 *     that triggers the switch (load + check 100 stored bodies, one batch). Median of 5 fresh datadirs.
 * (c) startup: LevelStore.open + Chain.open of a 100,000-block store (built once per run through
 *     processBlock; its build time is reported too), in fresh child processes that do nothing else, so the
 *     build's memory does not count; RSS is read right after Chain.open resolves, the live JS heap after a
 *     forced GC. Median of 5.
 * Also, for reference: blocks/s with `sync: true` (an fsync per batch), one run on the first 1,000 blocks.
 *
 * The last line printed is one JSON object with the figures, the 1-minute load average when the run ended and
 * the number of cores.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Chain } from "../src/chain/chain.ts";
import { type Block, decodeBlock, encodeBlock } from "../src/consensus/block.ts";
import { bitsToTarget } from "../src/consensus/compact.ts";
import { hashToBigInt, headerHashBytes } from "../src/consensus/header.ts";
import { regtest } from "../src/consensus/params.ts";
import type { BlockRecord } from "../src/consensus/records.ts";
import { buildBlock } from "../src/consensus/template.ts";
import { useNativeCrypto } from "../src/node/crypto.ts";
import { LevelStore } from "../src/store/level.ts";
import { processBlocksPerSec } from "./process-run.ts";
import { median } from "./stats.ts";

// As the node does (src/node/node.ts): consensus hashes and verifies through node:crypto. `--hash=noble`
// keeps consensus's own pure-JS @noble code, to measure what the native code is worth (docs/benchmarks.md).
const HASH = process.argv.includes("--hash=noble") ? "noble" : "native";
if (HASH === "native") useNativeCrypto();

const params = regtest;
/** Late enough that every block time of a 100,000-block chain is in the past. */
const now = (): number => params.genesis.header.time + 10_000_000;
const TARGET = bitsToTarget(params.genesis.header.bits)!;

// ------------------------------------------------------------------------------------------ child mode

/** `--open <dir>`: open the store and the chain, report startup time and memory, exit. */
async function openChild(dir: string): Promise<void> {
  const t0 = performance.now();
  const store = await LevelStore.open(dir, params, { create: false });
  const chain = await Chain.open({ params, store, now });
  const ms = performance.now() - t0;
  const rss = process.memoryUsage().rss;
  // What stays alive once startup's garbage is collected (the child runs with --expose-gc).
  (globalThis as { gc?: () => void }).gc?.();
  const live = process.memoryUsage().heapUsed;
  process.stdout.write(`${JSON.stringify({ ms, rss, live, height: chain.height })}\n`);
  await chain.close();
  await store.close();
}

/** `--baseline`: the same process with everything imported but no store, for the RSS of the runtime. */
function baselineChild(): void {
  process.stdout.write(`${JSON.stringify({ rss: process.memoryUsage().rss })}\n`);
}

// ------------------------------------------------------------------------------------------ building

/** Ten 100-byte data records, distinct within the block and from block to block. */
function dataRecords(height: number): BlockRecord[] {
  const out: BlockRecord[] = [];
  for (let i = 0; i < 10; i++) {
    const data = new Uint8Array(100);
    const view = new DataView(data.buffer);
    view.setUint32(0, height, true);
    view.setUint32(4, i, true);
    for (let j = 8; j < 100; j++) data[j] = (height * 31 + i * 7 + j) & 0xff;
    out.push({ type: "data", data });
  }
  return out;
}

/** Mines `count` blocks on `parent` (regtest: about two hashes each), one second apart. */
function buildBranch(
  parent: Block,
  parentHeight: number,
  count: number,
  miner: string,
  records: boolean,
): Block[] {
  const out: Block[] = [];
  let prev = parent;
  for (let i = 1; i <= count; i++) {
    const height = parentHeight + i;
    const block = buildBlock({
      prevHash: headerHashBytes(prev.header),
      height,
      bits: params.genesis.header.bits,
      time: prev.header.time + 1,
      miner,
      ...(records ? { records: dataRecords(height) } : {}),
    });
    while (hashToBigInt(headerHashBytes(block.header)) > TARGET) block.header.nonce++;
    out.push(block);
    prev = block;
  }
  return out;
}

// ------------------------------------------------------------------------------------------ measuring

let tempRoot: string | undefined;
let dirCount = 0;
function freshDir(): string {
  tempRoot ??= mkdtempSync(join(tmpdir(), "jbc-bench-chain-"));
  return join(tempRoot, `d${dirCount++}`);
}

async function openFresh(dir = freshDir()): Promise<{ chain: Chain; store: LevelStore }> {
  const store = await LevelStore.open(dir, params);
  return { store, chain: await Chain.open({ params, store, now }) };
}

const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** (a) One run: decode + processBlock for every raw block into a fresh store; returns blocks/s. */
async function processRun(raws: Uint8Array[], sync = false): Promise<number> {
  const store = await LevelStore.open(freshDir(), params, { sync });
  const rate = await processBlocksPerSec(store, raws);
  await store.close();
  return rate;
}

/** (b) One run: prefix + main branch + all but one side block, then time the block that flips the tip. */
async function reorgRun(prefix: Block[], main: Block[], side: Block[]): Promise<number> {
  const { chain, store } = await openFresh();
  for (const b of [...prefix, ...main]) await chain.processBlock(b);
  for (const b of side.slice(0, -1)) await chain.processBlock(b);
  const last = side[side.length - 1]!;
  const raw = encodeBlock(last);
  const t0 = performance.now();
  const r = await chain.processBlock(decodeBlock(raw), raw);
  const ms = performance.now() - t0;
  if (r.status !== "main" || r.reorg?.depth !== main.length)
    throw new Error("the side branch did not take over");
  await chain.close();
  await store.close();
  return ms;
}

function child(args: string[]): Record<string, number> {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", self, ...args, `--hash=${HASH}`], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`child ${args.join(" ")} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as Record<string, number>;
}

async function main(): Promise<void> {
  const quick = process.argv.includes("--quick");
  const N = quick ? 2_000 : 10_000;
  const RUNS = 3;
  const BIG = quick ? 10_000 : 100_000;
  const REORG = 100;
  const REORG_RUNS = 5;
  const STARTUP_RUNS = 5;
  const MB = 1024 * 1024;

  let t = performance.now();
  const withData = buildBranch(params.genesis, 0, N, "bench", true).map(encodeBlock);
  const minerOnly = buildBranch(params.genesis, 0, N, "bench", false).map(encodeBlock);
  console.log(
    `built 2 x ${N} blocks in ${((performance.now() - t) / 1000).toFixed(1)} s ` +
      `(${withData[1]!.length} and ${minerOnly[1]!.length} bytes each)`,
  );

  // Warm-up (not counted): the first thousands of blocks run before the JIT has compiled the hot paths.
  await processRun(withData.slice(0, N / 5));
  await processRun(minerOnly.slice(0, N / 5));
  const dataRuns: number[] = [];
  const minerRuns: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    dataRuns.push(await processRun(withData));
    minerRuns.push(await processRun(minerOnly));
    console.log(
      `run ${i + 1}: ${dataRuns[i]!.toFixed(0)} blocks/s with 10 records, ${minerRuns[i]!.toFixed(0)} miner only`,
    );
  }

  // What fsync per batch costs (LevelStoreOptions.sync): one run on the first blocks.
  const SYNCED = quick ? 200 : 1_000;
  const syncRate = await processRun(withData.slice(0, SYNCED), true);
  console.log(`sync: ${syncRate.toFixed(0)} blocks/s with an fsync per block`);

  const prefix = buildBranch(params.genesis, 0, 10, "prefix", true);
  const mainBranch = buildBranch(prefix[9]!, 10, REORG, "main", true);
  const sideBranch = buildBranch(prefix[9]!, 10, REORG + 1, "side", true);
  const reorgRuns: number[] = [];
  for (let i = 0; i < REORG_RUNS; i++) reorgRuns.push(await reorgRun(prefix, mainBranch, sideBranch));
  console.log(`reorg ${REORG}: ${reorgRuns.map((x) => x.toFixed(1)).join(", ")} ms`);

  t = performance.now();
  const big = buildBranch(params.genesis, 0, BIG, "bench", false);
  const buildBlocksS = (performance.now() - t) / 1000;
  const bigDir = freshDir();
  t = performance.now();
  {
    const { chain, store } = await openFresh(bigDir);
    for (const b of big) await chain.processBlock(b);
    await chain.close();
    await store.close();
  }
  const buildStoreS = (performance.now() - t) / 1000;
  console.log(
    `built ${BIG} blocks in ${buildBlocksS.toFixed(1)} s, stored them through processBlock in ${buildStoreS.toFixed(1)} s`,
  );
  const starts = Array.from({ length: STARTUP_RUNS }, () => child(["--open", bigDir]));
  if (starts.some((s) => s["height"] !== BIG)) throw new Error("startup child saw the wrong height");
  const baseline = median(Array.from({ length: 3 }, () => child(["--baseline"])["rss"]!));
  console.log(`startup ${BIG}: ${starts.map((s) => s["ms"]!.toFixed(0)).join(", ")} ms`);

  const result = {
    process_blocks_per_s: Math.round(median(dataRuns)),
    process_blocks_per_s_miner_only: Math.round(median(minerRuns)),
    reorg_100_ms: round(median(reorgRuns)),
    startup_100k_ms: Math.round(median(starts.map((s) => s["ms"]!))),
    rss_100k_mb: round(median(starts.map((s) => s["rss"]!)) / MB),
    rss_baseline_mb: round(baseline / MB),
    heap_live_100k_mb: round(median(starts.map((s) => s["live"]!)) / MB),
    process_blocks_per_s_sync: Math.round(syncRate),
    build_100k_s: round(buildStoreS),
    blocks: N,
    big_blocks: BIG,
    // The machine is shared: say how busy it was when the run ended.
    load_1m: round(loadavg()[0]!, 2),
    cores: cpus().length,
    hash: HASH,
  };

  const rows: Array<[string, string]> = [
    [
      `processBlock, ${N} blocks, 10 x 100-byte records (median of ${RUNS})`,
      `${result.process_blocks_per_s} blocks/s`,
    ],
    [
      `processBlock, ${N} blocks, miner record only (median of ${RUNS})`,
      `${result.process_blocks_per_s_miner_only} blocks/s`,
    ],
    [
      `reorg: 101-block branch overtakes ${REORG} blocks (median of ${REORG_RUNS})`,
      `${result.reorg_100_ms} ms`,
    ],
    [
      `startup, ${BIG} blocks: LevelStore.open + Chain.open (median of ${STARTUP_RUNS})`,
      `${result.startup_100k_ms} ms`,
    ],
    [`RSS after startup, ${BIG} blocks (fresh process)`, `${result.rss_100k_mb} MB`],
    ["RSS of the same process without opening a store", `${result.rss_baseline_mb} MB`],
    [`JS heap alive after startup (after a GC), ${BIG} blocks`, `${result.heap_live_100k_mb} MB`],
    [
      `processBlock with sync: true, first ${SYNCED} blocks with records (1 run)`,
      `${result.process_blocks_per_s_sync} blocks/s`,
    ],
    [`building the ${BIG}-block store through processBlock`, `${result.build_100k_s} s`],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log("");
  for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
  console.log(JSON.stringify(result));
}

const mode = process.argv[2];
try {
  if (mode === "--open") await openChild(process.argv[3]!);
  else if (mode === "--baseline") baselineChild();
  else await main();
} finally {
  if (tempRoot) rmSync(tempRoot, { recursive: true, force: true });
}
