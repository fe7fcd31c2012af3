import { type Block, decodeBlockSteps, encodeBlock, readBlockPrefix } from "../consensus/block.ts";
import { DecodeError } from "../consensus/bytes.ts";
import { blockWork } from "../consensus/compact.ts";
import { BlockError, type BlockErrorData } from "../consensus/errors.ts";
import { checkGenesis, claimsGenesis } from "../consensus/genesis.ts";
import { sha256d } from "../consensus/hash.ts";
import { type BlockHeader, HEADER_SIZE, hashToHex } from "../consensus/header.ts";
import type { NetworkParams } from "../consensus/params.ts";
import { checkHeaderTime, checkHeaderWork } from "../consensus/validate.ts";
import type { BoundedMap } from "../util/bounded.ts";
import type { Logger } from "../util/logger.ts";
import { runSliced } from "../util/slices.ts";
import { checkHeaderPlace } from "./connect.ts";
import { ChainError, SIDE_QUOTA_PENALTY } from "./errors.ts";
import type { BlockPool, Pooled } from "./pools.ts";
import { type BlockTree, isInvalid, knownInvalidError } from "./tree.ts";
import type { ChainEntry, ProcessResult } from "./types.ts";
import { FUTURE_HOLD_SECONDS, type Waiting } from "./waiting.ts";

/**
 * The chain's front door, steps 1 to 4 and 6 of processBlock (chain.ts): a block as it reaches the chain,
 * before anything is spent on its body (its header, hash and record count read from the bytes,
 * readBlockPrefix), how it arrived, and what happens to it until the chain either keeps it (step 5, the
 * Chain's `accept`) or not: lookups, the header's checks, the pools, the policy for blocks nobody asked for,
 * the headers kept without bodies, and the orphans a block unlocks. The body is decoded only when the chain
 * keeps the block (`decode`), so a block parked in a pool or kept as a header costs a copy of its bytes at
 * most. Every method of Intake runs inside the Chain's queue.
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

/**
 * The decoded block (decoding its bytes once, in the node's time slices: a gossiped maximum-size block is
 * 4,096 records); BlockError MALFORMED, not cacheable, when they do not decode.
 */
export async function decode(item: Incoming): Promise<Block> {
  if (item.block) return item.block;
  try {
    item.block = await runSliced(decodeBlockSteps(item.raw));
    return item.block;
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    throw new BlockError({ code: "MALFORMED", reason: err.message }, item.hash);
  }
}

/** What the front door shares with the Chain that owns it. */
export interface IntakeContext {
  params: NetworkParams;
  tree: BlockTree;
  waiting: Waiting;
  /** Hashes known invalid without being stored (read here; the Chain's `rejected` writes it). */
  invalid: BoundedMap<string, BlockErrorData>;
  minChainWork: bigint;
  now(): number;
  log: Logger;
  /** Records a rejection (the Chain's): caches a bad hash when cacheable, emits `invalid`; returns `err`. */
  rejected(err: unknown, hash: string): unknown;
  /** Step 5, the Chain's: a block the node keeps, through the body's checks and accept.ts; its entry. */
  accept(item: Incoming, parent: ChainEntry): Promise<ChainEntry>;
}

/** Steps 1 to 4 and 6 of processBlock, for the Chain that owns it (one per Chain). */
export class Intake {
  constructor(private readonly ctx: IntakeContext) {}

  /** Steps 1 to 6 for one block (a Block or its bytes), as it arrived. Runs inside the queue. */
  async run(input: Block | Uint8Array, arrival: Arrival): Promise<ProcessResult> {
    let item: Incoming;
    try {
      item = incoming(input, arrival);
    } catch (err) {
      throw this.ctx.rejected(err, err instanceof BlockError ? (err.hash ?? "") : "");
    }
    const seen = this.seen(item);
    if (seen) return seen;
    this.checkHeader(item);
    const parent = this.ctx.tree.get(item.prevHash) ?? this.ctx.waiting.headers.get(item.prevHash);
    if (!parent) return this.orphan(item);
    const before = this.ctx.tree.tip;
    const { entry, result } = await this.place(item, parent);
    await this.connectOrphans(entry);
    return result ?? this.outcome(entry, before);
  }

