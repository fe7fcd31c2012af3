import type { Chain } from "../chain/chain.ts";
import type { ChainEntry } from "../chain/types.ts";
import { type Block, decodeBlock } from "../consensus/block.ts";
import { DecodeError } from "../consensus/bytes.ts";
import { sha256d } from "../consensus/hash.ts";
import { HEADER_SIZE, hashToHex, hexToHash } from "../consensus/header.ts";
import { merkleRoot } from "../consensus/merkle.ts";
import { recordId } from "../consensus/records.ts";
import type { LegacyBlock } from "./schemas.ts";
import { bitsHex, recordFromJson, recordJson } from "./views.ts";

/**
 * The original JackBlockChain's two endpoints: GET /blockchain.json (the whole main chain as one JSON
 * array) and POST /mined (a block in that shape). The six original fields keep the original's string
 * values; jbc adds the fields a real header needs and the records, so a block survives the round trip.
 */

const utf8 = new TextDecoder();

/** The original's free-text `data`: the text of the data records, or who mined the block. */
function legacyData(block: Block): string {
  const texts: string[] = [];
  for (const r of block.records) if (r.type !== "miner") texts.push(utf8.decode(r.data));
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
const BATCH = 512;

/**
 * The main chain as JSON text chunks, one batch of blocks at a time, so the whole chain never sits in
 * memory. The chain is pinned at the tip seen when the stream starts: if a reorg replaces blocks while
 * the stream runs, the pinned (old) blocks are read by hash, so the output is always one consistent chain.
 */
export async function* streamLegacyChain(chain: Chain): AsyncGenerator<string> {
  const tipHeight = chain.height;
  const pinned: ChainEntry[] = new Array(tipHeight + 1);
  for (let e: ChainEntry | undefined = chain.tip; e; e = e.parent) pinned[e.height] = e;
  yield "[";
  for (let from = 0; from <= tipHeight; from += BATCH) {
    const count = Math.min(BATCH, tipHeight + 1 - from);
    let raws: Uint8Array[];
    try {
      raws = await chain.getMainBlocks(from, count);
    } catch {
      raws = [];
    }
    const parts: string[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const entry = pinned[from + i]!;
      let raw: Uint8Array | undefined = raws[i];
      // A reorg since the stream began (or a shorter main chain now) shows as a header mismatch.
      if (!raw || !sameHash(raw, entry.hashBytes)) raw = await chain.getRawBlock(entry.hash);
      if (!raw) throw new Error(`block ${entry.hash} at height ${entry.height} is missing from the store`);
      const json = JSON.stringify(legacyBlock(entry.height, entry.hash, decodeBlock(raw)));
      parts[i] = from + i === 0 ? json : `,${json}`;
    }
    yield parts.join("");
  }
  yield "]";
}

function sameHash(raw: Uint8Array, hash: Uint8Array): boolean {
  return raw.length >= HEADER_SIZE && Buffer.compare(sha256d(raw.subarray(0, HEADER_SIZE)), hash) === 0;
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
