import type { Block } from "../consensus/block.ts";
import { bitsToTarget, targetWork } from "../consensus/compact.ts";
import { hashToBigInt, headerHashBytes } from "../consensus/header.ts";
import { defineNetwork, type NetworkParams, regtest } from "../consensus/params.ts";
import type { BlockRecord } from "../consensus/records.ts";
import { buildBlock } from "../consensus/template.ts";

/**
 * Network parameters for simulations, derived from regtest: every consensus rule is regtest's (sizes,
 * future drift, median time past); what changes is the genesis (its own, so simulated chains can never
 * be mistaken for another network's), the target spacing, and the difficulty schedule.
 *
 * - Without retargeting the genesis bits are regtest's 0x207fffff: about two hashes a block, so nonce
 *   search costs nothing next to validation.
 * - With retargeting (the difficulty experiment) the real ASERT runs, anchored at block 1 as on devnet.
 *   Genesis is twice as hard as the limit (0x203fffff, 4 hashes a block); the difficulty experiment
 *   starts its network five times faster than the target (as devnet's genesis does on one core), so
 *   the target only hardens from there: 20 hashes a block, 200 after a ×10 step.
 */
export const SIM_EASY_BITS = 0x207fffff;
export const SIM_RETARGET_BITS = 0x203fffff;

export interface SimParamsOptions {
  /** Target seconds between blocks. */
  spacing: number;
  /** Run ASERT with this half-life (seconds); omit for fixed difficulty. */
  asertHalfLife?: number;
}

/** Searches nonces from 0 for the first header at or under its target; throws after `maxTries`. */
export function solve(block: Block, maxTries = 1_000_000): Block {
  const target = bitsToTarget(block.header.bits);
  if (target === null) throw new RangeError(`bits 0x${block.header.bits.toString(16)} encode no target`);
  const header = { ...block.header };
  for (let i = 0; i < maxTries; i++) {
    header.nonce = i;
    if (hashToBigInt(headerHashBytes(header)) <= target) return { header, records: block.records };
  }
  throw new Error(`no nonce in ${maxTries} tries at bits 0x${block.header.bits.toString(16)}`);
}

/** Data records of `bytes` bytes in all, tagged with `tag` so no two blocks' records are the same. */
export function paddingRecords(bytes: number, params: NetworkParams, tag: number): BlockRecord[] {
  const records: BlockRecord[] = [];
  for (let left = bytes, i = 0; left > 0; i++) {
    const n = Math.min(left, params.maxRecordSize - 16);
    const data = new Uint8Array(n);
    new DataView(data.buffer).setUint32(0, tag * 64 + i);
    records.push({ type: "data", data });
    left -= n;
  }
  return records;
}

const genesisCache = new Map<number, Block>();

function simGenesis(bits: number): Block {
  let g = genesisCache.get(bits);
  if (!g) {
    const template = buildBlock({
      prevHash: new Uint8Array(32),
      height: 0,
      bits,
      time: regtest.genesis.header.time,
      miner: "jbc-sim genesis",
    });
    g = solve(template);
    genesisCache.set(bits, g);
  }
  return g;
}

/** A simulation network: regtest's rules with the given spacing and, optionally, ASERT. */
export function simParams(o: SimParamsOptions): NetworkParams {
  const retarget = o.asertHalfLife !== undefined;
  return defineNetwork({
    ...regtest,
    networkId: 0x6a626373, // "jbcs"
    genesis: simGenesis(retarget ? SIM_RETARGET_BITS : SIM_EASY_BITS),
    powLimit: bitsToTarget(SIM_EASY_BITS)!,
    targetSpacing: o.spacing,
    asertHalfLife: o.asertHalfLife ?? regtest.asertHalfLife,
    noRetargeting: !retarget,
  });
}

/** Expected hashes per block at `bits` (as a float). */
export function bitsWork(bits: number): number {
  const t = bitsToTarget(bits);
  if (t === null) throw new RangeError(`bits 0x${bits.toString(16)} encode no target`);
  return Number(targetWork(t));
}
