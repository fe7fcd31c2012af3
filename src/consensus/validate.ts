import type { Block } from "./block.ts";
import { bytesEqual, DecodeError, toHex, varIntSize } from "./bytes.ts";
import { bitsToTarget, decodeBits } from "./compact.ts";
import { BlockError } from "./errors.ts";
import { sha256d } from "./hash.ts";
import { type BlockHeader, HEADER_SIZE, hashToBigInt, hashToHex } from "./header.ts";
import { merkleSteps } from "./merkle.ts";
import type { NetworkParams } from "./params.ts";
import { type BlockRecord, encodeRecord, FORBIDDEN_RECORD_SIZE, verifyRecordSignature } from "./records.ts";
import type { SignatureCache } from "./sigcache.ts";
import { runSteps, STEP_UNITS, type Steps } from "./steps.ts";

/**
 * Block rules in three groups, run by the chain in this order (see docs/consensus.md):
 *  1. checkBlockSanity: context-free (needs only the block, params and the clock);
 *  2. checkBlockContext: needs the parent (height, expected bits, median time past, checkpoints);
 *  3. checkBlockRecords: the expensive per-record checks (signatures), run when the block is connected
 *     to the main chain, as Bitcoin defers script checks to ConnectBlock.
 * All are pure: time and params are arguments, and each throws a BlockError on the first broken rule.
 */

/** What sanity checks learn about a block, reused by later steps. */
export interface BlockFacts {
  /** Internal-order hash bytes. */
  hash: Uint8Array;
  /** Display hash. */
  hashHex: string;
  size: number;
  /** Record ids in block order (internal byte order), when sanity computed them. */
  ids?: Uint8Array[];
  /**
   * The merkle tree's upper levels (`computeMerkleRoot(ids, true).upper`), for a block of more than
   * UPPER_TREE_SPAN records: the store keeps them beside the body, for proofs.
   */
  upper?: Uint8Array;
}

/**
 * The header's own proof of work: `bits` encode a valid target within the proof-of-work limit (`BAD_TARGET`)
 * and the hash is at most that target (`HIGH_HASH`). Needs nothing but the header, so the chain runs it
 * before it spends anything on a block's body.
 */
export function checkHeaderWork(
  header: BlockHeader,
  hash: Uint8Array,
  hashHex: string,
  params: NetworkParams,
): void {
  const target = bitsToTarget(header.bits, params.powLimit);
  if (target === null) {
    const decoded = decodeBits(header.bits);
    const reason = decoded.negative
      ? "encode a negative target"
      : decoded.overflow
        ? "overflow 256 bits"
        : decoded.target === 0n
          ? "encode a zero target"
          : "are easier than the proof-of-work limit";
    throw new BlockError({ code: "BAD_TARGET", bits: header.bits, reason }, hashHex);
  }
  if (hashToBigInt(hash) > target) {
    throw new BlockError(
      { code: "HIGH_HASH", hash: hashHex, target: target.toString(16).padStart(64, "0") },
      hashHex,
    );
  }
}

/** The future-time rule: `time ≤ now + maxFutureDrift` (`TIME_TOO_NEW`, not the sender's fault). */
export function checkHeaderTime(
  header: BlockHeader,
  hashHex: string,
  params: NetworkParams,
  now: number,
): void {
  if (header.time > now + params.maxFutureDrift) {
    throw new BlockError(
      { code: "TIME_TOO_NEW", time: header.time, now, maxDrift: params.maxFutureDrift },
      hashHex,
    );
  }
}

/**
 * Context-free checks, cheapest first so junk costs little: proof of work, record count, record field
 * bounds, size, record size and the 64-byte rule, merkle root and mutation, then the miner-record rules and
 * the future-time rule (once the header is known to commit to these records). `size` is the serialized size
 * when the caller has the bytes.
 */
export function checkBlockSanity(
  block: Block,
  hash: Uint8Array,
  params: NetworkParams,
  now: number,
  size?: number,
): BlockFacts {
  return runSteps(blockSanitySteps(block, hash, params, now, size));
}

