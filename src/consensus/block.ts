import { DecodeError, Reader, Writer } from "./bytes.ts";
import { sha256d } from "./hash.ts";
import { type BlockHeader, encodeHeader, HEADER_SIZE, readHeader } from "./header.ts";
import { computeMerkleRoot, type MerkleResult } from "./merkle.ts";
import { type BlockRecord, encodeRecord, readRecord, skipRecord } from "./records.ts";

/** Largest serialized block any network accepts; decoders refuse anything bigger before parsing. */
export const MAX_BLOCK_SIZE = 1_000_000;
/** Smallest record is 2 bytes (type + empty data), which bounds the record count a decoder accepts. */
const MIN_RECORD_SIZE = 2;

export interface Block {
  header: BlockHeader;
  records: BlockRecord[];
}

/** Serializes a block: the 80-byte header, a CompactSize record count, then the records. */
export function encodeBlock(block: Block): Uint8Array {
  const w = new Writer(HEADER_SIZE + 16 + block.records.length * 48);
  w.bytes(encodeHeader(block.header)).varint(block.records.length);
  for (const rec of block.records) encodeRecord(rec, w);
  return w.finish();
}

/** Parses a serialized block; any malformed input throws DecodeError, never anything else. */
export function decodeBlock(bytes: Uint8Array): Block {
  if (bytes.length > MAX_BLOCK_SIZE)
    throw new DecodeError(`block of ${bytes.length} bytes exceeds ${MAX_BLOCK_SIZE}`);
  const r = new Reader(bytes);
  const header = readHeader(r);
  const count = r.varint(Math.floor((MAX_BLOCK_SIZE - HEADER_SIZE) / MIN_RECORD_SIZE), "record count");
  const records: BlockRecord[] = new Array(count);
  for (let i = 0; i < count; i++) records[i] = readRecord(r);
  r.end("block");
  return { header, records };
}

/**
 * Where each record of a serialized block starts: `count + 1` offsets, the last one the end of the block,
 * so record i is `bytes.subarray(offsets[i], offsets[i + 1])` (its id is the sha256d of exactly those
 * bytes). Reads only lengths: much cheaper than decodeBlock when one record is wanted. Throws DecodeError
 * on malformed input, as decodeBlock does.
 */
export function recordOffsets(bytes: Uint8Array): Uint32Array {
  if (bytes.length > MAX_BLOCK_SIZE)
    throw new DecodeError(`block of ${bytes.length} bytes exceeds ${MAX_BLOCK_SIZE}`);
  const r = new Reader(bytes);
  r.skip(HEADER_SIZE, "header");
  const count = r.varint(Math.floor((MAX_BLOCK_SIZE - HEADER_SIZE) / MIN_RECORD_SIZE), "record count");
  const offsets = new Uint32Array(count + 1);
  for (let i = 0; i < count; i++) {
    offsets[i] = r.pos;
    skipRecord(r);
  }
  offsets[count] = r.pos;
  r.end("block");
  return offsets;
}

/** Record ids in block order. */
export function recordIds(block: Block): Uint8Array[] {
  return block.records.map((rec) => sha256d(encodeRecord(rec)));
}

/** Merkle root (and mutation flag) of a block's records. */
export function blockMerkle(block: Block): MerkleResult {
  return computeMerkleRoot(recordIds(block));
}