  /** Step 1: the block's standing if it is known already (this source's copy, for the pools). Runs inside the queue. */
  private seen(item: Incoming): ProcessResult | undefined {
    const { hash } = item;
    const known = this.ctx.tree.get(hash);
    if (known) {
      if (isInvalid(known)) throw knownInvalidError(known);
      return { status: "duplicate", hash };
    }
    const cached = this.ctx.invalid.get(hash);
    if (cached) throw new BlockError(cached, hash);
    const { orphans, future } = this.ctx.waiting;
    if (orphans.holds(item) || future.holds(item)) return { status: "duplicate", hash };
    return undefined;
  }

  /**
   * Step 2: what the header and the first bytes allow (proof of work, size, record count, time); a block that
   * is only early, by less than FUTURE_HOLD_SECONDS past the drift, is held as bytes. Runs inside the queue.
   */
  private checkHeader(item: Incoming): void {
    const { header, hash, params } = { ...item, params: this.ctx.params };
    const now = this.ctx.now();
    try {
      checkHeaderWork(header, item.hashBytes, hash, params);
      if (item.raw.length > params.maxBlockSize) {
        const size = item.raw.length;
        throw new BlockError({ code: "BAD_SIZE", size, max: params.maxBlockSize, what: "block" }, hash);
      }
      if (item.count > params.maxBlockRecords) {
        const max = params.maxBlockRecords;
        throw new BlockError({ code: "BAD_SIZE", size: item.count, max, what: "records" }, hash);
      }
      checkHeaderTime(header, hash, params, now);
    } catch (err) {
      const early = err instanceof BlockError && err.code === "TIME_TOO_NEW";
      if (early && header.time <= now + params.maxFutureDrift + FUTURE_HOLD_SECONDS)
        this.park(this.ctx.waiting.future, item, "future");
      throw this.ctx.rejected(err, hash);
    }
  }

  /** Step 3: a block whose parent is unknown waits as bytes (a claimed genesis must be ours). Runs inside the queue. */
  private orphan(item: Incoming): ProcessResult {
    const { hash, prevHash } = item;
    try {
      if (claimsGenesis(item.header)) checkGenesis(hash, this.ctx.params);
      if (this.ctx.invalid.has(prevHash))
        throw new BlockError({ code: "INVALID_PARENT", parent: prevHash }, hash);
    } catch (err) {
      throw this.ctx.rejected(err, hash);
    }
    const { orphans } = this.ctx.waiting;
    if (!this.park(orphans, item, "orphan")) return { status: "orphan", hash, missingParent: prevHash };
    return { status: "orphan", hash, missingParent: orphans.missingRoot(hash) ?? prevHash };
  }

  /** Holds a block as bytes in a pool (false if it could not stay), logging what it displaced. Runs inside the queue. */
  private park(pool: BlockPool, item: Incoming, what: string): boolean {
    const { hash, prevHash, header, raw, source, requested } = item;
    const { kept, dropped } = pool.add({ hash, prevHash, header, raw, source, requested });
    if (dropped.length)
      this.ctx.log.debug({ dropped: dropped.length, source }, `${what} pool full: dropped oldest`);
    return kept;
  }

