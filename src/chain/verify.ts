import { type Block, decodeBlock, MAX_BLOCK_SIZE, recordIds } from "../consensus/block.ts";
import { bytesEqual, DecodeError, Reader } from "../consensus/bytes.ts";
import { blockWork } from "../consensus/compact.ts";
import { type AsertAnchor, anchorFromBlockOne, requiredBits } from "../consensus/difficulty.ts";
import { encodeHeader, HEADER_SIZE, hashToHex, headerHashBytes } from "../consensus/header.ts";
import { computeMerkleRoot, UPPER_TREE_SPAN, upperTreeSize } from "../consensus/merkle.ts";
import type { NetworkParams } from "../consensus/params.ts";
import { readRecord } from "../consensus/records.ts";
import { MEDIAN_TIME_SPAN, medianTimePast } from "../consensus/time.ts";
import { errorMessage } from "../util/errors.ts";
import { checkBlock, type Position } from "./connect.ts";
import { type ChainStore, indexedRecords, type StoredEntry, StoreError } from "./store.ts";

export interface VerifyResult {
  ok: boolean;
  /** Height of the stored tip (-1 when there is none). */
  height: number;
  tip: string | undefined;
  /** Main-chain blocks fully re-checked. */
  checked: number;
  /** Entries in the block index (main and side). */
  entries: number;
  /** One line per problem found, naming the block or key. */
  problems: string[];
}

export interface VerifyOptions {
  /** Called every `progressEvery` blocks and at the end with (blocks checked, main-chain length). */
  onProgress?: (done: number, total: number) => void;
  progressEvery?: number;
  /** Stop collecting after this many problems (default 100). */
  maxProblems?: number;
}

const BATCH = 500;

/**
 * Re-checks the whole stored chain from genesis, trusting nothing in the store: every main-chain body is
 * decoded and hashed, and must match its index entry and height record; proof of work, merkle root,
 * difficulty (recomputed along the chain), median time past, heights and record signatures are checked
 * again; cumulative work is recomputed; every block-tree entry must hash to its key, have its parent and a
 * body that matches it (header, size, record count and miner), and the merkle upper levels its record count
 * calls for, equal to the tree of its records.
 * Reads only; never changes the store.
 */
export async function verifyChain(
  store: ChainStore,
  params: NetworkParams,
  opts: VerifyOptions = {},
): Promise<VerifyResult> {
  try {
    return await verifyAll(store, params, opts);
  } catch (err) {
    // The store itself refused to read (LevelDB corruption, unreadable entry): that is a finding too.
    if (!(err instanceof StoreError)) throw err;
    return { ok: false, height: -1, tip: undefined, checked: 0, entries: 0, problems: [err.message] };
  }
}

function sameUpper(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a === undefined || b === undefined ? a === b : bytesEqual(a, b);
}

/** A body's record count and miner name, read without decoding the other records; undefined if malformed. */
function bodySummary(raw: Uint8Array): { recordCount: number; miner: string } | undefined {
  try {
    const r = new Reader(raw);
    r.pos = HEADER_SIZE;
    const recordCount = r.varint(Math.floor(MAX_BLOCK_SIZE / 2), "record count");
    const first = recordCount > 0 ? readRecord(r) : undefined;
    return { recordCount, miner: first?.type === "miner" ? first.miner : "" };
  } catch (err) {
    if (err instanceof DecodeError) return undefined;
    throw err;
  }
}

