/**
 * Mempool and proof benchmark, in process (no HTTP, no LevelDB index yet): what the one admission path
 * sustains, what a template's `take` and the mempool file cost, and what building and checking a record
 * proof costs. The HTTP targets (20,000 unsigned and 5,000 signed records/s in batches of 1,000)
 * need the API; these figures are the ceiling the mempool puts under them.
 *
 *   npm run bench:mempool               # full run (~30 s on 2 cores)
 *   npm run bench:mempool -- --quick    # smaller sizes, to check the script itself
 *
 * (a) admission: 10,000 unsigned data records of 100 bytes, and 5,000 signed ones, given as bytes (what
 *     gossip delivers), admitted one after another into a fresh pool; `isConfirmed` is an in-memory Set
 *     (the LevelDB index lookup comes with the integration). Median of 5 runs.
 * (b) take: `take(1,000,000 - 200)` from a pool of 100,000 records of 100 bytes. Median of 20.
 * (c) file: `save` (encode, write, fsync, rename) and `load` (read, checksum, re-admit every record) of a
 *     pool of 64 MiB of 1,000-byte records, in a temp dir. Median of 3.
 * (d) proofs: `merkleLevels` + `buildRecordProof` for one position of a full 1 MB block of 100-byte
 *     records (about 9,000), and `verifyRecordProof` of that proof. Median of 5 and of 1,000.
 *
 * The last line printed is one JSON object with the figures, the 1-minute load average when the run ended
 * and the number of cores.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { recordIds } from "../src/consensus/block.ts";
import { bitsToTarget } from "../src/consensus/compact.ts";
import { encodeHeader, hashToBigInt, headerHashBytes } from "../src/consensus/header.ts";
import { regtest } from "../src/consensus/params.ts";
import { buildRecordProof, merkleLevels, verifyRecordProof } from "../src/consensus/proof.ts";
import { type BlockRecord, encodeRecord, signRecord } from "../src/consensus/records.ts";
import { buildBlock } from "../src/consensus/template.ts";
import { Mempool, mempoolFile } from "../src/mempool/index.ts";
import { useNativeCrypto } from "../src/node/crypto.ts";
import { median } from "./stats.ts";

// As a node does: signatures and ids through OpenSSL (consensus defaults to pure JS for the browser).
useNativeCrypto();
const quick = process.argv.includes("--quick");
const scale = quick ? 10 : 1;
const round = (x: number, d = 2) => Number(x.toFixed(d));

function dataRecord(i: number, size: number): BlockRecord {
  const data = new Uint8Array(size);
  new DataView(data.buffer).setUint32(0, i, true);
  return { type: "data", data };
}

const confirmed = new Set<string>();
const pool = (opts: { file?: string; maxBytes?: number; maxCount?: number } = {}) =>
  new Mempool({ params: regtest, isConfirmed: (id) => confirmed.has(id), ...opts });

async function admissionRate(records: Uint8Array[]): Promise<number> {
  const rates: number[] = [];
  for (let run = 0; run < 5; run++) {
    const mp = pool();
    const t0 = performance.now();
    for (const bytes of records) {
      const r = await mp.admit(bytes, { kind: "peer", peer: "bench" });
      if (!r.ok) throw r.error;
    }
    rates.push(records.length / ((performance.now() - t0) / 1000));
  }
  return median(rates);
}

const unsigned = Array.from({ length: 10_000 / scale }, (_, i) => encodeRecord(dataRecord(i, 100)).slice());
const seed = new Uint8Array(32).fill(9);
// Distinct signed records: the data differs in its first four bytes.
const signed: Uint8Array[] = [];
for (let i = 0; i < 5_000 / scale; i++) {
  const data = new Uint8Array(100);
  new DataView(data.buffer).setUint32(0, i, true);
  signed.push(encodeRecord(signRecord(data, seed)).slice());
}
const unsignedPerS = await admissionRate(unsigned);
const signedPerS = await admissionRate(signed);

// (b) take
const big = pool({ maxCount: 1_000_000 });
for (let i = 0; i < 100_000 / scale; i++) await big.admit(dataRecord(i, 100), { kind: "api" });
const takeMs: number[] = [];
let taken = 0;
for (let i = 0; i < 20; i++) {
  const t0 = performance.now();
  taken = big.take(1_000_000 - 200).length;
  takeMs.push(performance.now() - t0);
}

// (c) file
const dir = mkdtempSync(join(tmpdir(), "jbc-bench-mempool-"));
const saveMs: number[] = [];
const loadMs: number[] = [];
let fileRecords = 0;
try {
  const file = mempoolFile(dir);
  const full = pool({ file });
  for (let i = 0; full.bytes + 1003 <= full.maxBytes / scale; i++)
    await full.admit(dataRecord(i, 1000), { kind: "api" });
  fileRecords = full.size;
  for (let run = 0; run < 3; run++) {
    let t0 = performance.now();
    await full.save();
    saveMs.push(performance.now() - t0);
    const back = pool({ file });
    t0 = performance.now();
    const r = await back.load();
    loadMs.push(performance.now() - t0);
    if (r.status !== "ok" || r.loaded !== fileRecords) throw new Error(`load: ${JSON.stringify(r)}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// (d) proofs
const records: BlockRecord[] = [];
for (let size = 120, i = 0; size + 103 < 1_000_000; i++, size += 103) records.push(dataRecord(i, 100));
let block = buildBlock({
  prevHash: new Uint8Array(32),
  height: 1,
  bits: 0x207fffff,
  time: 0,
  miner: "b",
  records,
});
while (hashToBigInt(headerHashBytes(block.header)) > bitsToTarget(block.header.bits)!)
  block = { ...block, header: { ...block.header, nonce: block.header.nonce + 1 } };
const header = encodeHeader(block.header);
const ids = recordIds(block);
const buildMs: number[] = [];
const minerBytes = encodeRecord(block.records[0]!);
let proof = buildRecordProof(header, ids, 0, minerBytes);
for (let run = 0; run < 5; run++) {
  const t0 = performance.now();
  proof = buildRecordProof(header, ids, ids.length - 1, minerBytes, merkleLevels(ids));
  buildMs.push(performance.now() - t0);
}
const last = encodeRecord(block.records.at(-1)!).slice();
const verifyUs: number[] = [];
for (let run = 0; run < 1000 / scale; run++) {
  const t0 = performance.now();
  const r = verifyRecordProof(proof, last);
  if (!r.valid) throw new Error(`proof: ${r.reason}`);
  verifyUs.push((performance.now() - t0) * 1000);
}

console.log(
  JSON.stringify({
    bench: "mempool",
    quick,
    mempool_admit_unsigned_per_s: Math.round(unsignedPerS),
    mempool_admit_signed_per_s: Math.round(signedPerS),
    mempool_take_1mb_ms: round(median(takeMs), 3),
    mempool_take_records: taken,
    mempool_save_64mib_ms: round(median(saveMs), 1),
    mempool_load_64mib_ms: round(median(loadMs), 1),
    mempool_file_records: fileRecords,
    proof_build_full_block_ms: round(median(buildMs), 1),
    proof_block_records: ids.length,
    proof_branch_length: proof.branch.length,
    proof_verify_us: round(median(verifyUs), 1),
    loadAverage: round(loadavg()[0]!),
    cores: availableParallelism(),
  }),
);
