/**
 * Record-index benchmark (issue 9, chain side), on real LevelDB databases in temp dirs:
 *
 *   npm run bench:records             # full run
 *   npm run bench:records -- --quick  # smaller sizes, to check the script itself
 *
 * (a) processBlock with 10 data records of 100 bytes per block, 5,000 pre-built regtest blocks, decode +
 *     processBlock(block, raw) as the network layer does: with the record index (the node as it runs:
 *     getMany of the block's ids for the exactly-once rule, 'r' puts in the block's batch) and with the
 *     index off (the same chain on a store that skips the index reads and writes), in pairs ordered
 *     on-off, off-on, on-off, ... (so a load that rises or falls through the run hits both alike), 5 pairs
 *     (3 with --quick) after an uncounted warm-up of each; medians of each side, and the median of the
 *     pairs' on / off ratios.
 * (b) index bytes per record: the key and value bytes written per record ('r': 33 + 8), per signed record
 *     ('a': 41 + 32 more), and what LevelDB takes on disk for the 'r' range after a full compaction
 *     (approximateSize / records), on the chain of (c).
 * (c) a chain holding 1,000,000 records (1,000 blocks of 1,000 records of 40 bytes, built with
 *     processBlocks): findRecord alone, then findRecord + block read + proof build (merkleLevels +
 *     buildRecordProof) for random ids, cold (any record of the chain; each block read and its tree built)
 *     and warm (records of the newest 64 blocks, whose merkle levels an LRU of 64 keeps, as the API's
 *     does); p50 and p99 over 2,000 lookups each.
 *
 * The last line printed is one JSON object with the figures (named as in docs/benchmarks.md).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { ClassicLevel } from "classic-level";
import { Chain } from "../src/chain/chain.ts";
import type { ChainStore } from "../src/chain/store.ts";
import { type Block, decodeBlock, encodeBlock, recordIds } from "../src/consensus/block.ts";
import { bitsToTarget } from "../src/consensus/compact.ts";
import { encodeHeader, hashToBigInt, hashToHex, headerHashBytes } from "../src/consensus/header.ts";
import { regtest } from "../src/consensus/params.ts";
import { buildRecordProof, merkleLevels, verifyRecordProof } from "../src/consensus/proof.ts";
import { encodeRecord, recordId } from "../src/consensus/records.ts";
import { buildBlock } from "../src/consensus/template.ts";
import { useNativeCrypto } from "../src/node/crypto.ts";
import { P_RECORD, prefixRange } from "../src/store/layout.ts";
import { LevelStore } from "../src/store/level.ts";
import { dataRecords } from "../test/helpers/net.ts";
import { median, percentile } from "./stats.ts";

useNativeCrypto(); // as the node does

const params = regtest;
const now = (): number => params.genesis.header.time + 10_000_000;
const TARGET = bitsToTarget(params.genesis.header.bits)!;
const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;

let tempRoot: string | undefined;
let dirCount = 0;
function freshDir(): string {
  tempRoot ??= mkdtempSync(join(tmpdir(), "jbc-bench-records-"));
  return join(tempRoot, `d${dirCount++}`);
}

function buildChain(count: number, perBlock: number, size: number): Block[] {
  const out: Block[] = [];
  let prev = params.genesis;
  for (let height = 1; height <= count; height++) {
    const block = buildBlock({
      prevHash: headerHashBytes(prev.header),
      height,
      bits: params.genesis.header.bits,
      time: prev.header.time + 1,
      miner: "bench",
      records: dataRecords(height, perBlock, size),
    });
    while (hashToBigInt(headerHashBytes(block.header)) > TARGET) block.header.nonce++;
    out.push(block);
    prev = block;
  }
  return out;
}

/** The same LevelStore with the record index switched off: no lookups, no index writes. */
function withoutIndex(store: LevelStore): ChainStore {
  return {
    loadEntries: () => store.loadEntries(),
    getTip: () => store.getTip(),
    getMainHash: (h) => store.getMainHash(h),
    getBlock: (h) => store.getBlock(h),
    getBlocks: (hs) => store.getBlocks(hs),
    getRecordPlaces: async (ids) => ids.map(() => undefined),
    recordsByAuthor: async () => [],
    getAuthorIds: async (refs) => refs.map(() => undefined),
    countRecordIndex: async () => ({ records: 0, authors: 0 }),
    write: (w) => store.write({ ...w, recordsDel: [], recordsPut: [] }),
  };
}

