/**
 * Compact blocks' wire formats (BIP 152's cmpctblock, getblocktxn and blocktxn, and jbc's announcement
 * stream), documented byte for byte in docs/protocol.md "Compact blocks". Pure codecs: every decode failure
 * is a ProtocolError (the peer's fault), never anything else.
 */
import { MAX_BLOCK_RECORDS } from "../../consensus/block.ts";
import { DecodeError, Reader } from "../../consensus/bytes.ts";
import { sha256, sha256d } from "../../consensus/hash.ts";
import { HEADER_SIZE } from "../../consensus/header.ts";
import { skipRecord } from "../../consensus/records.ts";
import { type SipKey, siphash48, sipKey } from "../../util/siphash.ts";
import { ProtocolError } from "../protocols.ts";

/**
 * Announcements pushed to a peer (SENDCMPCT, HEADER or CMPCTBLOCK), frame after frame on one long-lived
 * stream. Version 1 sent one frame per stream, and took a second frame as MALFORMED: the new version keeps
 * nodes of the two apart (identify tells, and they relay full blocks to each other by gossip).
 */
export const CMPCT_PROTOCOL = "/jbc/cmpct/2";
/**
 * Requests for a compact block or for a block's records by index, on one long-lived stream: each request
 * one frame, each answered by one frame in the order asked (version 1: one request per stream).
 */
export const BLOCKTXN_PROTOCOL = "/jbc/blocktxn/2";

/** The first byte of an announcement frame. */
export const AnnounceType = { SENDCMPCT: 1, HEADER: 2, CMPCTBLOCK: 3 } as const;
/** The first byte of a request frame. */
export const RequestType = { GETBLOCKTXN: 1, GETCMPCT: 2 } as const;

/** Short ids in one compact block: every record but the prefilled miner record. */
export const MAX_SHORT_IDS = MAX_BLOCK_RECORDS - 1;
/** Bytes of one short id. */
export const SHORT_ID_SIZE = 6;
/** header(80) nonce(8) count(2). */
const CMPCT_FIXED = HEADER_SIZE + 8 + 2;
/** A miner record is at most 1 + 4 + 8 + 3 + 64 bytes (consensus/records.ts). */
const MAX_MINER_RECORD = 80;
/** Largest compact block: checked against a frame's length before any of it is read. */
export const MAX_CMPCT_SIZE = CMPCT_FIXED + SHORT_ID_SIZE * MAX_SHORT_IDS + MAX_MINER_RECORD;
/** Largest announcement frame (type byte plus a compact block). */
export const MAX_ANNOUNCE_FRAME = 1 + MAX_CMPCT_SIZE;
/** Largest request frame: type, hash, count and every index. */
export const MAX_REQUEST_FRAME = 1 + 32 + 2 + 2 * MAX_SHORT_IDS;

/** A block as its header, the key's nonce, the short ids of records 1..n and record 0 in full. */
export interface CompactBlock {
  /** The 80 header bytes. */
  header: Uint8Array;
  nonce: bigint;
  /** Records 1..n's short ids, in block order (48-bit integers). */
  shortIds: number[];
  /** Record 0, the miner record, serialized. */
  miner: Uint8Array;
}

/** BIP 152's key: the first 16 bytes of SHA-256(header ‖ nonce as u64 LE). */
export function shortIdKey(header: Uint8Array, nonce: bigint): SipKey {
  const pre = new Uint8Array(HEADER_SIZE + 8);
  pre.set(header.subarray(0, HEADER_SIZE));
  new DataView(pre.buffer).setBigUint64(HEADER_SIZE, nonce, true);
  return sipKey(sha256(pre).subarray(0, 16));
}

/** A record's short id: the low 48 bits of SipHash-2-4 of its id (32 bytes, internal order). */
export function shortId(key: SipKey, id: Uint8Array): number {
  return siphash48(key, id);
}