  /**
   * Steps 4 and 5 for a block whose parent is known (a tree entry, or a header held without its body): the
   * header against the parent, then the policy for blocks nobody asked for; a block the node keeps goes
   * through the body's checks and accept.ts, one it does not keeps only its header (`result` then says
   * so). Throws the BlockError or ChainError that refused it. Runs inside the queue.
   */
  private async place(
    item: Incoming,
    parent: ChainEntry,
  ): Promise<{ entry: ChainEntry; result?: ProcessResult }> {
    try {
      checkHeaderPlace(
        item.header,
        item.hash,
        this.ctx.params,
        this.ctx.tree.view(parent),
        this.ctx.tree.heldCheckpoint(),
      );
    } catch (err) {
      throw this.ctx.rejected(err, item.hash);
    }
    const work = parent.chainWork + blockWork(item.header.bits);
    if (!item.requested && work < this.ctx.minChainWork) {
      throw new ChainError(
        "LOW_WORK",
        `chain work ${work} is below this network's minimum ${this.ctx.minChainWork}`,
      );
    }
    const stored = this.ctx.tree.get(parent.hash) === parent;
    // A body the node wants (its header is held on a branch that outworks the tip) is as good as asked for:
    // a sender that posts such a branch again, oldest first, gets it taken (docs/api.md, POST /api/blocks).
    const wanted = this.ctx.waiting.headers.wanted(item.hash, this.ctx.tree.tip.chainWork);
    if (stored && (item.requested || wanted)) return { entry: await this.ctx.accept(item, parent) };
    const fork = this.ctx.waiting.forkOf(parent, this.ctx.tree);
    if (!stored || !this.ctx.waiting.hasChance(work, this.ctx.tree.tip, fork))
      return this.keepHeader(item, parent, fork);
    const entry = await this.ctx.accept(item, parent);
    if (!this.ctx.tree.isMain(entry)) this.ctx.waiting.keptSide(fork);
    return { entry };
  }

  /** Step 4's other end: only the header of a block nobody asked for is kept (headers.ts). Runs inside the queue. */
  private keepHeader(
    item: Incoming,
    parent: ChainEntry,
    fork: string,
  ): { entry: ChainEntry; result: ProcessResult } {
    const { headers } = this.ctx.waiting;
    const { hash, source } = item;
    const held = headers.get(hash);
    if (held) return { entry: held, result: { status: "duplicate", hash } };
    const id = { hex: hash, bytes: item.hashBytes };
    const entry = this.ctx.tree.headerEntry(item.header, id, parent, item.raw.length, item.count);
    const refusal = headers.add(entry, source, fork);
    if (refusal) {
      const why =
        refusal === "source" ? `${source} holds its share of side headers` : `the ${refusal} share is used`;
      throw new ChainError(
        "SIDE_QUOTA",
        `block ${hash} below the tip's work not kept: ${why}`,
        refusal === "source" ? SIDE_QUOTA_PENALTY : 0,
      );
    }
    const more = entry.chainWork > this.ctx.tree.tip.chainWork;
    const result: ProcessResult = { status: "side", hash, height: entry.height, headerOnly: true };
    return { entry, result: more ? { ...result, needsBodies: true } : result };
  }

  /**
   * Step 6: orphans whose parent arrived (stored, or held as a header), breadth first, each copy as its sender
   * sent it; a bad one stops no other, and a copy whose block is placed already is dropped. Runs inside the queue.
   */
  async connectOrphans(parent: ChainEntry): Promise<void> {
    const queue = [parent];
    while (queue.length) {
      const p = queue.shift()!;
      for (const o of this.ctx.waiting.orphans.takeChildren(p.hash)) {
        if (this.ctx.tree.has(o.hash) || this.ctx.waiting.headers.has(o.hash)) continue;
        try {
          queue.push((await this.place(fromPool(o), p)).entry);
        } catch (err) {
          this.ctx.log.debug({ hash: o.hash, err }, "orphan rejected");
        }
      }
    }
  }

  /** Main or side for the block, with the net reorg this call caused. Runs inside the queue. */
  private outcome(entry: ChainEntry, before: ChainEntry): ProcessResult {
    if (!this.ctx.tree.isMain(entry)) return { status: "side", hash: entry.hash, height: entry.height };
    const result: ProcessResult = { status: "main", hash: entry.hash, height: entry.height };
    if (!this.ctx.tree.isMain(before))
      return { ...result, reorg: this.ctx.tree.reorgBetween(before, this.ctx.tree.tip) };
    return result;
  }
}
