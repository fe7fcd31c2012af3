import type { BlockSource, ChainReader } from "../chain/interfaces.ts";
import type { ChainEntry } from "../chain/types.ts";
import type { Block } from "../consensus/block.ts";
import { DecodeError, Reader, toHex } from "../consensus/bytes.ts";
import { type BlockHeader, HEADER_SIZE, hashToHex, hexToHash } from "../consensus/header.ts";
import { merkleRoot } from "../consensus/merkle.ts";
import { type BlockRecord, readRecord, recordId } from "../consensus/records.ts";
import type { LegacyBlock } from "./schemas.ts";
import { bitsHex, printableText, recordFromJson, recordJson } from "./views.ts";

/**
 * The original JackBlockChain's two endpoints: GET /blockchain.json (the whole main chain as one JSON
 * array) and POST /mined (a block in that shape). The six original fields keep the original's string
 * values; jbc adds the fields a real header needs and the records, so a block survives the round trip.
 */

/** Lenient UTF-8 (invalid bytes become U+FFFD): `data` is for reading, the records are exact. */
const text = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("utf8");

/** The original's free-text `data`: the text of the data records, or who mined the block. */
function legacyData(block: Block): string {
  const texts: string[] = [];
  for (const r of block.records) if (r.type !== "miner") texts.push(text(r.data));
  if (texts.length) return texts.join("\n");
  const m = block.records[0];
  return m?.type === "miner" ? `Mined by ${m.miner}` : "";
}

export function legacyBlock(height: number, hash: string, block: Block): LegacyBlock {
  const h = block.header;
  const miner = block.records[0];
  return {
    index: String(height),
    timestamp: String(h.time),
    data: legacyData(block),
    prev_hash: height === 0 ? "" : hashToHex(h.prevHash),
    hash,
    nonce: String(h.nonce),
    version: h.version,
    bits: bitsHex(h.bits),
    merkle_root: hashToHex(h.merkleRoot),
    miner: miner?.type === "miner" ? miner.miner : "",
    records: block.records.map(recordJson),
  };
}

/** Blocks read from the store per batch: large enough to amortize LevelDB's getMany, small in memory. */
const BATCH = 1024;

/**
 * Serialized blocks kept for the next request, keyed by hash: a block's JSON depends only on the block and
 * its place in the tree, which never change for a given hash, so entries never go stale. Bounded in
 * bytes; the oldest entries go first. The original's peers polled /blockchain.json to sync, so the same
 * blocks are asked for again and again.
 */
export class LegacyJsonCache {
  private readonly map = new Map<string, string>();
  private bytes = 0;

  constructor(readonly maxBytes = 16 * 1024 * 1024) {}

  get(hash: string): string | undefined {
    return this.map.get(hash);
  }

  set(hash: string, json: string): void {
    if (json.length > this.maxBytes || this.map.has(hash)) return;
    this.map.set(hash, json);
    this.bytes += json.length;
    for (const [k, v] of this.map) {
      if (this.bytes <= this.maxBytes) break;
      this.map.delete(k);
      this.bytes -= v.length;
    }
  }

  get size(): number {
    return this.map.size;
  }
}

/**
 * The main chain as JSON text chunks, one batch of blocks at a time, so the whole chain never sits in
 * memory. The chain is pinned at the tip seen when the stream starts: if a reorg replaces blocks while
 * the stream runs, the pinned (old) blocks are read by hash, so the output is always one consistent chain.
 * Blocks found in `cache` are not read from the store at all.
 */
export async function* streamLegacyChain(
  chain: ChainReader & BlockSource,
  cache?: LegacyJsonCache,
): AsyncGenerator<string> {
  const tipHeight = chain.height;
  const pinned: ChainEntry[] = new Array(tipHeight + 1);
  for (let e: ChainEntry | undefined = chain.tip; e; e = e.parent) pinned[e.height] = e;
  const read = (from: number): Promise<Uint8Array[]> => {
    const count = Math.min(BATCH, tipHeight + 1 - from);
    let cached = 0;
    if (cache) for (let i = 0; i < count; i++) if (cache.get(pinned[from + i]!.hash) !== undefined) cached++;
    if (cached === count) return Promise.resolve([]);
    return chain.getMainBlocks(from, count).catch(() => []);
  };
  yield "[";
  // Reads run in LevelDB's thread pool: fetch the next batch while this one is being serialized.
  let next = read(0);
  for (let from = 0; from <= tipHeight; from += BATCH) {
    const raws = await next;
    if (from + BATCH <= tipHeight) next = read(from + BATCH);
    const count = Math.min(BATCH, tipHeight + 1 - from);
    const parts: string[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const entry = pinned[from + i]!;
      const hit = cache?.get(entry.hash);
      if (hit !== undefined) {
        parts[i] = hit;
        continue;
      }
      let raw: Uint8Array | undefined = raws[i];
      // A reorg since the stream began (or a shorter main chain now) shows as another header.
      if (!raw || !sameHeader(raw, entry.header)) raw = await chain.getRawBlock(entry.hash);
      if (!raw) throw new Error(`block ${entry.hash} at height ${entry.height} is missing from the store`);
      const json = legacyBlockJson(entry, raw);
      cache?.set(entry.hash, json);
      parts[i] = json;
    }
    yield from === 0 ? parts.join(",") : `,${parts.join(",")}`;
  }
  yield "]";
}

