/**
 * The mempool file, `mempool.dat` in the data directory (after Bitcoin Core's kernel/mempool_persist.cpp):
 * a versioned binary file with a checksum, written to a temporary name, fsynced and renamed over the old
 * one, so a crash leaves either the old file or the new one, never half of each. Layout of version 2,
 * integers little-endian:
 *
 *   magic "jbcmpool" (8) · version u32 (2) · network id u32
 *   · tip (32: the hash, internal order, of the chain tip the pool had followed to; zeros when unknown)
 *   · seen u64 (the highest arrival number of a block the pool saw connect or disconnect; recover.ts)
 *   · shares u32 · shares × (CompactSize length · share key, UTF-8, at most 128 bytes)
 *   · count u32 · count × (arrival time u64, ms since the epoch · share index CompactSize
 *                          · CompactSize length · record bytes)
 *   · sha256 of everything before it (32)
 *
 * Version 1 (read, never written) had no tip and no shares: `count` followed the network id, and each
 * record was its time and its bytes. Its records load into the share "disk".
 *
 * Reading never throws for bad content: a torn, damaged or foreign file is reported as `damaged` with
 * the reason, and the caller starts with an empty pool.
 */
import { createHash } from "node:crypto";
import { open, readFile, rename, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { bytesEqual, DecodeError, Reader, Writer } from "../consensus/bytes.ts";
import { hashToHex, hexToHash } from "../consensus/header.ts";
import { MAX_RECORD_SIZE } from "../consensus/records.ts";
import { errorMessage } from "../util/errors.ts";
import type { FollowedTo } from "./recover.ts";

export const MEMPOOL_FILE = "mempool.dat";
export const MEMPOOL_FILE_VERSION = 2;
/** Longest share key the file holds (an IPv6 /64 or a peer id is well under it). */
export const MAX_SHARE_KEY = 128;
const MAGIC = new TextEncoder().encode("jbcmpool");
/** Magic, version, network id and count: the smallest file of either version, before its checksum. */
const HEADER_SIZE = MAGIC.length + 12;
const CHECKSUM_SIZE = 32;
const TIP_SIZE = 32;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The file's checksum, through node:crypto: 107 ms for 64 MiB against 887 ms with @noble/hashes, measured
 * side by side here (docs/benchmarks.md). This module is node-only I/O, so it takes OpenSSL directly.
 */
function sha256(data: Uint8Array): Uint8Array {
  return createHash("sha256").update(data).digest();
}

/** The mempool file of a data directory. */
export function mempoolFile(datadir: string): string {
  return join(datadir, MEMPOOL_FILE);
}

/** One saved record: its bytes, when it arrived (ms since the epoch) and its share (shares.ts). */
export interface SavedRecord {
  time: number;
  bytes: Uint8Array;
  /** Absent in a version-1 file. */
  share?: string;
}

export type MempoolFileResult =
  | { status: "missing" }
  | {
      status: "ok";
      records: SavedRecord[];
      /** Where the saved pool had followed the chain to; absent when unknown (version 1). */
      followed?: FollowedTo;
    }
  | { status: "damaged"; reason: string };

/**
 * Serializes records in the order given, with where the pool had followed the chain to when they were
 * taken (unknown when absent). A record without a share is saved in the share "disk".
 */
export function encodeMempoolFile(
  networkId: number,
  records: readonly SavedRecord[],
  followed?: FollowedTo,
): Uint8Array {
  const tip = followed ? hexToHash(followed.tip) : new Uint8Array(TIP_SIZE);
  if (tip.length !== TIP_SIZE) throw new RangeError(`tip of ${tip.length} bytes, expected ${TIP_SIZE}`);
  const index = new Map<string, number>();
  const keys: Uint8Array[] = [];
  let size = HEADER_SIZE + TIP_SIZE + 8 + 4 + CHECKSUM_SIZE;
  for (const r of records) {
    const share = r.share ?? "disk";
    if (!index.has(share)) {
      const key = utf8.encode(share);
      if (key.length > MAX_SHARE_KEY) throw new RangeError(`share key of ${key.length} bytes`);
      index.set(share, keys.length);
      keys.push(key);
      size += 1 + key.length;
    }
    size += 8 + 5 + 5 + r.bytes.length;
  }
  const w = new Writer(size);
  w.bytes(MAGIC)
    .u32(MEMPOOL_FILE_VERSION)
    .u32(networkId)
    .bytes(tip)
    .u64(BigInt(followed?.seen ?? 0));
  w.u32(keys.length);
  for (const key of keys) w.varBytes(key);
  w.u32(records.length);
  for (const r of records)
    w.u64(BigInt(r.time))
      .varint(index.get(r.share ?? "disk")!)
      .varBytes(r.bytes);
  const body = w.finish();
  const out = new Uint8Array(body.length + CHECKSUM_SIZE);
  out.set(body);
  out.set(sha256(body), body.length);
  return out;
}

/** Parses a mempool file; every defect is a `damaged` result naming it, never an exception. */
export function decodeMempoolFile(networkId: number, file: Uint8Array): MempoolFileResult {
  if (file.length < HEADER_SIZE + CHECKSUM_SIZE)
    return { status: "damaged", reason: `file of ${file.length} bytes is too short` };
  if (!bytesEqual(file.subarray(0, MAGIC.length), MAGIC))
    return { status: "damaged", reason: "not a mempool file" };
  const body = file.subarray(0, file.length - CHECKSUM_SIZE);
  if (!bytesEqual(sha256(body), file.subarray(body.length)))
    return { status: "damaged", reason: "checksum mismatch (torn or corrupted file)" };
  try {
    const r = new Reader(body);
    r.bytes(MAGIC.length);
    const version = r.u32("version");
    if (version !== 1 && version !== MEMPOOL_FILE_VERSION)
      return { status: "damaged", reason: `unknown version ${version}` };
    const id = r.u32("network id");
    if (id !== networkId)
      return { status: "damaged", reason: `written for network id 0x${id.toString(16)}, not this network` };
    const tip = version === 1 ? undefined : r.bytes(TIP_SIZE, "tip");
    const seen = version === 1 ? 0 : Number(r.u64("seen"));
    const shares = version === 1 ? [] : readShares(r);
    const count = r.u32("count");
    // Each entry takes at least 10 bytes, which bounds the count before anything is allocated.
    if (count > r.remaining / 10) return { status: "damaged", reason: `count ${count} exceeds the file` };
    const records: SavedRecord[] = [];
    for (let i = 0; i < count; i++) {
      const time = Number(r.u64("time"));
      const share = version === 1 ? undefined : shares[r.varint(shares.length - 1, "share index")];
      // A copy: readFile gives a Buffer, whose slice() would keep the whole file alive.
      const bytes = new Uint8Array(r.varBytes(2 * MAX_RECORD_SIZE, "record"));
      records.push(share === undefined ? { time, bytes } : { time, bytes, share });
    }
    r.end("mempool file");
    const known = tip?.some((b) => b !== 0);
    return { status: "ok", records, ...(tip && known ? { followed: { tip: hashToHex(tip), seen } } : {}) };
  } catch (err) {
    if (err instanceof DecodeError) return { status: "damaged", reason: err.message };
    throw err;
  }
}

/** The share keys of a version-2 file. */
function readShares(r: Reader): string[] {
  const n = r.u32("shares");
  if (n > r.remaining) throw new DecodeError(`share count ${n} exceeds the file`);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const key = r.varBytes(MAX_SHARE_KEY, "share key");
    try {
      out.push(fromUtf8.decode(key));
    } catch {
      throw new DecodeError("share key is not UTF-8");
    }
  }
  return out;
}

/** Reads and parses the file; a missing file is `missing`, an unreadable one `damaged`. */
export async function readMempoolFile(path: string, networkId: number): Promise<MempoolFileResult> {
  let file: Uint8Array;
  try {
    file = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { status: "missing" };
    return { status: "damaged", reason: `cannot read: ${errorMessage(err)}` };
  }
  return decodeMempoolFile(networkId, file);
}

/**
 * Writes `bytes` to `path` so that a crash at any moment leaves the old file or the new one: write a
 * temporary file, fsync it, rename it over `path`, fsync the directory (so the rename is durable too).
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, "w", 0o600);
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fh.close();
  await rename(tmp, path);
  const dir = await open(dirname(path), "r");
  try {
    await dir.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the rename has happened either way.
  } finally {
    await dir.close();
  }
}
