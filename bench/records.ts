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
 *     ('a': 41 + 32 more), the merkle upper levels written per record of a block of more than 32 records
 *     ('m': key 33 + 32 bytes a node, about 2 bytes a record; none for smaller blocks), and what LevelDB
 *     takes on disk for the 'r' and 'm' ranges after a full compaction (approximateSize / records), on the
 *     chain of (c).
 * (c) a chain holding 1,000,000 records (1,000 blocks of 1,000 records of 40 bytes, built with
 *     processBlocks, then compacted whole as a long-synced store is, the blocks dropped from memory),
 *     random ids of any block (nothing cached: the API keeps no proof cache): findRecord
 *     alone; the API's handler for GET /api/records/:id (RecordsApi.get: mempool, findRecord, block and
 *     upper-level read, at most 32 record hashes, proof; after 200 untimed calls); the same request over
 *     HTTP to the Fastify server on loopback (keep-alive, plain fetch in this process), beside GET
 *     /api/health on the same connection (the HTTP floor); then both from a client in a process of its own
 *     (bench/http-client.ts), so that the server's thread does only the server's work. p50 and p99 over
 *     2,000 lookups each. For the breakdown, the path the API took before the upper levels were stored
 *     (block read, decodeBlock, recordIds, merkleLevels,
 *     buildRecordProof, JSON) is timed phase by phase on the same chain.
 *
 * (d) witnessed checkpoints (issue 19; bench/witness-run.ts): µs to sign a checkpoint and to parse and
 *     verify a peer's cosignature; then decode + processBlock of (a)'s chain with the node's witness
 *     (3 witnesses, quorum 2, depth 6, two peers' cosignatures received after each block) against none,
 *     index on both: whole runs in pairs ordered on-off, off-on, ... beside pairs of two runs without
 *     (the A/A control), and interleaved block by block in one process, three chains (with, without,
 *     without again) taking each block in rotating order, each call timed (3 rounds; 2 with --quick);
 *     and the same with processBlocks of 100 blocks a call, as a sync imports them.
 *     `--only-witness` runs (d) alone (its figures, the load and cores in the JSON line).
 *
 * The last line printed is one JSON object with the figures (named as in docs/benchmarks.md).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ClassicLevel } from "classic-level";
import { RecordsApi, recordBody } from "../src/api/records.ts";
import type { RecordDetail } from "../src/api/schemas.ts";
import { createApiServer } from "../src/api/server.ts";
import { Chain } from "../src/chain/chain.ts";
import type { ChainStore } from "../src/chain/store.ts";
import { type Block, decodeBlock, encodeBlock, recordIds } from "../src/consensus/block.ts";
import { bitsToTarget } from "../src/consensus/compact.ts";
import { sha256d } from "../src/consensus/hash.ts";
import { encodeHeader, hashToBigInt, hashToHex, headerHashBytes } from "../src/consensus/header.ts";
import { upperTreeSize } from "../src/consensus/merkle.ts";
import { regtest } from "../src/consensus/params.ts";
import { buildRecordProof, merkleLevels, verifyRecordProof } from "../src/consensus/proof.ts";
import { encodeRecord, recordId } from "../src/consensus/records.ts";
import { buildBlock } from "../src/consensus/template.ts";
import { Mempool } from "../src/mempool/index.ts";
import { useNativeCrypto } from "../src/node/crypto.ts";
import { P_RECORD, P_UPPER, prefixRange } from "../src/store/layout.ts";
import { LevelStore } from "../src/store/level.ts";
import { recordsBackend } from "../test/helpers/api.ts";
import { dataRecords } from "../test/helpers/net.ts";
import { processBlocksPerSec } from "./process-run.ts";
import { median, percentile } from "./stats.ts";
import { interleavedRound, peerCosignatures, witnessMicro, witnessRunBlocksPerSec } from "./witness-run.ts";

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
    getUpperTrees: (hs) => store.getUpperTrees(hs),
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
  const rate = await processBlocksPerSec(index ? store : withoutIndex(store), raws);
  await store.close();
  return rate;
}

/**
 * The machine's speed at the moment, as a yardstick for the absolute rates: µs per sha256d of 64 bytes
 * (node:crypto, as processBlock hashes), median of 5 timings of 20,000. On this shared 2-core machine it
 * moved between 1.9 and 2.9 µs within an hour with the load average near 2, and blocks/s moved with it.
 */
