/**
 * The block-tree entry ('e' value, docs/storage.md "e: block-tree entry"), after bcoin's
 * lib/blockchain/chainentry.js: the header of a stored block and what the chain needs without its body.
 * The hash is not stored in the value: it is the key.
 */
import { type StoredEntry, StoreError } from "../chain/store.ts";
import type { EntryStatus } from "../chain/types.ts";
import { Reader, Writer } from "../consensus/bytes.ts";
import type { BlockErrorData } from "../consensus/errors.ts";
import { encodeHeader, hashToHex, readHeader } from "../consensus/header.ts";
import type { Bytes, Db } from "./db.ts";
import { wrapIo } from "./errors.ts";
import { P_ENTRY, prefixRange } from "./layout.ts";

/** Status byte → status; the order is on disk and must not change. */
const STATUS_CODES: readonly EntryStatus[] = ["accepted", "valid", "invalid", "invalid-child"];

/** Serializes an entry: header(80) height(u32) work(32, BE) status(u8) seq(u64) size(u32) count(u32) miner invalid-json. */
export function encodeEntry(e: StoredEntry): Bytes {
  const w = new Writer(200);
  w.bytes(encodeHeader(e.header)).u32(e.height);
  const work = Buffer.from(e.chainWork.toString(16).padStart(64, "0"), "hex");
  w.bytes(work)
    .u8(STATUS_CODES.indexOf(e.status))
    .u64(BigInt(e.seq))
    .u32(e.size)
    .u32(e.recordCount)
    .varBytes(new TextEncoder().encode(e.miner))
    .varBytes(e.invalid ? new TextEncoder().encode(JSON.stringify(e.invalid)) : new Uint8Array(0));
  return w.finish();
}

// ignoreBOM keeps a leading U+FEFF, as the miner record decoder does: the name must read back as mined.
const minerDecoder = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * Parses an entry; `hash` is taken from the key. Throws StoreError CORRUPT for an unknown status, and
 * throws for any other malformed bytes too (DecodeError when truncated, oversized or followed by more
 * bytes; SyntaxError for unreadable rejection JSON); `readEntries` reports either as CORRUPT.
 */
export function decodeEntry(hash: Bytes, bytes: Bytes): StoredEntry {
  const r = new Reader(bytes);
  const header = readHeader(r);
  const height = r.u32();
  const chainWork = BigInt(`0x${Buffer.from(r.bytes(32)).toString("hex")}`);
  const status = STATUS_CODES[r.u8()];
  if (!status) throw new StoreError("CORRUPT", `entry ${hashToHex(hash)} has an unknown status`);
  const seq = Number(r.u64());
  const size = r.u32();
  const recordCount = r.u32();
  const miner = minerDecoder.decode(r.varBytes(1024));
  const inv = r.varBytes(1 << 16);
  r.end("entry");
  const invalid = inv.length ? (JSON.parse(new TextDecoder().decode(inv)) as BlockErrorData) : undefined;
  return { hash, header, height, chainWork, status, seq, size, miner, recordCount, invalid };
}

/**
 * Every entry of the database at `path`, in key order, bodies not read; StoreError CORRUPT naming the
 * first entry that does not decode, or when LevelDB reports corruption.
 */
export async function readEntries(db: Db, path: string): Promise<StoredEntry[]> {
  const out: StoredEntry[] = [];
  const it = db.iterator(prefixRange(P_ENTRY));
  try {
    for (;;) {
      const batch = await it.nextv(4096);
      if (batch.length === 0) break;
      for (const [k, v] of batch) {
        const hash = k.slice(1);
        let e: StoredEntry;
        try {
          e = decodeEntry(hash, v);
        } catch (err) {
          throw new StoreError("CORRUPT", `block-tree entry ${hashToHex(hash)} is unreadable`, path, {
            cause: err,
          });
        }
        out.push(e);
      }
    }
  } catch (err) {
    throw wrapIo(err, path);
  } finally {
    await it.close();
  }
  return out;
}
