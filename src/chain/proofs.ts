/**
 * Reading one main-chain record and its inclusion proof from the store, without decoding or hashing the
 * whole block: the record offsets come from the body's lengths alone, and the branch from the merkle
 * upper levels stored with the body plus at most UPPER_TREE_SPAN re-hashed records (Certificate
 * Transparency logs serve audit paths from stored tree nodes the same way; Bitcoin Core's gettxoutproof
 * re-hashes the whole block, which at 1,000 records costs milliseconds). Every proof is folded back to
 * the header's merkle root before it is returned, so a damaged store gives an error, never a bad proof.
 */
import { recordOffsets } from "../consensus/block.ts";
import { bytesEqual, DecodeError } from "../consensus/bytes.ts";
import { sha256d } from "../consensus/hash.ts";
import { HEADER_SIZE, hashToHex } from "../consensus/header.ts";
import { branchLeafRange, merkleBranchFromUpper } from "../consensus/merkle.ts";
import { assembleRecordProof, type RecordProof } from "../consensus/proof.ts";
import { type BlockRecord, decodeRecord } from "../consensus/records.ts";
import { type ChainStore, StoreError } from "./store.ts";

export interface StoredRecord {
  record: BlockRecord;
  /** Header time of its block. */
  time: number;
  /** With `proof`: the inclusion proof (docs/consensus.md, "Record proofs"). */
  proof?: RecordProof;
}

/**
 * The record at `index` of the stored block `hash`, with its proof when `proof` is set; undefined when
 * the body is not stored. Throws StoreError CORRUPT when the body, the upper levels and the header do not
 * agree (or the block has no such record: the record index then points at a place that does not exist).
 */
export async function readStoredRecord(
  store: ChainStore,
  hash: Uint8Array,
  index: number,
  proof: boolean,
): Promise<StoredRecord | undefined> {
  const [raw, upper] = await Promise.all([
    store.getBlock(hash),
    proof ? store.getUpperTrees([hash]).then((u) => u[0]) : undefined,
  ]);
  if (!raw) return undefined;
  const corrupt = (why: string): StoreError =>
    new StoreError("CORRUPT", `block ${hashToHex(hash)}, record ${index}: ${why}`);
  try {
    const offsets = recordOffsets(raw);
    const count = offsets.length - 1;
    if (index >= count) throw corrupt(`the block has ${count} records`);
    const bytes = (i: number): Uint8Array => raw.subarray(offsets[i]!, offsets[i + 1]!);
    const header = raw.subarray(0, HEADER_SIZE);
    const time = new DataView(raw.buffer, raw.byteOffset + 68, 4).getUint32(0, true);
    const record = decodeRecord(bytes(index));
    if (!proof) return { record, time };
    // The miner record's branch travels with every other record's (src/consensus/proof.ts says why): at
    // most UPPER_TREE_SPAN more records hashed, none when the record shares the miner's aligned run.
    const runs = new Map<number, Uint8Array[]>();
    const branchOf = (at: number): Uint8Array[] => {
      const { from, to } = branchLeafRange(at, count);
      let leaves = runs.get(from);
      if (!leaves) {
        leaves = [];
        for (let i = from; i < to; i++) leaves.push(sha256d(bytes(i)));
        runs.set(from, leaves);
      }
      const { branch, root } = merkleBranchFromUpper(leaves, at, count, upper);
      if (!bytesEqual(root, header.subarray(36, 68)))
        throw corrupt(`the branch of record ${at} does not lead to the header's merkle root`);
      return branch;
    };
    const made = assembleRecordProof(
      header,
      index,
      count,
      branchOf(index),
      bytes(0),
      index === 0 ? [] : branchOf(0),
    );
    return { record, time, proof: made };
  } catch (err) {
    if (err instanceof DecodeError || err instanceof RangeError) throw corrupt(err.message);
    throw err;
  }
}
