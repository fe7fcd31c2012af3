import { DecodeError, Reader, Writer } from "./bytes.ts";
import { sha256d } from "./hash.ts";
import { type BlockHeader, encodeHeader, HEADER_SIZE, readHeader } from "./header.ts";
import { computeMerkleRoot, type MerkleResult } from "./merkle.ts";
import { type BlockRecord, encodeRecord, readRecord, skipRecord } from "./records.ts";
import { runSteps, STEP_UNITS, type Steps } from "./steps.ts";

/** Largest serialized block any network accepts; decoders refuse anything bigger before parsing. */
export const MAX_BLOCK_SIZE = 1_000_000;
/**
 * Most records a block may hold, the miner record included: a consensus rule (`BAD_SIZE`, "record count"),
 * chosen from the measured worst-case check time of a block (docs/consensus.md, "Records per block").
 */
export const MAX_BLOCK_RECORDS = 4_096;
/** Smallest record is 2 bytes (type + empty data), which bounds the record count a decoder accepts. */
const MIN_RECORD_SIZE = 2;
/** The largest record count the decoder reads: what MAX_BLOCK_SIZE bytes of smallest records hold. */
const MAX_DECODED_COUNT = Math.floor((MAX_BLOCK_SIZE - HEADER_SIZE) / MIN_RECORD_SIZE);

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
  return runSteps(decodeBlockSteps(bytes));
}

/** decodeBlock in steps (steps.ts): a yield every STEP_UNITS records read. */
export function* decodeBlockSteps(bytes: Uint8Array): Steps<Block> {
  if (bytes.length > MAX_BLOCK_SIZE)
    throw new DecodeError(`block of ${bytes.length} bytes exceeds ${MAX_BLOCK_SIZE}`);
  const r = new Reader(bytes);
  const header = readHeader(r);
  const count = r.varint(MAX_DECODED_COUNT, "record count");
  const records: BlockRecord[] = new Array(count);
  for (let from = 0; from < count; from += STEP_UNITS) {
    if (from > 0) yield;
    const to = Math.min(count, from + STEP_UNITS);
    for (let i = from; i < to; i++) records[i] = readRecord(r);
  }
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
  const count = r.varint(MAX_DECODED_COUNT, "record count");
  const offsets = new Uint32Array(count + 1);
  for (let i = 0; i < count; i++) {
    offsets[i] = r.pos;
    skipRecord(r);
  }
  offsets[count] = r.pos;
  r.end("block");
  return offsets;
}

/** What a serialized block says before its records: the header and the record count. */
export interface BlockPrefix {
  header: BlockHeader;
  /** Number of records the block declares (not yet read). */
  count: number;
}

/**
 * The header and the record count of a serialized block, without reading a record: what the chain checks
 * before it spends anything on the body (docs/protocol.md, "Blocks nobody asked for"). Throws DecodeError
 * when the bytes are too short, above MAX_BLOCK_SIZE, or declare more records than they could hold.
 */
export function readBlockPrefix(bytes: Uint8Array): BlockPrefix {
  if (bytes.length > MAX_BLOCK_SIZE)
    throw new DecodeError(`block of ${bytes.length} bytes exceeds ${MAX_BLOCK_SIZE}`);
  const r = new Reader(bytes);
  const header = readHeader(r);
  const count = r.varint(MAX_DECODED_COUNT, "record count");
  if (count * MIN_RECORD_SIZE > bytes.length - r.pos)
    throw new DecodeError(`${count} records cannot fit in ${bytes.length - r.pos} bytes`);
  return { header, count };
}

/** Record ids in block order. */
export function recordIds(block: Block): Uint8Array[] {
  return block.records.map((rec) => sha256d(encodeRecord(rec)));
}

/** Merkle root (and mutation flag) of a block's records. */
export function blockMerkle(block: Block): MerkleResult {
  return computeMerkleRoot(recordIds(block));
}
