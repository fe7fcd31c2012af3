import type { BlockSource, ChainReader } from "../chain/interfaces.ts";
import type { ChainEntry } from "../chain/types.ts";
import type { Block } from "../consensus/block.ts";
import { DecodeError, Reader, toHex } from "../consensus/bytes.ts";
import { sha256d } from "../consensus/hash.ts";
import { type BlockHeader, HEADER_SIZE, hashToHex, hexToHash } from "../consensus/header.ts";
import { merkleRoot } from "../consensus/merkle.ts";
import { type BlockRecord, readRecord, recordId } from "../consensus/records.ts";
import { yieldIfSpent } from "../util/slices.ts";
import { ByteLru } from "./cache.ts";
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

/** Blocks read from the store per batch at most: enough to amortize LevelDB's getMany. */
const BATCH = 1024;
/**
 * Bytes of blocks read per batch at most (one block at least): a batch of 1,024 full blocks was 1 GB
 * of bytes, and its JSON, joined into one string, broke V8's string limit (RangeError: Invalid string
 * length, a body of `[` and a cut connection). With the next batch read ahead, a download holds two.
 * One full block's worth: at 4 MiB, eight downloads (the route's limit) held 61 MB of block bytes in
 * issue 17's soak (heap snapshots of a node: the largest holder after the 64 MiB mempool), for no gain,
 * since writing a full block's JSON costs far more than reading it.
 */
export const LEGACY_BATCH_BYTES = 1024 * 1024;
/** The stream's chunks: small blocks' JSON is gathered up to about this many characters per write. */
const CHUNK_CHARS = 64 * 1024;
/**
 * Blocks whose bytes are at most this are written whole and cached; larger ones are written in pieces
 * of about CHUNK_CHARS and never joined, so no string grows with the block (the largest block's JSON is
 * about 14 MB).
 */
const WHOLE_BLOCK_BYTES = 64 * 1024;

/**
 * Serialized blocks kept for the next request, keyed by hash: a block's JSON depends only on the block and
 * its place in the tree, which never change for a given hash, so entries never go stale. Bounded in
 * bytes (characters); the least recently used go first. The original's peers polled /blockchain.json
 * to sync, so the same blocks are asked for again and again. Only blocks written whole are kept.
 */
export class LegacyJsonCache {
  private readonly lru: ByteLru<string, string>;

  constructor(readonly maxBytes = 16 * 1024 * 1024) {
    this.lru = new ByteLru(maxBytes);
  }

  get(hash: string): string | undefined {
    return this.lru.get(hash);
  }

  set(hash: string, json: string): void {
    if (!this.lru.has(hash)) this.lru.set(hash, json, json.length);
  }

  get size(): number {
    return this.lru.size;
  }
}

/**
 * The main chain as JSON text chunks, with bounded memory whatever the blocks: blocks are read in batches
 * bounded by count and bytes, small blocks' JSON is gathered into chunks of about CHUNK_CHARS, large
 * blocks are written record by record in pieces, and the work runs in the API's time slices (slices.ts),
 * so neither a download nor eight of them hold the event loop. The chain is pinned at the tip seen when the
 * stream starts: if a reorg replaces blocks while the stream runs, the pinned (old) blocks are read by
 * hash, so the output is always one consistent chain. Blocks found in `cache` are not read at all.
 */