function sha256dMicros(): number {
  const x = new Uint8Array(64).fill(7);
  const times: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    for (let i = 0; i < 20_000; i++) sha256d(x);
    times.push(((performance.now() - t0) * 1000) / 20_000);
  }
  return median(times);
}

/** (d) The witness's cost per block on (a)'s chain; returns the JSON figures. */
async function witnessSection(raws: Uint8Array[], quick: boolean): Promise<Record<string, number>> {
  const PAIRS = quick ? 3 : 5;
  const ROUNDS = quick ? 2 : 3;
  let t = performance.now();
  const cosigs = await peerCosignatures(freshDir(), raws);
  console.log(
    `(d) the peers' cosignatures of ${cosigs.size} checkpoints signed in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );
  const micro = witnessMicro(quick ? 200 : 1000);
  const perBlockUs = micro.signUs + 2 * micro.verifyUs;
  console.log(
    `(d) sign a checkpoint ${micro.signUs.toFixed(1)} µs (node:crypto; @noble ${micro.signNobleUs.toFixed(1)} µs), parse + verify a peer's cosignature ` +
      `${micro.verifyUs.toFixed(1)} µs (node:crypto): ${perBlockUs.toFixed(0)} µs a block with 3 witnesses (1 signed, 2 checked)`,
  );
  t = performance.now();
  await witnessRunBlocksPerSec(freshDir(), raws.slice(0, raws.length / 5), cosigs);
  await witnessRunBlocksPerSec(freshDir(), raws.slice(0, raws.length / 5));
  const on: number[] = [];
  const off: number[] = [];
  const ratios: number[] = [];
  const aa: number[] = [];
  const signed: number[] = [];
  for (let i = 0; i < PAIRS; i++) {
    const first = i % 2 === 0;
    const a = await witnessRunBlocksPerSec(freshDir(), raws, first ? cosigs : undefined);
    const b = await witnessRunBlocksPerSec(freshDir(), raws, first ? undefined : cosigs);
    const [withW, without] = first ? [a, b] : [b, a];
    on.push(withW.blocksPerSec);
    off.push(without.blocksPerSec);
    signed.push(withW.signed);
    ratios.push(withW.blocksPerSec / without.blocksPerSec);
    const x = await witnessRunBlocksPerSec(freshDir(), raws);
    const y = await witnessRunBlocksPerSec(freshDir(), raws);
    aa.push(y.blocksPerSec / x.blocksPerSec);
  }
  console.log(
    `(d) processBlock, whole runs: witness on ${median(on).toFixed(0)} blocks/s, off ${median(off).toFixed(0)} ` +
      `(median of the pairs' on / off ratios ${median(ratios).toFixed(3)}: ${ratios.map((r) => r.toFixed(3)).join(", ")}; ` +
      `A/A off / off ${median(aa).toFixed(3)}: ${aa.map((r) => r.toFixed(3)).join(", ")}); ` +
      `checkpoints signed a run: ${signed.join(", ")} of ${raws.length} blocks`,
  );
  const both: { median: [number, number, number]; mean: [number, number, number] }[] = [];
  for (let r = 0; r < ROUNDS; r++)
    both.push(await interleavedRound([freshDir(), freshDir(), freshDir()], raws, cosigs, r));
  const rounds = both.map((x) => x.median);
  const means = both.map((x) => x.mean);
  const usRatios = rounds.map(([w, o]) => w / o);
  const aaUs = rounds.map(([, o, o2]) => o2 / o);
  const meanRatios = means.map(([w, o]) => w / o);
  const meanAa = means.map(([, o, o2]) => o2 / o);
  const show = (xs: [number, number, number][]): string =>
    xs.map((x) => x.map((v) => v.toFixed(0)).join(" / ")).join("; ");
  console.log(
    `(d) processBlock interleaved block by block, median µs a block per round (on / off / off again): ` +
      `${show(rounds)}; on / off ${median(usRatios).toFixed(3)}, A/A ${median(aaUs).toFixed(3)}; ` +
      `mean µs ${show(means)}; on / off ${median(meanRatios).toFixed(3)}, A/A ${median(meanAa).toFixed(3)} ` +
      `(${((performance.now() - t) / 1000).toFixed(0)} s)`,
  );
  // A sync: processBlocks of 100 blocks a call (one tip event, one signature, per committed run).
  const batched: [number, number, number][] = [];
  for (let r = 0; r < ROUNDS; r++)
    batched.push((await interleavedRound([freshDir(), freshDir(), freshDir()], raws, cosigs, r, 100)).median);
  const batchRatios = batched.map(([w, o]) => w / o);
  const batchAa = batched.map(([, o, o2]) => o2 / o);
  console.log(
    `(d) processBlocks of 100 blocks (a sync), interleaved, median ms a call per round (on / off / off again): ` +
      `${batched.map((x) => x.map((v) => (v / 1000).toFixed(1)).join(" / ")).join("; ")}; on / off ${median(batchRatios).toFixed(3)}, ` +
      `A/A ${median(batchAa).toFixed(3)}`,
  );
  return {
    witnessSyncBatchUsRatio: round(median(batchRatios), 3),
    witnessSyncBatchAaUsRatio: round(median(batchAa), 3),
    witnessSignUs: round(micro.signUs, 1),
    witnessSignNobleUs: round(micro.signNobleUs, 1),
    witnessVerifyUs: round(micro.verifyUs, 1),
    witnessPerBlockUs: round(perBlockUs, 0),
    processBlockWitnessOnBlocksPerSec: Math.round(median(on)),
    processBlockWitnessOffBlocksPerSec: Math.round(median(off)),
    witnessRatio: round(median(ratios), 3),
    witnessAaRatio: round(median(aa), 3),
    witnessSignedPerRun: Math.round(median(signed)),
    witnessInterleavedOnUs: Math.round(median(rounds.map((x) => x[0]))),
    witnessInterleavedOffUs: Math.round(median(rounds.map((x) => x[1]))),
    witnessInterleavedUsRatio: round(median(usRatios), 3),
    witnessInterleavedAaUsRatio: round(median(aaUs), 3),
    witnessInterleavedMeanUsRatio: round(median(meanRatios), 3),
    witnessInterleavedMeanAaUsRatio: round(median(meanAa), 3),
  };
}

