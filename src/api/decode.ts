import { type Block, decodeBlock, MAX_BLOCK_SIZE } from "../consensus/block.ts";
import { Reader } from "../consensus/bytes.ts";
import { HEADER_SIZE, readHeader } from "../consensus/header.ts";
import { type BlockRecord, readRecord } from "../consensus/records.ts";
import { yieldIfSpent } from "./slices.ts";

/** Blocks up to this size are decoded in one piece (a few ms at most); larger ones in time slices. */
const ONE_PIECE_BYTES = 64 * 1024;

/**
 * consensus's decodeBlock(bytes), for a block submitted over HTTP, in the API's time slices (slices.ts):
 * a maximum-size block of 199,980 records takes about 70 ms to decode, several times that on a loaded
 * machine, and the submissions of many clients would follow one another. Same result and the same
 * DecodeError for the same bytes (a test checks both on valid and malformed blocks).
 */
export async function decodeBlockSliced(bytes: Uint8Array): Promise<Block> {
  if (bytes.length <= ONE_PIECE_BYTES || bytes.length > MAX_BLOCK_SIZE) return decodeBlock(bytes);
  const r = new Reader(bytes);
  const header = readHeader(r);
  // decodeBlock's bound: a record is at least 2 bytes.
  const count = r.varint(Math.floor((MAX_BLOCK_SIZE - HEADER_SIZE) / 2), "record count");
  const records: BlockRecord[] = new Array(count);
  for (let i = 0; i < count; i++) {
    records[i] = readRecord(r);
    if ((i & 1023) === 1023) await yieldIfSpent();
  }
  r.end("block");
  return { header, records };
}
