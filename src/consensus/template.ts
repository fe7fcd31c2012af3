import type { Block } from "./block.ts";
import { merkleRoot } from "./merkle.ts";
import { type BlockRecord, recordId } from "./records.ts";

export interface BlockTemplateInput {
  prevHash: Uint8Array;
  height: number;
  bits: number;
  time: number;
  miner: string;
  extraNonce?: bigint;
  /** Records after the miner record. */
  records?: BlockRecord[];
  version?: number;
}

/** Assembles a block (nonce 0) with its miner record and merkle root; the caller searches the nonce. */
export function buildBlock(t: BlockTemplateInput): Block {
  const records: BlockRecord[] = [
    { type: "miner", height: t.height, extraNonce: t.extraNonce ?? 0n, miner: t.miner },
    ...(t.records ?? []),
  ];
  return {
    header: {
      version: t.version ?? 1,
      prevHash: t.prevHash,
      merkleRoot: merkleRoot(records.map(recordId)),
      time: t.time,
      bits: t.bits,
      nonce: 0,
    },
    records,
  };
}