/** Serializes a compact block (layout in docs/protocol.md). Throws RangeError out of bounds. */
export function encodeCompact(c: CompactBlock): Uint8Array {
  if (c.header.length !== HEADER_SIZE) throw new RangeError("a header is 80 bytes");
  if (c.shortIds.length > MAX_SHORT_IDS) throw new RangeError(`${c.shortIds.length} short ids`);
  const out = new Uint8Array(CMPCT_FIXED + SHORT_ID_SIZE * c.shortIds.length + c.miner.length);
  const v = new DataView(out.buffer);
  out.set(c.header);
  v.setBigUint64(HEADER_SIZE, c.nonce, true);
  v.setUint16(HEADER_SIZE + 8, c.shortIds.length, true);
  let o = CMPCT_FIXED;
  for (const id of c.shortIds) {
    v.setUint32(o, id % 0x1_0000_0000, true);
    v.setUint16(o + 4, Math.floor(id / 0x1_0000_0000), true);
    o += SHORT_ID_SIZE;
  }
  out.set(c.miner, o);
  return out;
}

/**
 * Parses a compact block. MALFORMED: too short, a count above MAX_SHORT_IDS or that the bytes do not hold,
 * a record 0 that is not one whole miner record, or two equal short ids (an honest sender re-rolls its
 * nonce until its short ids differ, so a repeat is never an accident).
 */
export function decodeCompact(b: Uint8Array): CompactBlock {
  if (b.length < CMPCT_FIXED + 1) throw new ProtocolError("MALFORMED", `compact block of ${b.length} bytes`);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const n = v.getUint16(HEADER_SIZE + 8, true);
  if (n > MAX_SHORT_IDS) throw new ProtocolError("MALFORMED", `compact block with ${n} short ids`);
  const end = CMPCT_FIXED + SHORT_ID_SIZE * n;
  if (b.length <= end) throw new ProtocolError("MALFORMED", `${n} short ids do not fit in ${b.length} bytes`);
  const shortIds: number[] = new Array(n);
  const seen = new Set<number>();
  for (let i = 0, o = CMPCT_FIXED; i < n; i++, o += SHORT_ID_SIZE) {
    const id = v.getUint16(o + 4, true) * 0x1_0000_0000 + v.getUint32(o, true);
    if (seen.has(id)) throw new ProtocolError("MALFORMED", `short id ${id.toString(16)} appears twice`);
    seen.add(id);
    shortIds[i] = id;
  }
  const miner = b.slice(end);
  if (miner[0] !== 0 || recordEnds(miner, 1)[0] !== miner.length)
    throw new ProtocolError("MALFORMED", "record 0 of a compact block is not one miner record");
  return { header: b.slice(0, HEADER_SIZE), nonce: v.getBigUint64(HEADER_SIZE, true), shortIds, miner };
}

/**
 * Where each of `count` records concatenated in `b` ends; MALFORMED when they do not decode or `b` does not
 * hold exactly that many.
 */
export function recordEnds(b: Uint8Array, count: number): number[] {
  const r = new Reader(b);
  const ends: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      skipRecord(r);
      ends.push(r.pos);
    }
    r.end("records");
  } catch (err) {
    if (err instanceof DecodeError) throw new ProtocolError("MALFORMED", `records: ${err.message}`);
    throw err;
  }
  return ends;
}

/** A request for records of a block by index (BIP 152 getblocktxn), or for its compact block. */
export type CompactRequest =
  | { type: "getblocktxn"; hash: Uint8Array; indexes: number[] }
  | { type: "getcmpct"; hash: Uint8Array };