async function verifyAll(
  store: ChainStore,
  params: NetworkParams,
  opts: VerifyOptions,
): Promise<VerifyResult> {
  const problems: string[] = [];
  const max = opts.maxProblems ?? 100;
  const problem = (p: string): void => {
    if (problems.length < max) problems.push(p);
  };

  const stored = await store.loadEntries();
  const byHash = new Map<string, StoredEntry>();
  for (const e of stored) byHash.set(hashToHex(e.hash), e);

  // Index consistency: parents, work, bodies for every entry (main and side).
  const seqs = new Set<number>();
  for (const [hash, e] of byHash) {
    const parentHash = hashToHex(e.header.prevHash);
    // LevelDB does not checksum what it reads back: a damaged entry must not pass for a good one.
    const headerHash = hashToHex(headerHashBytes(e.header));
    if (headerHash !== hash) problem(`entry ${hash}: its stored header hashes to ${headerHash}`);
    if (seqs.has(e.seq)) problem(`entry ${hash}: arrival number ${e.seq} is not unique`);
    seqs.add(e.seq);
    if (e.height === 0) {
      if (hash !== params.genesisHash) problem(`entry ${hash} claims height 0 but is not the genesis block`);
      continue;
    }
    const p = byHash.get(parentHash);
    if (!p) {
      problem(`entry ${hash} (height ${e.height}): parent ${parentHash} missing from the index`);
      continue;
    }
    if (p.height + 1 !== e.height) problem(`entry ${hash}: height ${e.height} but parent height ${p.height}`);
    if (p.chainWork + blockWork(e.header.bits) !== e.chainWork)
      problem(`entry ${hash}: cumulative work is wrong`);
    if (e.seq <= p.seq) problem(`entry ${hash}: arrival number ${e.seq} is not after its parent's`);
    if (
      (p.status === "invalid" || p.status === "invalid-child") &&
      e.status !== "invalid" &&
      e.status !== "invalid-child"
    ) {
      problem(`entry ${hash}: descends from invalid ${parentHash} but is marked ${e.status}`);
    }
  }
  const all = [...byHash.values()];
  /** Blocks off the main chain with upper levels: their contents are checked after the main chain's. */
  const sideUppers: StoredEntry[] = [];
  for (let i = 0; i < all.length; i += BATCH) {
    const part = all.slice(i, i + BATCH);
    const bodies = await store.getBlocks(part.map((e) => e.hash));
    const uppers = await store.getUpperTrees(part.map((e) => e.hash));
    bodies.forEach((b, j) => {
      const e = part[j]!;
      // Present exactly for the blocks of more than UPPER_TREE_SPAN records, of the size their count gives;
      // the contents are compared with the recomputed tree below.
      const upper = uppers[j];
      if ((upper?.length ?? 0) !== upperTreeSize(e.recordCount))
        problem(
          `block ${hashToHex(e.hash)}: merkle upper levels ${upper ? `of ${upper.length} bytes` : "missing"}, ${e.recordCount} records need ${upperTreeSize(e.recordCount)}`,
        );
      else if (upper && e.status !== "valid") sideUppers.push(e);
      if (!b) problem(`block body ${hashToHex(e.hash)} missing`);
      else if (b.length !== e.size || !bytesEqual(b.subarray(0, HEADER_SIZE), encodeHeader(e.header))) {
        problem(`block body ${hashToHex(e.hash)} does not match its index entry (header or size)`);
      } else {
        // The explorer and the API show these from the index without reading bodies: check them everywhere.
        const found = bodySummary(b);
        if (!found) problem(`block body ${hashToHex(e.hash)} does not decode`);
        else if (found.recordCount !== e.recordCount || found.miner !== e.miner)
          problem(`entry ${hashToHex(e.hash)}: its record count or miner does not match its body`);
      }
    });
  }

  const tipBytes = await store.getTip();
  if (!tipBytes) {
    problem("no tip record");
    return { ok: false, height: -1, tip: undefined, checked: 0, entries: byHash.size, problems };
  }
  const tipHash = hashToHex(tipBytes);
  const tip = byHash.get(tipHash);
  if (!tip) {
    problem(`tip ${tipHash} is not in the block index`);
    return { ok: false, height: -1, tip: tipHash, checked: 0, entries: byHash.size, problems };
  }

  // Main chain, genesis to tip, through the height index.
  const total = tip.height + 1;
  let checked = 0;
  let prev: StoredEntry | undefined;
  let chainWork = 0n;
  /** Times of the last 11 main-chain blocks checked, oldest first. */
  const times: number[] = [];
  let anchor: AsertAnchor | undefined;
  /** Main-chain records and signed records seen, to compare with the number of index keys. */
  let records = 0;
  let signed = 0;
  /** Entries checked as main-chain blocks (their upper levels compared there). */
  const onMain = new Set<StoredEntry>();
  const every = opts.progressEvery ?? 1000;
  for (let from = 0; from < total; from += BATCH) {
    const heights = Array.from({ length: Math.min(BATCH, total - from) }, (_, i) => from + i);
    const mainHashes = await Promise.all(heights.map((h) => store.getMainHash(h)));
    const bodies = await store.getBlocks(mainHashes.map((h) => h ?? new Uint8Array(32)));
    const uppers = await store.getUpperTrees(mainHashes.map((h) => h ?? new Uint8Array(32)));
    for (let i = 0; i < heights.length; i++) {
      const height = heights[i]!;
      const key = mainHashes[i];
      if (!key) {
        problem(`height index has no block at height ${height}`);
        return done();
      }
      const hash = hashToHex(key);
      const e = byHash.get(hash);
      const raw = bodies[i];
      if (!e) problem(`main-chain block ${hash} (height ${height}) has no index entry`);
      if (!raw) {
        problem(`main-chain block ${hash} (height ${height}) body missing`);
        return done();
      }
      let block: Block;
      try {
        block = decodeBlock(raw);
      } catch (err) {
        problem(`main-chain block ${hash} (height ${height}) does not decode: ${errorMessage(err)}`);
        return done();
      }
      const actual = headerHashBytes(block.header);
      if (hashToHex(actual) !== hash)
        problem(`block stored under ${hash} (height ${height}) hashes to ${hashToHex(actual)}`);
      if (e && e.height !== height)
        problem(`block ${hash} indexed at height ${height} but its entry says ${e.height}`);
      if (e && e.status !== "valid")
        problem(`main-chain block ${hash} (height ${height}) has status ${e.status}`);
      if (prev && hashToHex(block.header.prevHash) !== hashToHex(prev.hash)) {
        problem(`block ${hash} (height ${height}) does not build on the main-chain block below it`);
      }
      chainWork += blockWork(block.header.bits);
      if (e && e.chainWork !== chainWork)
        problem(`block ${hash} (height ${height}): stored cumulative work is wrong`);
      // The parent is the main-chain block checked just before (its own problems are reported there).
      const at: Position =
        height === 0
          ? "genesis"
          : {
              parent: {
                hash: hashToHex(block.header.prevHash),
                height: height - 1,
                invalid: false,
                childContext: () => ({
                  expectedBits: requiredBits(params, height - 1, times[times.length - 1]!, () => anchor!),
                  medianTimePast: medianTimePast(times),
                }),
              },
            };
      // The record index: every record at its own place, every signed one under its author.
      const ids = recordIds(block);
      const rows = indexedRecords(block, height, ids);
      const places = await store.getRecordPlaces(ids);
      const authored = rows.filter((r) => r.author !== undefined) as Array<
        (typeof rows)[number] & { author: Uint8Array }
      >;
      const authorIds = await store.getAuthorIds(authored);
      records += rows.length;
      signed += authored.length;
      places.forEach((p, index) => {
        if (!p || p.height !== height || p.index !== index) {
          const where = p
            ? `indexed at height ${p.height}, position ${p.index}`
            : "missing from the record index";
          problem(
            `record ${hashToHex(ids[index]!)} (block ${hash}, height ${height}, position ${index}) is ${where}`,
          );
        }
      });
      authored.forEach((r, i) => {
        const got = authorIds[i];
        if (!got || !bytesEqual(got, r.id))
          problem(
            `record ${hashToHex(r.id)} (block ${hash}, height ${height}, position ${r.index}) is missing from the author index`,
          );
      });
      try {
        const facts = checkBlock(block, actual, params, at, {
          now: Number.MAX_SAFE_INTEGER,
          size: raw.length,
          // A record the index places lower in the chain is a repeat (one placed elsewhere is reported above).
          confirmedIn: (_id, index) => {
            const p = places[index];
            return p && p.height < height ? `the main-chain block at height ${p.height}` : undefined;
          },
        });
        if (!sameUpper(facts.upper, uppers[i]))
          problem(`block ${hash} (height ${height}): its stored merkle upper levels are not its tree's`);
      } catch (err) {
        problem(`block ${hash} (height ${height}) breaks a rule: ${errorMessage(err)}`);
      }
      if (height === 1)
        anchor = anchorFromBlockOne(params.genesis.header.bits, block.header.time, params.targetSpacing);
      times.push(block.header.time);
      if (times.length > MEDIAN_TIME_SPAN) times.shift();
      if (e) onMain.add(e);
      prev = e ?? prev;
      checked++;
      if (opts.onProgress && checked % every === 0) opts.onProgress(checked, total);
    }
  }
  if (hashToHex(prev?.hash ?? new Uint8Array(32)) !== tipHash)
    problem("the height index does not end at the tip");
  const beyond = await store.getMainHash(total);
  if (beyond) problem(`height index has a block above the tip (height ${total})`);
  // Valid blocks that left the main chain and other side blocks: their stored levels against their records.
  const offMain = sideUppers.concat(all.filter((e) => e.status === "valid" && !onMain.has(e)));
  for (let i = 0; i < offMain.length; i += BATCH) {
    const part = offMain.slice(i, i + BATCH).filter((e) => e.recordCount > UPPER_TREE_SPAN);
    if (part.length === 0) continue;
    const bodies = await store.getBlocks(part.map((e) => e.hash));
    const uppers = await store.getUpperTrees(part.map((e) => e.hash));
    part.forEach((e, j) => {
      const raw = bodies[j];
      if (!raw) return; // reported above
      let upper: Uint8Array | undefined;
      try {
        upper = computeMerkleRoot(recordIds(decodeBlock(raw)), true).upper;
      } catch {
        return; // a body that does not decode is reported above
      }
      if (!sameUpper(upper, uppers[j]))
        problem(`block ${hashToHex(e.hash)}: its stored merkle upper levels are not its tree's`);
    });
  }
  if (checked === total) {
    // Every main-chain record has its keys (above); more keys than records means stale ones.
    const keys = await store.countRecordIndex();
    if (keys.records !== records)
      problem(`record index holds ${keys.records} ids for ${records} main-chain records`);
    if (keys.authors !== signed)
      problem(`author index holds ${keys.authors} keys for ${signed} signed main-chain records`);
  }
  return done();

  function done(): VerifyResult {
    opts.onProgress?.(checked, total);
    return {
      ok: problems.length === 0,
      height: tip!.height,
      tip: tipHash,
      checked,
      entries: byHash.size,
      problems,
    };
  }
}