export async function* streamLegacyChain(
  chain: ChainReader & BlockSource,
  cache?: LegacyJsonCache,
): AsyncGenerator<string> {
  const tipHeight = chain.height;
  const pinned: ChainEntry[] = new Array(tipHeight + 1);
  for (let e: ChainEntry | undefined = chain.tip; e; e = e.parent) pinned[e.height] = e;
  /** The end (exclusive) of the batch starting at `from`. */
  const batchEnd = (from: number): number => {
    let to = from;
    for (let bytes = 0; to <= tipHeight && to - from < BATCH; to++) {
      bytes += pinned[to]!.size;
      if (to > from && bytes > LEGACY_BATCH_BYTES) break;
    }
    return to;
  };
  const read = (from: number, to: number): Promise<Uint8Array[]> => {
    if (cache && pinned.slice(from, to).every((e) => cache.get(e.hash) !== undefined))
      return Promise.resolve([]);
    return chain.getMainBlocks(from, to - from).catch(() => []);
  };
  let parts: string[] = ["["];
  let chars = 1;
  const take = (): string => {
    const chunk = parts.join("");
    parts = [];
    chars = 0;
    return chunk;
  };
  // Reads run in LevelDB's thread pool: fetch the next batch while this one is being serialized.
  let from = 0;
  let to = batchEnd(0);
  let next = read(0, to);
  while (from <= tipHeight) {
    // Each block's bytes are let go once written: a slow reader holds what is left of this batch and the
    // next one, not two whole batches.
    const raws: (Uint8Array | undefined)[] = await next;
    const after = to <= tipHeight ? batchEnd(to) : to;
    if (to <= tipHeight) next = read(to, after);
    for (let h = from; h < to; h++) {
      const entry = pinned[h]!;
      if (h > 0) parts.push(",");
      const hit = cache?.get(entry.hash);
      if (hit !== undefined) {
        parts.push(hit);
        chars += hit.length;
      } else {
        let raw: Uint8Array | undefined = raws[h - from];
        raws[h - from] = undefined;
        // A reorg since the stream began (or a shorter main chain now) shows as another header.
        if (!raw || !sameHeader(raw, entry.header)) raw = await chain.getRawBlock(entry.hash);
        if (!raw) throw new Error(`block ${entry.hash} at height ${entry.height} is missing from the store`);
        if (raw.length <= WHOLE_BLOCK_BYTES) {
          const json = legacyBlockJson(entry, raw);
          cache?.set(entry.hash, json);
          parts.push(json);
          chars += json.length;
        } else {
          for (const piece of legacyBlockPieces(entry, raw)) {
            parts.push(piece);
            chars += piece.length;
            if (chars >= CHUNK_CHARS) yield take();
            await yieldIfSpent();
          }
        }
      }
      if (chars >= CHUNK_CHARS) yield take();
      await yieldIfSpent();
    }
    from = to;
    to = after;
  }
  parts.push("]");
  yield take();
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

/** The fields before `data` (whose JSON string follows, opening quote included). */
function jsonHead(entry: ChainEntry): string {
  return `{"index":"${entry.height}","timestamp":"${entry.header.time}","data":`;
}

/** The fields between `data` and the records (the records' array opened). */
function jsonMiddle(entry: ChainEntry, miner: string | undefined): string {
  const h = entry.header;
  const prev = entry.parent ? entry.parent.hash : "";
  return (
    `,"prev_hash":"${prev}","hash":"${entry.hash}","nonce":"${h.nonce}","version":${h.version},` +
    `"bits":"${bitsHex(h.bits)}","merkle_root":"${reversedHex(h.merkleRoot)}","miner":${q(miner ?? "")},"records":[`
  );
}

/**
 * legacyBlock(...) serialized, written directly from the entry and the block's bytes: /blockchain.json
 * spends its time here, and skipping the intermediate objects and the generic JSON.stringify makes it
 * about three times faster. Tests check both give the same JSON.
 */
export function legacyBlockJson(entry: ChainEntry, raw: Uint8Array): string {
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
  return `${jsonHead(entry)}${q(data)}${jsonMiddle(entry, miner)}${records.join(",")}]}`;
}

/**
 * legacyBlockJson(entry, raw) in pieces of about CHUNK_CHARS, for blocks too large to hold as one string:
 * the block is read twice, first for the `data` text (escaped record by record: JSON escapes each
 * character on its own, and each record's text is whole), then for the records.
 */
export function* legacyBlockPieces(entry: ChainEntry, raw: Uint8Array): Generator<string> {
  const start = (): Reader => {
    const r = new Reader(raw);
    r.bytes(HEADER_SIZE, "header");
    return r;
  };
  let r = start();
  const n = r.varint(raw.length, "record count");
  let parts: string[] = [jsonHead(entry), '"'];
  let chars = 0;
  const take = (): string => {
    const piece = parts.join("");
    parts = [];
    chars = 0;
    return piece;
  };
  let miner: string | undefined;
  let texts = 0;
  for (let i = 0; i < n; i++) {
    const rec = readRecord(r);
    if (rec.type === "miner") {
      if (i === 0) miner = rec.miner;
      continue;
    }
    const escaped = q(text(rec.data)).slice(1, -1);
    parts.push(texts++ ? `\\n${escaped}` : escaped);
    chars += escaped.length;
    if (chars >= CHUNK_CHARS) yield take();
  }
  if (!texts && miner !== undefined) parts.push(q(`Mined by ${miner}`).slice(1, -1));
  parts.push('"', jsonMiddle(entry, miner));
  r = start();
  r.varint(raw.length, "record count");
  for (let i = 0; i < n; i++) {
    const json = recordJsonText(readRecord(r));
    parts.push(i ? `,${json}` : json);
    chars += json.length;
    if (chars >= CHUNK_CHARS) yield take();
  }
  parts.push("]}");
  yield take();
}

/**
 * The records of a legacy block and the merkle root to use when it gives none, computed in the API's time
 * slices (slices.ts): a POST /mined of 100,000 records without `merkle_root` was about 0.7 s of hashing in
 * one piece, before any proof of work was checked. The root is only a default for the header: processBlock
 * computes the root again with consensus's own code, so a wrong default could get a block refused
 * (BAD_MERKLE_ROOT), never accepted; a test checks the two agree. Throws DecodeError on bad hex.
 */
export async function legacyRecords(b: LegacyBlock): Promise<{ records: BlockRecord[]; root: Uint8Array }> {
  const records: BlockRecord[] = new Array(b.records.length);
  for (let i = 0; i < records.length; i++) {
    records[i] = recordFromJson(b.records[i]!);
    if ((i & 255) === 255) await yieldIfSpent();
  }
  if (b.merkle_root) return { records, root: hexToHash(b.merkle_root.toLowerCase()) };
  let level: Uint8Array[] = new Array(records.length);
  for (let i = 0; i < records.length; i++) {
    level[i] = recordId(records[i]!);
    if ((i & 255) === 255) await yieldIfSpent();
  }
  // Bitcoin's tree, as consensus's computeMerkleRoot builds it: pairs double-SHA-256'd level by level, an
  // odd last node paired with itself; no records, 32 zero bytes.
  if (level.length === 0) return { records, root: new Uint8Array(32) };
  const pair = new Uint8Array(64);
  while (level.length > 1) {
    const next: Uint8Array[] = new Array(Math.ceil(level.length / 2));
    for (let i = 0; i < level.length; i += 2) {
      pair.set(level[i]!, 0);
      pair.set(level[i + 1] ?? level[i]!, 32);
      next[i >> 1] = sha256d(pair);
      if ((i & 510) === 510) await yieldIfSpent();
    }
    level = next;
  }
  return { records, root: level[0]! };
}

/**
 * Rebuilds a block from its legacy JSON. The merkle root is computed from the records when absent;
 * `bits` defaults to the given network default. `given`: the records and default root legacyRecords
 * computed (in time slices). Throws DecodeError for values that cannot form a header.
 */
export function blockFromLegacy(
  b: LegacyBlock,
  defaultBits: number,
  given?: { records: BlockRecord[]; root: Uint8Array },
): Block {
  const int = (v: string | number, what: string, max: number): number => {
    const n = typeof v === "number" ? v : /^\d+$/.test(v) ? Number(v) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < 0 || n > max)
      throw new DecodeError(`${what} is not an integer in range`);
    return n;
  };
  const records = given?.records ?? b.records.map(recordFromJson);
  const prevHash = b.prev_hash === "" ? new Uint8Array(32) : hexToHash(b.prev_hash.toLowerCase());
  const bits = b.bits === undefined ? defaultBits : readBits(b.bits);
  return {
    header: {
      version: b.version ?? 1,
      prevHash,
      merkleRoot: b.merkle_root
        ? hexToHash(b.merkle_root.toLowerCase())
        : (given?.root ?? merkleRoot(records.map(recordId))),
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