/** checkBlockSanity in steps (steps.ts): a yield every STEP_UNITS records encoded or hashed. */
export function* blockSanitySteps(
  block: Block,
  hash: Uint8Array,
  params: NetworkParams,
  now: number,
  size?: number,
): Steps<BlockFacts> {
  const hashHex = hashToHex(hash);
  const { header, records } = block;

  checkHeaderWork(header, hash, hashHex, params);
  if (records.length > params.maxBlockRecords) {
    throw new BlockError(
      { code: "BAD_SIZE", size: records.length, max: params.maxBlockRecords, what: "records" },
      hashHex,
    );
  }
  // Each record is encoded once: the bytes give the block size and the ids. A field out of bounds
  // (only possible in a block built locally: decoded ones are in bounds) is a BAD_RECORD, not a crash.
  // The loops run a run of STEP_UNITS records at a time in plain functions (a loop inside a generator
  // is slower in V8), with a yield between runs.
  const n = records.length;
  const encoded: Uint8Array[] = new Array(n);
  for (let from = 0; from < n; from += STEP_UNITS) {
    if (from > 0) yield;
    encodeRun(records, encoded, from, Math.min(n, from + STEP_UNITS), hashHex);
  }
  let blockSize = size ?? HEADER_SIZE + varIntSize(n);
  if (size === undefined) for (const bytes of encoded) blockSize += bytes.length;
  if (blockSize > params.maxBlockSize) {
    throw new BlockError(
      { code: "BAD_SIZE", size: blockSize, max: params.maxBlockSize, what: "block" },
      hashHex,
    );
  }
  const ids: Uint8Array[] = new Array(n);
  for (let from = 0; from < n; from += STEP_UNITS) {
    if (from > 0) yield;
    idRun(encoded, ids, from, Math.min(n, from + STEP_UNITS), params.maxRecordSize, hashHex);
  }
  if (n > STEP_UNITS) yield;
  const merkle = yield* merkleSteps(ids, true);
  if (!bytesEqual(merkle.root, header.merkleRoot)) {
    throw new BlockError(
      { code: "BAD_MERKLE_ROOT", expected: hashToHex(merkle.root), actual: hashToHex(header.merkleRoot) },
      hashHex,
    );
  }
  if (merkle.mutated)
    throw new BlockError({ code: "MUTATED", reason: "duplicate hashes paired in the merkle tree" }, hashHex);
  // Identical records anywhere in the list (not only adjacent) are refused too: ids must be unique.
  if (n > STEP_UNITS) yield;
  const seen = new Set<string>();
  for (const b of ids) {
    const k = toHex(b);
    if (seen.has(k)) throw new BlockError({ code: "MUTATED", reason: "duplicate record" }, hashHex);
    seen.add(k);
  }
  // Only now is the record list known to be the one the header commits to: the root matches, nothing is
  // mutated and no record is 64 bytes, so no other list hashes to this root. Checked earlier, a relay that
  // moved or dropped the miner record of a valid block would get its hash cached as invalid.
  checkMinerRecord(records, hashHex);
  // Last here, so a failure above is never mistaken for "early". (The chain checks the time from the header
  // alone before it reads a body: a block that is early is held as bytes, per sender, docs/protocol.md.)
  checkHeaderTime(header, hashHex, params, now);
  return merkle.upper
    ? { hash, hashHex, size: blockSize, ids, upper: merkle.upper }
    : { hash, hashHex, size: blockSize, ids };
}

/** The miner-record rules: the first record is the miner record, and no other is (BAD_MINER_RECORD). */
function checkMinerRecord(records: readonly BlockRecord[], hashHex: string): void {
  if (records.length === 0 || records[0]!.type !== "miner") {
    throw new BlockError(
      { code: "BAD_MINER_RECORD", index: 0, reason: "first record must be the miner record" },
      hashHex,
    );
  }
  for (let i = 1; i < records.length; i++) {
    if (records[i]!.type === "miner") {
      throw new BlockError(
        { code: "BAD_MINER_RECORD", index: i, reason: "only the first record may be a miner record" },
        hashHex,
      );
    }
  }
}

/** Encodes records [from, to) into `encoded`; a field out of bounds is BAD_RECORD. */
function encodeRun(
  records: readonly BlockRecord[],
  encoded: Uint8Array[],
  from: number,
  to: number,
  hashHex: string,
): void {
  for (let i = from; i < to; i++) {
    try {
      encoded[i] = encodeRecord(records[i]!);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      throw new BlockError({ code: "BAD_RECORD", index: i, reason: err.message }, hashHex);
    }
  }
}

/** The ids of encoded records [from, to), after their size rules (BAD_RECORD, RECORD_64_BYTES). */
function idRun(
  encoded: readonly Uint8Array[],
  ids: Uint8Array[],
  from: number,
  to: number,
  maxRecordSize: number,
  hashHex: string,
): void {
  for (let i = from; i < to; i++) {
    const bytes = encoded[i]!;
    if (bytes.length > maxRecordSize) {
      throw new BlockError(
        { code: "BAD_RECORD", index: i, reason: `size ${bytes.length} exceeds ${maxRecordSize}` },
        hashHex,
      );
    }
    // Before the merkle root, and not cacheable: a forged body of inner nodes is refused here, so no
    // failure found later can have been caused by a body other than the one the header commits to.
    if (bytes.length === FORBIDDEN_RECORD_SIZE)
      throw new BlockError({ code: "RECORD_64_BYTES", index: i }, hashHex);
    ids[i] = sha256d(bytes);
  }
}

