/**
 * fast-check generators for consensus types, shared by the property tests. fc.record builds objects
 * without a prototype, so each is spread into a plain object to compare deep-equal with decoder output.
 */
import fc from "fast-check";
import type { Block } from "../../src/consensus/block.ts";
import type { BlockHeader } from "../../src/consensus/header.ts";
import { type BlockRecord, MAX_MINER_NAME_BYTES } from "../../src/consensus/records.ts";

const utf8 = new TextEncoder();
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const hash32 = fc.uint8Array({ minLength: 32, maxLength: 32 });

/** Miner records with any u32 height, any u64 extra-nonce and any Unicode name of at most 64 UTF-8 bytes. */
export const minerRecordArb: fc.Arbitrary<BlockRecord> = fc
  .record({
    type: fc.constant("miner" as const),
    height: u32,
    extraNonce: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    miner: fc
      .string({ unit: "binary", maxLength: MAX_MINER_NAME_BYTES })
      .filter((s) => utf8.encode(s).length <= MAX_MINER_NAME_BYTES),
  })
  .map((r) => ({ ...r }));

/** Well-formed records of every type (signatures are random bytes: encoding does not check them). */
export const recordArb: fc.Arbitrary<BlockRecord> = fc.oneof(
  minerRecordArb,
  fc
    .record({ type: fc.constant("data" as const), data: fc.uint8Array({ maxLength: 600 }) })
    .map((r) => ({ ...r })),
  fc
    .record({
      type: fc.constant("signed" as const),
      data: fc.uint8Array({ maxLength: 300 }),
      publicKey: hash32,
      signature: fc.uint8Array({ minLength: 64, maxLength: 64 }),
    })
    .map((r) => ({ ...r })),
);

export const headerArb: fc.Arbitrary<BlockHeader> = fc
  .record({ version: u32, prevHash: hash32, merkleRoot: hash32, time: u32, bits: u32, nonce: u32 })
  .map((h) => ({ ...h }));

/** Blocks with any header and up to 12 records of any type (not necessarily consensus-valid). */
export const blockArb: fc.Arbitrary<Block> = fc
  .record({ header: headerArb, records: fc.array(recordArb, { maxLength: 12 }) })
  .map((b) => ({ ...b }));