async function main(): Promise<void> {
  const quick = process.argv.includes("--quick");
  const N = quick ? 1_000 : 5_000;
  const PAIRS = quick ? 3 : 5;
  const BIG_BLOCKS = quick ? 100 : 1_000;
  const PER_BIG = 1_000;
  const LOOKUPS = 2_000;

  // ---------------------------------------------------------------- (a)
  const speedBefore = sha256dMicros();
  let t = performance.now();
  const raws = buildChain(N, 10, 100).map(encodeBlock);
  console.log(`built ${N} blocks of 10 records in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  if (process.argv.includes("--only-witness")) {
    const figures = await witnessSection(raws, quick);
    if (tempRoot) rmSync(tempRoot, { recursive: true, force: true });
    console.log(JSON.stringify({ ...figures, loadavg1: round(loadavg()[0]!, 2), cores: cpus().length }));
    return;
  }
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
  const speedAfter = sha256dMicros();
  console.log(
    `machine speed: sha256d of 64 bytes ${speedBefore.toFixed(2)} µs before (a), ${speedAfter.toFixed(2)} µs after`,
  );
  console.log(
    `(a) processBlock, 10 records/block: index on ${onMedian.toFixed(0)} blocks/s, off ${offMedian.toFixed(0)} ` +
      `(median of the pairs' ratios ${ratio.toFixed(2)}; runs on ${on.map((x) => x.toFixed(0)).join(", ")}; off ${off.map((x) => x.toFixed(0)).join(", ")})`,
  );

  // ---------------------------------------------------------------- (d) witness
  const witnessFigures = await witnessSection(raws, quick);

  // ---------------------------------------------------------------- (c) build
  t = performance.now();
  let big: Block[] | undefined = buildChain(BIG_BLOCKS, PER_BIG, 40);
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
  // The lookups' ids, chosen now: the million records are then dropped, so the heap the lookups run in
  // is a node's, not one holding the whole chain (whose major collections would land in the p99).
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const picks = Array.from({ length: 5 * LOOKUPS + 300 }, () => {
    const height = BIG_BLOCKS - rand(BIG_BLOCKS);
    const index = 1 + rand(PER_BIG);
    const rec = big![height - 1]!.records[index]!;
    return { id: hashToHex(recordId(rec)), height, index, bytes: encodeRecord(rec).slice() };
  });
  big = undefined;
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
  // Everything compacted, as a store is once its sync is long done: LevelDB's background compactions
  // after the load would otherwise run (and count as this process's CPU) during the lookups.
  await db.compactRange(Uint8Array.of(0), Uint8Array.of(0xff));
  const range = prefixRange(P_RECORD);
  await db.compactRange(range.gte, range.lt);
  const onDisk = await db.approximateSize(range.gte, range.lt);
  const upperRange = prefixRange(P_UPPER);
  await db.compactRange(upperRange.gte, upperRange.lt);
  const upperOnDisk = await db.approximateSize(upperRange.gte, upperRange.lt);
  await db.close();
  const indexRecords = records + params.genesis.records.length;
  const diskBytesPerRecord = onDisk / indexRecords;
  // 'm' is written per block of more than 32 records: key 33 bytes + the nodes; here every big block is alike.
  const upperWrittenPerRecord = (33 + upperTreeSize(PER_BIG + 1)) / (PER_BIG + 1);
  const upperDiskPerRecord = upperOnDisk / indexRecords;
  console.log(
    `(b) index bytes per record: 41 written ('r' key 33 + value 8), 73 more per signed record ('a' key 41 + value 32); ` +
      `on disk after compaction ${diskBytesPerRecord.toFixed(1)} bytes per record ('r' range ${onDisk} bytes); ` +
      `merkle upper levels ('m') ${upperWrittenPerRecord.toFixed(2)} written per record of a ${PER_BIG + 1}-record block ` +
      `(0 for blocks of at most 32), ${upperDiskPerRecord.toFixed(2)} on disk ('m' range ${upperOnDisk} bytes)`,
  );

  // ---------------------------------------------------------------- (c) lookups
  store = await LevelStore.open(dir, params);
  chain = await Chain.open({ params, store, now });
  /** The next random record of the chain (its id hashed outside the timed part: the caller has it). */
  let next = 0;
  const pick = (): (typeof picks)[number] => picks[next++]!;
  const find: number[] = [];
  for (let i = 0; i < LOOKUPS; i++) {
    const p = pick();
    const t0 = performance.now();
    const loc = await chain.findRecord(p.id);
    find.push(performance.now() - t0);
    if (loc?.height !== p.height || loc.index !== p.index) throw new Error("findRecord is wrong");
  }
  // The API's handler and its HTTP route, on the node's own composition of chain and mempool.
  const mempool = new Mempool({ params, isConfirmed: (id) => chain.isRecordConfirmed(id) });
  const backend = recordsBackend(chain, mempool);
  const handler = new RecordsApi(backend);
  // Untimed first calls, as the HTTP loops below have: V8 compiles the path's functions on background
  // threads during its first calls, which a node serving requests has long done.
  for (let i = 0; i < 200; i++) await handler.get(pick().id);
  const handlerMs: number[] = [];
  /** CPU time of the process (every thread) per lookup: the work, without the wait for a busy core. */
  const handlerCpuMs: number[] = [];
  for (let i = 0; i < LOOKUPS; i++) {
    const p = pick();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await handler.get(p.id);
    handlerMs.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    handlerCpuMs.push((c.user + c.system) / 1000);
    if (r.index !== p.index || !r.proof) throw new Error("RecordsApi.get is wrong");
    if (i < 20) {
      const recBytes = p.bytes;
      const ok = verifyRecordProof(r.proof, recBytes, { powLimit: params.powLimit });
      if (!ok.valid) throw new Error(`proof does not verify: ${JSON.stringify(ok)}`);
    }
  }
  const app = await createApiServer({ backend });
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  // Plain fetch (undici, keep-alive) and the body as text: the client's own cost kept small, since it
  // shares this process's one thread with the server. The same loop on GET /api/health gives the floor.
  const get = async (path: string): Promise<string> => {
    const res = await fetch(`${url}${path}`);
    const text = await res.text();
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${text}`);
    return text;
  };
  for (let i = 0; i < 100; i++) await get(`/api/records/${pick().id}`); // the connection, the route's first calls
  const httpMs: number[] = [];
  const floorMs: number[] = [];
  for (let i = 0; i < LOOKUPS; i++) {
    const p = pick();
    let t0 = performance.now();
    const text = await get(`/api/records/${p.id}`);
    httpMs.push(performance.now() - t0);
    t0 = performance.now();
    await get("/api/health");
    floorMs.push(performance.now() - t0);
    if (i < 20) {
      const r = JSON.parse(text) as RecordDetail;
      const recBytes = p.bytes;
      const ok = r.proof && verifyRecordProof(r.proof, recBytes, { powLimit: params.powLimit });
      if (r.index !== p.index || !ok?.valid) throw new Error(`GET /api/records/:id is wrong: ${text}`);
    }
  }
  // The same requests from a client process of its own (the server's thread then does only the server's
  // work), records and /api/health alternating.
  const clientFile = join(tempRoot!, "client.json");
  const ids = Array.from({ length: LOOKUPS }, () => `/api/records/${pick().id}`);
  writeFileSync(
    clientFile,
    JSON.stringify({
      url,
      warmup: ids.slice(0, 100),
      paths: ids.flatMap((p) => [p, "/api/health"]),
    }),
  );
  const out = await new Promise<string>((done, fail) =>
    execFile(
      process.execPath,
      ["--import", "tsx", fileURLToPath(new URL("./http-client.ts", import.meta.url)), clientFile],
      { maxBuffer: 1 << 26 },
      (err, stdout) => (err ? fail(err) : done(stdout)),
    ),
  );
  const { ms: clientMs } = JSON.parse(out.trim().split("\n").at(-1)!) as { ms: number[] };
  const apartMs = clientMs.filter((_, i) => i % 2 === 0);
  const apartFloorMs = clientMs.filter((_, i) => i % 2 === 1);
  // Where a proof's time went before the upper levels were stored (the API's path until then, no cache):
  // the whole block read, decoded, every record re-hashed, the whole tree built. Timed by phase, on the
  // same kind of ids, so the breakdown and the new path come from one run.
  const phases = {
    read: [] as number[],
    decode: [] as number[],
    ids: [] as number[],
    levels: [] as number[],
    proof: [] as number[],
    json: [] as number[],
  };
  const wholeCpuMs: number[] = [];
  for (let i = 0; i < LOOKUPS; i++) {
    const p = pick();
    const loc = (await chain.findRecord(p.id))!;
    const c0 = process.cpuUsage();
    let t0 = performance.now();
    const raw = (await chain.getRawBlock(loc.blockHash))!;
    let t1 = performance.now();
    phases.read.push(t1 - t0);
    const block = decodeBlock(raw);
    t0 = performance.now();
    phases.decode.push(t0 - t1);
    const ids = recordIds(block);
    t1 = performance.now();
    phases.ids.push(t1 - t0);
    const levels = merkleLevels(ids);
    t0 = performance.now();
    phases.levels.push(t0 - t1);
    const miner = encodeRecord(block.records[0]!);
    const proof = buildRecordProof(encodeHeader(block.header), ids, loc.index, miner, levels);
    t1 = performance.now();
    phases.proof.push(t1 - t0);
    JSON.stringify({ proof, record: recordBody(block.records[loc.index]!) });
    phases.json.push(performance.now() - t1);
    const c = process.cpuUsage(c0);
    wholeCpuMs.push((c.user + c.system) / 1000);
  }
  const sum = phases.read.map((_, i) => Object.values(phases).reduce((a, xs) => a + xs[i]!, 0));
  await app.close();
  await chain.close();
  await store.close();
  const ms = (x: number): number => round(x, 3);
  const pp = (xs: number[]): string => `${ms(percentile(xs, 50))} / ${ms(percentile(xs, 99))}`;
  console.log(
    `(c) the whole-block path (before 'm'), p50 / p99 ms: block read ${pp(phases.read)}, decodeBlock ${pp(phases.decode)}, ` +
      `recordIds ${pp(phases.ids)}, merkleLevels ${pp(phases.levels)}, buildRecordProof ${pp(phases.proof)}, JSON ${pp(phases.json)}; ` +
      `together ${pp(sum)} (plus findRecord; CPU ${pp(wholeCpuMs)})`,
  );
  console.log(
    `(c) on ${records} records, any record: findRecord p50 ${ms(percentile(find, 50))} ms, p99 ${ms(percentile(find, 99))} ms; ` +
      `RecordsApi.get with proof p50 ${ms(percentile(handlerMs, 50))} / p99 ${ms(percentile(handlerMs, 99))} ms ` +
      `(CPU ${ms(percentile(handlerCpuMs, 50))} / ${ms(percentile(handlerCpuMs, 99))} ms); ` +
      `over HTTP p50 ${ms(percentile(httpMs, 50))} / p99 ${ms(percentile(httpMs, 99))} ms (target p99 < 5 ms; ` +
      `GET /api/health on the same connection p50 ${ms(percentile(floorMs, 50))} / p99 ${ms(percentile(floorMs, 99))} ms); ` +
      `from a client process: p50 ${ms(percentile(apartMs, 50))} / p99 ${ms(percentile(apartMs, 99))} ms ` +
      `(/api/health ${ms(percentile(apartFloorMs, 50))} / ${ms(percentile(apartFloorMs, 99))} ms)`,
  );
  if (tempRoot) rmSync(tempRoot, { recursive: true, force: true });
  console.log(
    JSON.stringify({
      processBlockRecordsIndexOnBlocksPerSec: Math.round(onMedian),
      processBlockRecordsIndexOffBlocksPerSec: Math.round(offMedian),
      recordIndexRatio: round(ratio, 3),
      machineSha256dUsBefore: round(speedBefore, 2),
      machineSha256dUsAfter: round(speedAfter, 2),
      indexBytesPerRecord: 41,
      indexBytesPerSignedRecord: 41 + 73,
      indexDiskBytesPerRecord: round(diskBytesPerRecord, 1),
      upperTreeBytesPerRecord: round(upperWrittenPerRecord, 2),
      upperTreeDiskBytesPerRecord: round(upperDiskPerRecord, 2),
      chainRecords: records,
      findRecordP50Ms: ms(percentile(find, 50)),
      findRecordP99Ms: ms(percentile(find, 99)),
      wholeBlockReadP50Ms: ms(percentile(phases.read, 50)),
      wholeBlockDecodeP50Ms: ms(percentile(phases.decode, 50)),
      wholeBlockRecordIdsP50Ms: ms(percentile(phases.ids, 50)),
      wholeBlockMerkleLevelsP50Ms: ms(percentile(phases.levels, 50)),
      wholeBlockProofJsonP50Ms: ms(percentile(phases.proof, 50) + percentile(phases.json, 50)),
      wholeBlockP50Ms: ms(percentile(sum, 50)),
      wholeBlockP99Ms: ms(percentile(sum, 99)),
      wholeBlockCpuP50Ms: ms(percentile(wholeCpuMs, 50)),
      wholeBlockCpuP99Ms: ms(percentile(wholeCpuMs, 99)),
      getRecordHandlerP50Ms: ms(percentile(handlerMs, 50)),
      getRecordHandlerP99Ms: ms(percentile(handlerMs, 99)),
      getRecordHandlerCpuP50Ms: ms(percentile(handlerCpuMs, 50)),
      getRecordHandlerCpuP99Ms: ms(percentile(handlerCpuMs, 99)),
      getRecordHttpP50Ms: ms(percentile(httpMs, 50)),
      getRecordHttpP99Ms: ms(percentile(httpMs, 99)),
      httpHealthP50Ms: ms(percentile(floorMs, 50)),
      httpHealthP99Ms: ms(percentile(floorMs, 99)),
      getRecordHttpClientProcessP50Ms: ms(percentile(apartMs, 50)),
      getRecordHttpClientProcessP99Ms: ms(percentile(apartMs, 99)),
      httpHealthClientProcessP50Ms: ms(percentile(apartFloorMs, 50)),
      httpHealthClientProcessP99Ms: ms(percentile(apartFloorMs, 99)),
      ...witnessFigures,
      loadavg1: round(loadavg()[0]!, 2),
      cores: cpus().length,
    }),
  );
}

await main();