/** Facts about the parent that contextual checks need. */
export interface BlockContext {
  /** Height the block would have. */
  height: number;
  /** Bits the difficulty algorithm requires at that height. */
  expectedBits: number;
  /** Median time of the previous 11 blocks. */
  medianTimePast: number;
}

/** Checks that need the parent: difficulty, median time past, miner record height, checkpoints. */
export function checkBlockContext(
  block: Block,
  facts: BlockFacts,
  ctx: BlockContext,
  params: NetworkParams,
): void {
  checkHeaderContext(block.header, facts.hashHex, ctx, params);
  const miner = block.records[0]!;
  if (miner.type === "miner" && miner.height !== ctx.height) {
    throw new BlockError({ code: "BAD_HEIGHT", height: miner.height, expected: ctx.height }, facts.hashHex);
  }
}

/**
 * The header's part of the context checks: bits (`BAD_BITS`), median time past (`TIME_TOO_OLD`) and the
 * checkpoint hash (`CHECKPOINT_MISMATCH`). What the chain can know of a block's place before its body.
 */
export function checkHeaderContext(
  header: BlockHeader,
  hashHex: string,
  ctx: BlockContext,
  params: NetworkParams,
): void {
  if (header.bits !== ctx.expectedBits) {
    throw new BlockError({ code: "BAD_BITS", bits: header.bits, expected: ctx.expectedBits }, hashHex);
  }
  if (header.time <= ctx.medianTimePast) {
    throw new BlockError(
      { code: "TIME_TOO_OLD", time: header.time, medianTimePast: ctx.medianTimePast },
      hashHex,
    );
  }
  const checkpoint = params.checkpoints.get(ctx.height);
  if (checkpoint !== undefined && checkpoint !== hashHex) {
    throw new BlockError(
      { code: "CHECKPOINT_MISMATCH", height: ctx.height, hash: hashHex, expected: checkpoint },
      hashHex,
    );
  }
}

/**
 * Where a record id is already confirmed in the block's ancestry: the display hash of that block, or
 * undefined. The chain answers it from its record-id index with an overlay for the branch it connects.
 */
export type ConfirmedIn = (id: Uint8Array, index: number) => string | undefined;

/**
 * The exactly-once rule (as BIP 30 for transactions): a record id may appear at most once in a chain, so a
 * block carrying a record already confirmed in its ancestry is invalid. The miner record (index 0) is not
 * asked about: it holds the block's height, so no ancestor can carry the same bytes. Repeats inside one
 * block are MUTATED (sanity).
 */
export function checkRecordsUnique(
  hashHex: string,
  ids: readonly Uint8Array[],
  confirmedIn: ConfirmedIn,
): void {
  runSteps(recordsUniqueSteps(hashHex, ids, confirmedIn));
}

/** checkRecordsUnique in steps (steps.ts). */
export function* recordsUniqueSteps(
  hashHex: string,
  ids: readonly Uint8Array[],
  confirmedIn: ConfirmedIn,
): Steps<void> {
  for (let i = 1; i < ids.length; i++) {
    if (i % STEP_UNITS === 0) yield;
    const id = ids[i]!;
    const at = confirmedIn(id, i);
    if (at !== undefined) {
      throw new BlockError(
        { code: "DUPLICATE_RECORD", index: i, id: hashToHex(id), confirmedIn: at },
        hashHex,
      );
    }
  }
}

/**
 * Signatures verified before (sigcache.ts), with the block's record ids (internal order, from sanity) to
 * look them up: a record whose id is in the cache is not verified again.
 */
export interface VerifiedSignatures {
  cache: SignatureCache;
  ids: readonly Uint8Array[];
}

/**
 * The expensive checks, deferred until the block joins the main chain: record signatures. `verified`: the
 * signatures already known good (a record the mempool admitted), skipped; the verdict is the same.
 */
export function checkBlockRecords(block: Block, hashHex: string, verified?: VerifiedSignatures): void {
  runSteps(blockRecordsSteps(block, hashHex, verified));
}

/** Signatures verified between two yields of blockRecordsSteps (about 30-300 µs each here). */
const SIGNATURES_PER_STEP = 16;

/** checkBlockRecords in steps (steps.ts): a yield every SIGNATURES_PER_STEP signatures verified. */
export function* blockRecordsSteps(
  block: Block,
  hashHex: string,
  verified?: VerifiedSignatures,
): Steps<void> {
  const records = block.records;
  let checked = 0;
  for (let i = 1; i < records.length; i++) {
    const rec = records[i]!;
    if (rec.type !== "signed") continue;
    const id = verified?.ids[i];
    if (id && verified.cache.take(id)) continue;
    if (!verifyRecordSignature(rec)) throw new BlockError({ code: "BAD_SIGNATURE", index: i }, hashHex);
    if (++checked % SIGNATURES_PER_STEP === 0) yield;
  }
}
