/**
 * Rebuilding a block from a compact block and the pending records (BIP 152's PartiallyDownloadedBlock):
 * each pending record's short id is looked up among the announcement's, the records the pool lacks are
 * named by index for one getblocktxn, and the result is checked against the header's merkle root before
 * the chain sees it: a mismatch is a short-id collision, nobody's fault, and the caller fetches the full
 * block instead.
 */
import type { Block } from "../../consensus/block.ts";
import { Writer } from "../../consensus/bytes.ts";
import { sha256d } from "../../consensus/hash.ts";
import { encodeHeader, hashToHex, hexToHash } from "../../consensus/header.ts";
import { computeMerkleRoot } from "../../consensus/merkle.ts";
import { encodeRecord } from "../../consensus/records.ts";
import type { SipKey } from "../../util/siphash.ts";
import { type CompactBlock, shortId, shortIdKey } from "./codec.ts";

/**
 * Most pending records hashed per announcement: the mempool's default count (250,000; about 0.1 s). The
 * scan stops earlier once every short id is matched; a pool larger than this is read oldest first.
 */
export const MAX_POOL_SCAN = 250_000;

/** What reconstruction reads of the pool (the Mempool's own methods): ids in arrival order, and bytes. */
export interface PendingRecords {
  ids(limit: number): string[];
  get(id: string): { bytes: Uint8Array } | undefined;
}

/** A block being rebuilt: record bytes and ids by block index, and the indexes still missing. */
export interface PartialBlock {
  compact: CompactBlock;
  key: SipKey;
  /** The block's display hash. */
  hash: string;
  /** The block's hash in internal order (what requests name). */
  hashBytes: Uint8Array;
  records: (Uint8Array | undefined)[];
  ids: (Uint8Array | undefined)[];
  /** Block indexes (≥ 1) with no record yet, increasing. */
  missing: number[];
}

/**
 * Matches the pool's records against a compact block's short ids (at most `maxScan` of them). A short id
 * two pending records share is left missing (asked for), as Bitcoin Core does.
 */
export function startReconstruction(
  compact: CompactBlock,
  pool: PendingRecords | undefined,
  maxScan = MAX_POOL_SCAN,
): PartialBlock {
  const key = shortIdKey(compact.header, compact.nonce);
  const n = compact.shortIds.length + 1;
  const records: (Uint8Array | undefined)[] = new Array(n);
  const ids: (Uint8Array | undefined)[] = new Array(n);
  records[0] = compact.miner;
  ids[0] = sha256d(compact.miner);
  const index = new Map<number, number>();
  compact.shortIds.forEach((sid, i) => {
    index.set(sid, i + 1);
  });
  const ambiguous = new Set<number>();
  let found = 0;
  for (const hex of pool && n > 1 ? pool.ids(maxScan) : []) {
    if (found === n - 1) break;
    const id = hexToHash(hex);
    const ix = index.get(shortId(key, id));
    if (ix === undefined || ambiguous.has(ix)) continue;
    if (records[ix] !== undefined) {
      ambiguous.add(ix);
      records[ix] = ids[ix] = undefined;
      found--;
      continue;
    }
    const bytes = pool?.get(hex)?.bytes;
    if (!bytes) continue;
    records[ix] = bytes;
    ids[ix] = id;
    found++;
  }
  const missing: number[] = [];
  for (let i = 1; i < n; i++) if (records[i] === undefined) missing.push(i);
  const hashBytes = sha256d(compact.header);
  return { compact, key, hash: hashToHex(hashBytes), hashBytes, records, ids, missing };
}

/** Puts the records a blocktxn answer carried (already checked against their short ids) in their places. */
export function fillMissing(p: PartialBlock, got: readonly Uint8Array[]): void {
  p.missing.forEach((ix, i) => {
    const rec = got[i]!;
    p.records[ix] = rec;
    p.ids[ix] = sha256d(rec);
  });
  p.missing = [];
}

/**
 * The serialized block, or undefined when the records do not make the header's merkle root (a short-id
 * collision: a pending record stood in for the block's) or repeat one (a mutated tree).
 */
export function assemble(p: PartialBlock): Uint8Array | undefined {
  if (p.missing.length > 0) throw new Error("assemble before every record is present");
  const ids = p.ids as Uint8Array[];
  const { root, mutated } = computeMerkleRoot(ids);
  const want = p.compact.header.subarray(36, 68);
  if (mutated || !root.every((b, i) => b === want[i])) return undefined;
  const records = p.records as Uint8Array[];
  let size = 0;
  for (const r of records) size += r.length;
  const w = new Writer(80 + 5 + size);
  w.bytes(p.compact.header).varint(records.length);
  for (const r of records) w.bytes(r);
  return w.finish();
}

/** A random 64-bit nonce for a compact block's key. */
export function randomNonce(): bigint {
  return crypto.getRandomValues(new BigUint64Array(1))[0]!;
}

/**
 * A valid block's compact form under a fresh nonce: the sender draws again (up to 8 times) while two of
 * its records share a short id, so a receiver may treat a repeated short id as the sender's fault.
 */
export function makeCompact(block: Block, nonce: () => bigint = randomNonce): CompactBlock {
  const [first, ...rest] = block.records;
  if (first?.type !== "miner") throw new RangeError("record 0 of a block is its miner record");
  const header = encodeHeader(block.header);
  const ids = rest.map((r) => sha256d(encodeRecord(r)));
  const miner = encodeRecord(first);
  for (let tries = 1; ; tries++) {
    const n = nonce();
    const key = shortIdKey(header, n);
    const shortIds = ids.map((id) => shortId(key, id));
    if (tries >= 8 || new Set(shortIds).size === shortIds.length)
      return { header, nonce: n, shortIds, miner };
  }
}