const u32le = (b: Uint8Array, o: number): number =>
  (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;

/** Whether the serialized block starts with exactly this header (cheaper than hashing it). */
function sameHeader(raw: Uint8Array, h: BlockHeader): boolean {
  if (raw.length < HEADER_SIZE) return false;
  if (u32le(raw, 76) !== h.nonce >>> 0 || u32le(raw, 68) !== h.time >>> 0) return false;
  if (u32le(raw, 72) !== h.bits >>> 0 || u32le(raw, 0) !== h.version >>> 0) return false;
  for (let i = 0; i < 32; i++) {
    if (raw[36 + i] !== h.merkleRoot[i] || raw[4 + i] !== h.prevHash[i]) return false;
  }
  return true;
}

const q = JSON.stringify;

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** hashToHex without the reversed copy. */
function reversedHex(b: Uint8Array): string {
  let s = "";
  for (let i = b.length - 1; i >= 0; i--) s += HEX[b[i]!];
  return s;
}

function recordJsonText(r: BlockRecord): string {
  switch (r.type) {
    case "miner":
      return `{"type":"miner","height":${r.height},"extraNonce":"${r.extraNonce}","miner":${q(r.miner)}}`;
    case "data": {
      const text = printableText(r.data);
      return text === undefined
        ? `{"type":"data","data":"${toHex(r.data)}","encoding":"hex"}`
        : `{"type":"data","data":${q(text)},"encoding":"utf8"}`;
    }
    case "signed": {
      const text = printableText(r.data);
      const data =
        text === undefined ? `"${toHex(r.data)}","encoding":"hex"` : `${q(text)},"encoding":"utf8"`;
      return `{"type":"signed","data":${data},"publicKey":"${toHex(r.publicKey)}","signature":"${toHex(r.signature)}"}`;
    }
  }
}

/**
 * legacyBlock(...) serialized, written directly from the entry and the block's bytes: /blockchain.json
 * spends its time here, and skipping the intermediate objects and the generic JSON.stringify makes it
 * about three times faster. Tests check both give the same JSON.
 */
export function legacyBlockJson(entry: ChainEntry, raw: Uint8Array): string {
  const h = entry.header;
  const r = new Reader(raw);
  r.bytes(HEADER_SIZE, "header");
  const n = r.varint(raw.length, "record count");
  const records: string[] = new Array(n);
  const texts: string[] = [];
  let miner: string | undefined;
  for (let i = 0; i < n; i++) {
    const rec = readRecord(r);
    records[i] = recordJsonText(rec);
    if (rec.type === "miner") {
      if (i === 0) miner = rec.miner;
    } else texts.push(text(rec.data));
  }
  const data = texts.length ? texts.join("\n") : miner !== undefined ? `Mined by ${miner}` : "";
  const prev = entry.parent ? entry.parent.hash : "";
  return (
    `{"index":"${entry.height}","timestamp":"${h.time}","data":${q(data)},"prev_hash":"${prev}",` +
    `"hash":"${entry.hash}","nonce":"${h.nonce}","version":${h.version},"bits":"${bitsHex(h.bits)}",` +
    `"merkle_root":"${reversedHex(h.merkleRoot)}","miner":${q(miner ?? "")},"records":[${records.join(",")}]}`
  );
}

/**
 * Rebuilds a block from its legacy JSON. The merkle root is computed from the records when absent;
 * `bits` defaults to the given network default. Throws DecodeError for values that cannot form a header.
 */
export function blockFromLegacy(b: LegacyBlock, defaultBits: number): Block {
  const int = (v: string | number, what: string, max: number): number => {
    const n = typeof v === "number" ? v : /^\d+$/.test(v) ? Number(v) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < 0 || n > max)
      throw new DecodeError(`${what} is not an integer in range`);
    return n;
  };
  const records = b.records.map(recordFromJson);
  const prevHash = b.prev_hash === "" ? new Uint8Array(32) : hexToHash(b.prev_hash.toLowerCase());
  const bits = b.bits === undefined ? defaultBits : readBits(b.bits);
  return {
    header: {
      version: b.version ?? 1,
      prevHash,
      merkleRoot: b.merkle_root ? hexToHash(b.merkle_root.toLowerCase()) : merkleRoot(records.map(recordId)),
      time: int(b.timestamp, "timestamp", 0xffffffff),
      bits,
      nonce: int(b.nonce, "nonce", 0xffffffff),
    },
    records,
  };
}

function readBits(s: string): number {
  if (!/^(?:0x)?[0-9a-fA-F]{1,8}$/.test(s)) throw new DecodeError("bits must be up to 8 hex digits");
  return Number.parseInt(s.replace(/^0x/, ""), 16) >>> 0;
}