/** Serializes a request. Throws RangeError when indexes are empty, too many, or not increasing from 1. */
export function encodeRequest(r: CompactRequest): Uint8Array {
  if (r.hash.length !== 32) throw new RangeError("a block hash is 32 bytes");
  if (r.type === "getcmpct") return Uint8Array.of(RequestType.GETCMPCT, ...r.hash);
  const n = r.indexes.length;
  if (n < 1 || n > MAX_SHORT_IDS) throw new RangeError(`${n} indexes`);
  const out = new Uint8Array(35 + 2 * n);
  const v = new DataView(out.buffer);
  out[0] = RequestType.GETBLOCKTXN;
  out.set(r.hash, 1);
  v.setUint16(33, n, true);
  let last = 0;
  r.indexes.forEach((ix, i) => {
    if (!Number.isInteger(ix) || ix <= last || ix > MAX_SHORT_IDS) throw new RangeError(`index ${ix}`);
    v.setUint16(35 + 2 * i, ix, true);
    last = ix;
  });
  return out;
}

/**
 * Parses a request. MALFORMED: an unknown type, a length that does not match, no index, or indexes that
 * are not strictly increasing from 1 (record 0 is always sent in full). Whether they are below the block's
 * record count is the server's check, with the block at hand.
 */
export function decodeRequest(b: Uint8Array): CompactRequest {
  if (b[0] === RequestType.GETCMPCT && b.length === 33) return { type: "getcmpct", hash: b.slice(1) };
  if (b[0] !== RequestType.GETBLOCKTXN || b.length < 37)
    throw new ProtocolError("MALFORMED", `request of type ${b[0]} and ${b.length} bytes`);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const n = v.getUint16(33, true);
  if (n < 1 || b.length !== 35 + 2 * n)
    throw new ProtocolError("MALFORMED", `getblocktxn of ${b.length} bytes for ${n} indexes`);
  const indexes: number[] = new Array(n);
  let last = 0;
  for (let i = 0; i < n; i++) {
    const ix = v.getUint16(35 + 2 * i, true);
    if (ix <= last) throw new ProtocolError("MALFORMED", `getblocktxn index ${ix} after ${last}`);
    indexes[i] = last = ix;
  }
  return { type: "getblocktxn", hash: b.slice(1, 33), indexes };
}

/** Serializes a blocktxn answer: the block hash, the count, then the records as they are in the block. */
export function encodeBlockTxn(hash: Uint8Array, records: readonly Uint8Array[]): Uint8Array {
  let size = 34;
  for (const r of records) size += r.length;
  const out = new Uint8Array(size);
  out.set(hash);
  new DataView(out.buffer).setUint16(32, records.length, true);
  let o = 34;
  for (const r of records) {
    out.set(r, o);
    o += r.length;
  }
  return out;
}

/**
 * Parses a blocktxn answer to `asked` and checks it is exactly the answer: the same hash, as many records
 * as indexes asked for, each whole, each with the short id the compact block gave its index. Anything else
 * is MALFORMED: the peer sent records it was not asked for.
 */
export function decodeBlockTxn(
  b: Uint8Array,
  asked: { hash: Uint8Array; indexes: readonly number[]; shortIds: readonly number[]; key: SipKey },
): Uint8Array[] {
  if (b.length < 34) throw new ProtocolError("MALFORMED", `blocktxn of ${b.length} bytes`);
  for (let i = 0; i < 32; i++)
    if (b[i] !== asked.hash[i]) throw new ProtocolError("MALFORMED", "blocktxn for another block");
  const n = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint16(32, true);
  if (n !== asked.indexes.length)
    throw new ProtocolError("MALFORMED", `blocktxn with ${n} records for ${asked.indexes.length} asked`);
  const body = b.subarray(34);
  const ends = recordEnds(body, n);
  const out: Uint8Array[] = [];
  let start = 0;
  ends.forEach((end, i) => {
    const rec = body.slice(start, end);
    const ix = asked.indexes[i]!;
    if (shortId(asked.key, sha256d(rec)) !== asked.shortIds[ix - 1])
      throw new ProtocolError("MALFORMED", `blocktxn record for index ${ix} is not the one announced`);
    out.push(rec);
    start = end;
  });
  return out;
}
