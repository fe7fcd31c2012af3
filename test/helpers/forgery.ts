/**
 * The two forgeries of the 64-byte merkle ambiguity (docs/security.md, "Forged record proofs" and "Forged
 * block body"), built the way an attacker builds them, for the tests that show they are refused. Blocks
 * here are made with the real encoders and mined at the network's target; some deliberately break the
 * 64-byte rule, so they never go through a node's checks on the way in.
 */
import { createHash } from "node:crypto";
import { type Block, recordIds } from "../../src/consensus/block.ts";
import { toHex } from "../../src/consensus/bytes.ts";
import { encodeHeader } from "../../src/consensus/header.ts";
import { merkleRoot } from "../../src/consensus/merkle.ts";
import type { NetworkParams } from "../../src/consensus/params.ts";
import { merkleBranch, merkleLevels, type RecordProof } from "../../src/consensus/proof.ts";
import { type BlockRecord, type DataRecord, encodeRecord } from "../../src/consensus/records.ts";
import { mineBlock } from "./blocks.ts";

export const utf8 = new TextEncoder();

/** sha256d with node:crypto (grinding needs the speed). */
export function sha256d(bytes: Uint8Array): Uint8Array {
  const once = createHash("sha256").update(bytes).digest();
  return new Uint8Array(createHash("sha256").update(once).digest());
}

/** What nobody submitted: "Alice owes Mallory 1,000,000". */
export const invented: DataRecord = { type: "data", data: utf8.encode("Alice owes Mallory 1,000,000") };

/**
 * The carrier: an ordinary-looking data record of 62 bytes (64 encoded) whose last 32 bytes are the id of
 * `invented`. To the merkle tree it is an inner node over (its first 32 bytes, the invented id).
 */
export function carrierFor(record: BlockRecord = invented): DataRecord {
  const data = new Uint8Array(62);
  data.set(utf8.encode("meeting notes, 6 December ~~~~"), 0); // 30 bytes, after `01 3e`
  data.set(sha256d(encodeRecord(record)), 30);
  return { type: "data", data };
}

/** A mined block on `parent` at `height` with these records after the miner record (no rule checked). */
export function blockWith(
  params: NetworkParams,
  parent: Block,
  height: number,
  records: BlockRecord[],
  miner = "forger",
  extraNonce = 0n,
): Block {
  const all: BlockRecord[] = [{ type: "miner", height, extraNonce, miner }, ...records];
  const block: Block = {
    header: {
      version: 1,
      prevHash: sha256d(encodeHeader(parent.header)),
      merkleRoot: merkleRoot(all.map((r) => sha256d(encodeRecord(r)))),
      time: parent.header.time + params.targetSpacing,
      bits: parent.header.bits,
      nonce: 0,
    },
    records: all,
  };
  return mineBlock(block, 10_000_000);
}

/**
 * The format-2 proof an attacker writes for `invented` in a block carrying its carrier at `carrierIndex`:
 * the invented id one level below the carrier (index 2i + 1), the carrier's first 32 bytes as its sibling,
 * a count that makes the tree one level deeper, and the real miner record with its real (too short) branch.
 */
export function inventedProof(block: Block, carrierIndex: number): RecordProof {
  const ids = recordIds(block);
  const levels = merkleLevels(ids);
  const carrier = encodeRecord(block.records[carrierIndex]!);
  const branch = [carrier.subarray(0, 32), ...merkleBranch(levels, carrierIndex)];
  return {
    version: 2,
    header: toHex(encodeHeader(block.header)),
    index: 2 * carrierIndex + 1,
    count: 2 * ids.length,
    branch: branch.map((b) => toHex(b)),
    miner: {
      record: toHex(encodeRecord(block.records[0]!)),
      branch: merkleBranch(levels, 0).map((b) => toHex(b)),
    },
  };
}

/** The version-1 proof (header, index, branch) that passed before the rule, for the same forgery. */
export function inventedProofV1(
  block: Block,
  carrierIndex: number,
): { header: string; index: number; branch: string[] } {
  const { header, index, branch } = inventedProof(block, carrierIndex);
  return { header, index, branch };
}

/**
 * A two-record block (miner record, `record`) whose miner record's id starts `01 3e`, found by grinding the
 * extra-nonce (about 2^16 tries): its root's left child then reads as a data record of 62 bytes, so the
 * one-record body `id0 ‖ id1` hashes to the same root. Returns the real block and that forged body.
 */
export function grindInnerNodeBlock(
  params: NetworkParams,
  parent: Block,
  height: number,
  record: BlockRecord,
  miner = "grinder",
): { real: Block; forged: Block; innerBytes: Uint8Array } {
  for (let extraNonce = 0n; extraNonce < 5_000_000n; extraNonce++) {
    const id0 = sha256d(encodeRecord({ type: "miner", height, extraNonce, miner }));
    if (id0[0] !== 0x01 || id0[1] !== 0x3e) continue;
    const real = blockWith(params, parent, height, [record], miner, extraNonce);
    const [a, b] = recordIds(real);
    const innerBytes = new Uint8Array(64);
    innerBytes.set(a!, 0);
    innerBytes.set(b!, 32);
    const forged: Block = { header: real.header, records: [{ type: "data", data: innerBytes.slice(2) }] };
    return { real, forged, innerBytes };
  }
  throw new Error("no extra-nonce gave a left child starting 01 3e");
}
