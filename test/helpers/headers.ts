/**
 * Header chains for the light-client tests: real headers (encoding, merkle roots of real miner records,
 * proof of work, ASERT bits and median times as consensus computes them), mined with node:crypto's SHA-256.
 *
 * `asertnet` is devnet's rules with work small enough to mine in a test (genesis bits about 2^9 hashes,
 * the limit about 2), so ASERT really moves the bits: a header stamped late gets easier bits, one stamped
 * early harder ones, and a header with any other bits is BAD_BITS.
 *
 *   const main = extend(asertnet, [genesisLink(asertnet)], 30);          // genesis + 30 headers
 *   const side = extend(asertnet, main.slice(0, 21), 12, { miner: "b" }); // a branch off height 20
 */
import { bitsToTarget, blockWork } from "../../src/consensus/compact.ts";
import { anchorFromBlockOne, requiredBits } from "../../src/consensus/difficulty.ts";
import { sha256d } from "../../src/consensus/hash.ts";
import { type BlockHeader, encodeHeader, hashToBigInt, hashToHex } from "../../src/consensus/header.ts";
import { defineNetwork, devnet, type NetworkParams } from "../../src/consensus/params.ts";
import type { BlockRecord } from "../../src/consensus/records.ts";
import { buildBlock } from "../../src/consensus/template.ts";
import { medianTimePast } from "../../src/consensus/time.ts";
import { useNativeCrypto } from "../../src/node/crypto.ts";

useNativeCrypto();

const asertGenesis = buildBlock({
  prevHash: new Uint8Array(32),
  height: 0,
  bits: 0x1f7fffff,
  time: devnet.genesis.header.time,
  miner: "genesis",
});

/** Devnet's rules (ASERT, 5 s, half-life 150 s) at test-sized work: genesis bits 0x1f7fffff, limit 0x207fffff. */
export const asertnet: NetworkParams = defineNetwork({
  ...devnet,
  genesis: { header: mineHeader(asertGenesis.header), records: asertGenesis.records },
  powLimit: bitsToTarget(0x207fffff)!,
  checkpoints: new Map(),
});

/** One header of a test chain, with what building on it needs. */
export interface Link {
  header: BlockHeader;
  raw: Uint8Array;
  hash: string;
  height: number;
  chainWork: bigint;
}

/** The network's genesis as the first link of a chain. */
export function genesisLink(p: NetworkParams): Link {
  const header = p.genesis.header;
  return {
    header,
    raw: encodeHeader(header),
    hash: p.genesisHash,
    height: 0,
    chainWork: blockWork(header.bits),
  };
}

/** The first nonce from 0 whose hash meets the header's bits. */
export function mineHeader(h: BlockHeader): BlockHeader {
  const target = bitsToTarget(h.bits);
  if (target === null) throw new Error("bits encode no target");
  for (let nonce = 0; nonce < 2 ** 32; nonce++) {
    const c = { ...h, nonce };
    if (hashToBigInt(sha256d(encodeHeader(c))) <= target) return c;
  }
  throw new Error("no nonce");
}

/** A header that fails its proof of work (hash above its target), for HIGH_HASH cases. */
export function mineHighHeader(h: BlockHeader): BlockHeader {
  const target = bitsToTarget(h.bits)!;
  for (let nonce = 0; ; nonce++) {
    const c = { ...h, nonce };
    if (hashToBigInt(sha256d(encodeHeader(c))) > target) return c;
  }
}

export interface ExtendOptions {
  /** Miner name, to tell branches apart. */
  miner?: string;
  /** Seconds after its parent of the i-th new header (default the network's spacing). */
  spacing?: (i: number) => number;
  /** Records after the miner record of the header at `height`. */
  records?: (height: number) => BlockRecord[];
  /** Bits to use instead of what ASERT requires (for BAD_BITS cases). */
  bits?: (height: number, required: number) => number;
}

/** Link from a header (the chain's work computed from `parent`). */
export function linkOf(parent: Link, header: BlockHeader): Link {
  return {
    header,
    raw: encodeHeader(header),
    hash: hashToHex(sha256d(encodeHeader(header))),
    height: parent.height + 1,
    chainWork: parent.chainWork + blockWork(header.bits),
  };
}

/**
 * `chain` (from genesis, index = height) followed by `count` new mined headers: bits from `requiredBits`
 * (anchored at block 1 of this chain), times at least the median time past + 1.
 */
export function extend(
  p: NetworkParams,
  chain: readonly Link[],
  count: number,
  o: ExtendOptions = {},
): Link[] {
  const out = chain.slice();
  for (let i = 0; i < count; i++) {
    const parent = out[out.length - 1]!;
    const height = parent.height + 1;
    const one = out[1];
    const required = requiredBits(p, parent.height, parent.header.time, () =>
      anchorFromBlockOne(p.genesis.header.bits, one!.header.time, p.targetSpacing),
    );
    const mtp = medianTimePast(out.slice(-11).map((l) => l.header.time));
    const time = Math.max(mtp + 1, parent.header.time + (o.spacing ? o.spacing(i) : p.targetSpacing));
    const block = buildBlock({
      prevHash: sha256d(parent.raw),
      height,
      bits: o.bits ? o.bits(height, required) : required,
      time,
      miner: o.miner ?? "test",
      ...(o.records ? { records: o.records(height) } : {}),
    });
    out.push(linkOf(parent, mineHeader(block.header)));
  }
  return out;
}

/** The raw headers of links. */
export const raws = (links: readonly Link[]): Uint8Array[] => links.map((l) => l.raw);

/** The records of the block at `height` that `extend` built with this miner and these extra records. */
export function blockRecords(height: number, miner: string, records: BlockRecord[] = []): BlockRecord[] {
  return [{ type: "miner", height, extraNonce: 0n, miner }, ...records];
}
