import { type Block, decodeBlock, encodeBlock, readBlockPrefix } from "../consensus/block.ts";
import { DecodeError } from "../consensus/bytes.ts";
import { BlockError } from "../consensus/errors.ts";
import { sha256d } from "../consensus/hash.ts";
import { type BlockHeader, HEADER_SIZE, hashToHex } from "../consensus/header.ts";
import type { Pooled } from "./pools.ts";

/**
 * A block as it reaches the chain, before anything is spent on its body: its header, hash and record count
 * read from the bytes (readBlockPrefix), and how it arrived. The body is decoded only when the chain keeps
 * it (`decode`), so a block parked in a pool or kept as a header costs a copy of its bytes at most.
 */

/** How a block reached the chain: who sent it and whether this node asked for it. */
export interface Arrival {
  /** The serialized block, when the caller has it (saves encoding a Block again). */
  raw?: Uint8Array | undefined;
  /**
   * Who sent it: a peer id, "http", … Quotas (queue, pools, held headers) are per source. Default "local".
   */
  source?: string | undefined;
  /**
   * The node asked for it (a sync's download, Bitcoin Core's `fRequested`): its body is kept whatever its
   * branch's work. Default false: a block nobody asked for (gossip, HTTP, a miner) is kept only while its
   * branch has a chance (docs/protocol.md, "Blocks nobody asked for").
   */
  requested?: boolean | undefined;
}

/** The source of a block whose caller named none. */
export const LOCAL_SOURCE = "local";

/** A block at the chain's door: what its first bytes say, and how it came. */
export interface Incoming {
  /** The decoded block, when the caller had one. */
  block: Block | undefined;
  raw: Uint8Array;
  header: BlockHeader;
  hashBytes: Uint8Array;
  hash: string;
  prevHash: string;
  /** Records the block declares. */
  count: number;
  source: string;
  requested: boolean;
}

/**
 * Reads a block's header, hash and record count (and encodes a Block given without its bytes). A Uint8Array
 * as `arrival` is the serialized block (processBlock's older form). Throws BlockError MALFORMED (not
 * cacheable) when the bytes do not even hold a header and a record count.
 */
export function incoming(input: Block | Uint8Array, arrival?: Uint8Array | Arrival): Incoming {
  const a: Arrival = arrival instanceof Uint8Array ? { raw: arrival } : (arrival ?? {});
  const raw = input instanceof Uint8Array ? input : (a.raw ?? encodeBlock(input));
  let prefix: ReturnType<typeof readBlockPrefix>;
  try {
    prefix = readBlockPrefix(raw);
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    throw new BlockError({ code: "MALFORMED", reason: err.message });
  }
  const hashBytes = sha256d(raw.subarray(0, HEADER_SIZE));
  return {
    block: input instanceof Uint8Array ? undefined : input,
    raw,
    header: prefix.header,
    hashBytes,
    hash: hashToHex(hashBytes),
    prevHash: hashToHex(prefix.header.prevHash),
    count: prefix.count,
    source: a.source ?? LOCAL_SOURCE,
    requested: a.requested ?? false,
  };
}

/** A pooled block back at the door, as it first arrived (same source, same standing). */
export function fromPool(p: Pooled): Incoming {
  return incoming(p.raw, { source: p.source, requested: p.requested });
}

/** The decoded block (decoding its bytes once); BlockError MALFORMED, not cacheable, when they do not decode. */
export function decode(item: Incoming): Block {
  if (item.block) return item.block;
  try {
    item.block = decodeBlock(item.raw);
    return item.block;
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    throw new BlockError({ code: "MALFORMED", reason: err.message }, item.hash);
  }
}