/** (a) One run: decode + processBlock for every raw block into a fresh store; returns blocks/s. */
async function processRun(raws: Uint8Array[], index: boolean): Promise<number> {
  const store = await LevelStore.open(freshDir(), params);
  const chain = await Chain.open({ params, store: index ? store : withoutIndex(store), now });
  const t0 = performance.now();
  for (const raw of raws) {
    const r = await chain.processBlock(decodeBlock(raw), raw);
    if (r.status !== "main") throw new Error(`unexpected ${r.status}`);
  }
  const s = (performance.now() - t0) / 1000;
  if (chain.height !== raws.length) throw new Error("not every block connected");
  await chain.close();
  await store.close();
  return raws.length / s;
}

async function main(): Promise<void> {
  const quick = process.argv.includes("--quick");
  const N = quick ? 1_000 : 5_000;
  const PAIRS = quick ? 3 : 5;
  const BIG_BLOCKS = quick ? 100 : 1_000;
  const PER_BIG = 1_000;
  const LOOKUPS = 2_000;

  // ---------------------------------------------------------------- (a)
  let t = performance.now();
  const raws = buildChain(N, 10, 100).map(encodeBlock);
  console.log(`built ${N} blocks of 10 records in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  await processRun(raws.slice(0, N / 5), true);
  await processRun(raws.slice(0, N / 5), false);
  const on: number[] = [];
  const off: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < PAIRS; i++) {
    const first = i % 2 === 0;
    const a = await processRun(raws, first);
    const b = await processRun(raws, !first);
    const [withIndex, without] = first ? [a, b] : [b, a];
    on.push(withIndex);
    off.push(without);
    ratios.push(withIndex / without);
  }
  const onMedian = median(on);
  const offMedian = median(off);
  const ratio = median(ratios);
  console.log(
    `(a) processBlock, 10 records/block: index on ${onMedian.toFixed(0)} blocks/s, off ${offMedian.toFixed(0)} ` +
      `(median of the pairs' ratios ${ratio.toFixed(2)}; runs on ${on.map((x) => x.toFixed(0)).join(", ")}; off ${off.map((x) => x.toFixed(0)).join(", ")})`,
  );

  // ---------------------------------------------------------------- (c) build
  t = performance.now();
  const big = buildChain(BIG_BLOCKS, PER_BIG, 40);
  const buildMs = performance.now() - t;
  const dir = freshDir();
  let store = await LevelStore.open(dir, params);
  let chain = await Chain.open({ params, store, now });
  t = performance.now();
  for (let i = 0; i < big.length; i += 100) {
    const results = await chain.processBlocks(big.slice(i, i + 100).map((block) => ({ block })));
    if (results.some((r) => !("status" in r) || r.status !== "main"))
      throw new Error("a big block was refused");
  }
  const loadS = (performance.now() - t) / 1000;
  const records = BIG_BLOCKS * (PER_BIG + 1);
  console.log(
    `(c) ${records} records in ${BIG_BLOCKS} blocks: built in ${(buildMs / 1000).toFixed(1)} s, ` +
      `processBlocks ${loadS.toFixed(1)} s (${Math.round(records / loadS)} records/s)`,
  );

  // ---------------------------------------------------------------- (b) bytes
  await chain.close();
  await store.close();
  const db = new ClassicLevel<Uint8Array, Uint8Array>(join(dir), {
    keyEncoding: "view",
    valueEncoding: "view",
  });
  await db.open();
  const range = prefixRange(P_RECORD);
  await db.compactRange(range.gte, range.lt);
  const onDisk = await db.approximateSize(range.gte, range.lt);
  await db.close();
  const indexRecords = records + params.genesis.records.length;
  const diskBytesPerRecord = onDisk / indexRecords;
  console.log(
    `(b) index bytes per record: 41 written ('r' key 33 + value 8), 73 more per signed record ('a' key 41 + value 32); ` +
      `on disk after compaction ${diskBytesPerRecord.toFixed(1)} bytes per record ('r' range ${onDisk} bytes)`,
  );

  // ---------------------------------------------------------------- (c) lookups
  store = await LevelStore.open(dir, params);
  chain = await Chain.open({ params, store, now });
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  /** A random record of the chain, or of its newest `newest` blocks. */
  const pick = (newest = BIG_BLOCKS): { id: string; height: number; index: number } => {
    const height = BIG_BLOCKS - rand(newest);
    const index = 1 + rand(PER_BIG);
    const rec = big[height - 1]!.records[index]!;
    // Hashed outside the timed part: the caller has the id.
    return { id: hashToHex(recordId(rec)), height, index };
  };
  const find: number[] = [];
  for (let i = 0; i < LOOKUPS; i++) {
    const p = pick();
    const t0 = performance.now();
    const loc = await chain.findRecord(p.id);
    find.push(performance.now() - t0);
    if (loc?.height !== p.height || loc.index !== p.index) throw new Error("findRecord is wrong");
  }
  const cache = new Map<string, { header: Uint8Array; ids: Uint8Array[]; levels: Uint8Array[][] }>();
  const proofRun = async (keep: number): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < LOOKUPS; i++) {
      const p = keep > 0 ? pick(keep) : pick();
      const t0 = performance.now();
      const loc = (await chain.findRecord(p.id))!;
      let tree = cache.get(loc.blockHash);
      if (!tree) {
        const block = (await chain.getBlock(loc.blockHash))!;
        const ids = recordIds(block);
        tree = { header: encodeHeader(block.header), ids, levels: merkleLevels(ids) };
        if (keep > 0) {
          cache.set(loc.blockHash, tree);
          if (cache.size > keep) cache.delete(cache.keys().next().value!);
        }
      } else {
        cache.delete(loc.blockHash);
        cache.set(loc.blockHash, tree); // most recently used
      }
      const proof = buildRecordProof(tree.header, tree.ids, loc.index, tree.levels);
      out.push(performance.now() - t0);
      if (i < 20) {
        const recBytes = encodeRecord(big[p.height - 1]!.records[p.index]!);
        const ok = verifyRecordProof(proof, recBytes, { powLimit: params.powLimit });
        if (!ok.valid) throw new Error(`proof does not verify: ${JSON.stringify(ok)}`);
      }
    }
    return out;
  };
  const cold = await proofRun(0);
  await proofRun(64); // fill the cache
  const warm = await proofRun(64);
  await chain.close();
  await store.close();
  const ms = (x: number): number => round(x, 3);
  console.log(
    `(c) on ${records} records: findRecord p50 ${ms(percentile(find, 50))} ms, p99 ${ms(percentile(find, 99))} ms; ` +
      `with proof, cold p50 ${ms(percentile(cold, 50))} / p99 ${ms(percentile(cold, 99))} ms, ` +
      `warm (newest 64 blocks, 64 trees kept) p50 ${ms(percentile(warm, 50))} / p99 ${ms(percentile(warm, 99))} ms`,
  );
  if (tempRoot) rmSync(tempRoot, { recursive: true, force: true });
  console.log(
    JSON.stringify({
      processBlockRecordsIndexOnBlocksPerSec: Math.round(onMedian),
      processBlockRecordsIndexOffBlocksPerSec: Math.round(offMedian),
      recordIndexRatio: round(ratio, 3),
      indexBytesPerRecord: 41,
      indexBytesPerSignedRecord: 41 + 73,
      indexDiskBytesPerRecord: round(diskBytesPerRecord, 1),
      chainRecords: records,
      findRecordP50Ms: ms(percentile(find, 50)),
      findRecordP99Ms: ms(percentile(find, 99)),
      findProofColdP50Ms: ms(percentile(cold, 50)),
      findProofColdP99Ms: ms(percentile(cold, 99)),
      findProofWarmP50Ms: ms(percentile(warm, 50)),
      findProofWarmP99Ms: ms(percentile(warm, 99)),
      loadavg1: round(loadavg()[0]!, 2),
      cores: cpus().length,
    }),
  );
}

await main();
