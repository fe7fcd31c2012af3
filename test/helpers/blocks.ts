/**
 * Block builders for tests. They mine real blocks (regtest's target passes about every second hash),
 * so tests run the real encoding, merkle and proof-of-work code instead of stubbing it.
 *
 * Typical use:
 *   const chain = makeChain(regtest, 5);                 // genesis + 5 blocks
 *   const fork = makeChain(regtest, 3, { from: chain[2], miner: "b" });  // a side branch off block 2
 *   const bad = makeChild(chain[5]!, regtest, { height: 99 });           // wrong miner-record height
 */
import type { Block } from "../../src/consensus/block.ts";
import { bitsToTarget } from "../../src/consensus/compact.ts";
import { anchorFromBlockOne, asertBits } from "../../src/consensus/difficulty.ts";
import { hashToBigInt, headerHash, headerHashBytes } from "../../src/consensus/header.ts";
import type { NetworkParams } from "../../src/consensus/params.ts";
import type { BlockRecord } from "../../src/consensus/records.ts";
import { buildBlock } from "../../src/consensus/template.ts";
import { medianTimePast } from "../../src/consensus/time.ts";
import type { BlockContext } from "../../src/consensus/validate.ts";

/** Display hash of a block. */
export function blockHash(block: Block): string {
  return headerHash(block.header);
}

/** Height written in the block's miner record (record 0); throws if record 0 is not a miner record. */
export function blockHeight(block: Block): number {
  const rec = block.records[0];
  if (rec?.type !== "miner") throw new Error("block has no miner record");
  return rec.height;
}

/** Copy of `block` with its header nonce replaced. */
export function withNonce(block: Block, nonce: number): Block {
  return { header: { ...block.header, nonce }, records: block.records };
}

/**
 * Searches nonces from `block.header.nonce` upwards for the first header `accept`s, given its hash as an
 * integer and the target its bits encode. Throws after `maxTries`, so a target that is too hard for a
 * test fails loudly instead of hanging.
 */
export function searchNonce(
  block: Block,
  accept: (hash: bigint, target: bigint) => boolean,
  maxTries = 100_000,
): Block {
  const target = bitsToTarget(block.header.bits);
  if (target === null) throw new Error(`bits 0x${block.header.bits.toString(16)} encode no target`);
  let nonce = block.header.nonce;
  for (let i = 0; i < maxTries; i++, nonce = (nonce + 1) >>> 0) {
    const candidate = withNonce(block, nonce);
    if (accept(hashToBigInt(headerHashBytes(candidate.header)), target)) return candidate;
  }
  throw new Error(`no acceptable nonce in ${maxTries} tries`);
}

/** The block with the first nonce whose hash meets its target (hash <= target). */
export function mineBlock(block: Block, maxTries?: number): Block {
  return searchNonce(block, (hash, target) => hash <= target, maxTries);
}

/** The block with the first nonce whose hash misses its target, for HIGH_HASH tests. */
export function mineHighHash(block: Block, maxTries?: number): Block {
  return searchNonce(block, (hash, target) => hash > target, maxTries);
}

export interface ChildOptions {
  /** Default: parent time + params.targetSpacing. */
  time?: number;
  /**
   * Default: the parent's bits, which is right on a network without retargeting (regtest). On a
   * retargeting network pass `nextContext(chain, params).expectedBits`.
   */
  bits?: number;
  /** Miner name; vary it to make sibling blocks with different hashes. Default "test". */
  miner?: string;
  extraNonce?: bigint;
  /** Records after the miner record. */
  records?: BlockRecord[];
  /** Miner-record height; default parent height + 1 (override to build BAD_HEIGHT blocks). */
  height?: number;
  version?: number;
  /** Set false to leave the nonce at 0 without mining. Default true. */
  mine?: boolean;
}

/** Builds (and by default mines) a block on top of `parent`. */
export function makeChild(parent: Block, params: NetworkParams, opts: ChildOptions = {}): Block {
  const block = buildBlock({
    prevHash: headerHashBytes(parent.header),
    height: opts.height ?? blockHeight(parent) + 1,
    bits: opts.bits ?? parent.header.bits,
    time: opts.time ?? parent.header.time + params.targetSpacing,
    miner: opts.miner ?? "test",
    ...(opts.extraNonce !== undefined ? { extraNonce: opts.extraNonce } : {}),
    ...(opts.records !== undefined ? { records: opts.records } : {}),
    ...(opts.version !== undefined ? { version: opts.version } : {}),
  });
  return opts.mine === false ? block : mineBlock(block);
}

export interface ChainOptions {
  /** Block to build on; default the network's genesis. Included as element 0 of the result. */
  from?: Block;
  /** Miner name for every block (vary it between branches). */
  miner?: string;
  /** Seconds between blocks; default params.targetSpacing. */
  spacing?: number;
  /** Bits of every block; default each parent's. */
  bits?: number;
  /** Records after the miner record, per height. */
  records?: (height: number) => BlockRecord[];
}

/**
 * `from` (default genesis) followed by `length` mined blocks, each `spacing` seconds after its parent.
 * Only for networks without retargeting or with a trivial powLimit; bits stay the starting block's.
 */
export function makeChain(params: NetworkParams, length: number, opts: ChainOptions = {}): Block[] {
  const chain = [opts.from ?? params.genesis];
  for (let i = 0; i < length; i++) {
    const parent = chain[chain.length - 1]!;
    chain.push(
      makeChild(parent, params, {
        time: parent.header.time + (opts.spacing ?? params.targetSpacing),
        miner: opts.miner ?? "test",
        ...(opts.bits !== undefined ? { bits: opts.bits } : {}),
        ...(opts.records ? { records: opts.records(blockHeight(parent) + 1) } : {}),
      }),
    );
  }
  return chain;
}

/**
 * The context `checkBlockContext` needs for the block after the last of `chain` (a main chain from
 * genesis, index = height): the rule in docs/consensus.md, i.e. genesis bits for blocks 1 and 2 or
 * without retargeting, otherwise ASERT anchored at block 1.
 */
export function nextContext(chain: readonly Block[], params: NetworkParams): BlockContext {
  const height = chain.length;
  const tip = chain[chain.length - 1]!;
  const genesisBits = params.genesis.header.bits;
  let expectedBits = genesisBits;
  if (!params.noRetargeting && height >= 2) {
    const anchor = anchorFromBlockOne(genesisBits, chain[1]!.header.time, params.targetSpacing);
    expectedBits = asertBits(
      anchor,
      height - 1,
      tip.header.time,
      params.targetSpacing,
      params.asertHalfLife,
      params.powLimit,
    );
  }
  return {
    height,
    expectedBits,
    medianTimePast: medianTimePast(chain.map((b) => b.header.time)),
  };
}
