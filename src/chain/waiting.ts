import { blockWork } from "../consensus/compact.ts";
import { BoundedMap } from "../util/bounded.ts";
import { DEFAULT_HEADER_LIMITS, HeaderIndex, type HeaderLimits } from "./headers.ts";
import { BlockPool, DEFAULT_FUTURE_LIMITS, DEFAULT_ORPHAN_LIMITS, type PoolLimits } from "./pools.ts";
import type { BlockTree } from "./tree.ts";
import type { ChainEntry } from "./types.ts";

/**
 * What the chain holds outside its tree, and the policy for blocks nobody asked for (docs/protocol.md,
 * "Blocks nobody asked for"): the orphan and future pools (bytes, per source), the headers kept without
 * bodies, and how many unrequested side bodies each fork point has had. Memory only; every method runs
 * inside the Chain's queue.
 */

/**
 * How far behind the tip, in blocks of work at the tip's bits, the branch of an unrequested block may be and
 * still have its body kept: 1, so the block that loses a race by one block is at hand when its branch
 * overtakes (no download round trip), while every body kept below the tip costs its sender a whole block
 * of work at the current difficulty.
 */
export const SIDE_MARGIN_BLOCKS = 1;

/** Unrequested side blocks kept with their bodies per fork point (a three-way race keeps both losers). */
export const MAX_SIDE_BODIES_PER_FORK = 2;

/**
 * Seconds past the network's future drift a block may be ahead of the clock and still be held for a retry;
 * further ahead it is refused (TIME_TOO_NEW, penalty 0) and not held: its sender's clock is wrong.
 */
export const FUTURE_HOLD_SECONDS = 60;

/** Bounds of what the chain holds outside its tree. */
export interface WaitingLimits {
  orphans: PoolLimits;
  future: PoolLimits;
  headers: HeaderLimits;
}

/** The defaults of pools.ts and headers.ts. */
export const DEFAULT_WAITING_LIMITS: WaitingLimits = {
  orphans: DEFAULT_ORPHAN_LIMITS,
  future: DEFAULT_FUTURE_LIMITS,
  headers: DEFAULT_HEADER_LIMITS,
};

/** The chain's pools, held headers and side-body counts, with the policy that uses them. */
export class Waiting {
  readonly orphans: BlockPool;
  readonly future: BlockPool;
  readonly headers: HeaderIndex;
  /** Fork point → unrequested side bodies kept there (the most recent fork points). */
  private readonly sideBodies = new BoundedMap<string, number>(4_096);

  constructor(limits: WaitingLimits, clock: () => number = Date.now) {
    this.orphans = new BlockPool(limits.orphans, clock);
    this.future = new BlockPool(limits.future, clock);
    this.headers = new HeaderIndex(limits.headers, clock);
  }

  /**
   * Whether an unrequested block whose branch has `work` and leaves the main chain at `fork` keeps its
   * body: more work than the tip always; otherwise within SIDE_MARGIN_BLOCKS of it, while the fork point has
   * had fewer than MAX_SIDE_BODIES_PER_FORK such bodies.
   */
  hasChance(work: bigint, tip: ChainEntry, fork: string): boolean {
    if (work > tip.chainWork) return true;
    const margin = BigInt(SIDE_MARGIN_BLOCKS) * blockWork(tip.header.bits);
    return work + margin >= tip.chainWork && (this.sideBodies.get(fork) ?? 0) < MAX_SIDE_BODIES_PER_FORK;
  }

  /** Counts an unrequested side body kept at `fork`. */
  keptSide(fork: string): void {
    this.sideBodies.set(fork, (this.sideBodies.get(fork) ?? 0) + 1);
  }

  /** The main-chain block `parent`'s branch leaves from (parent itself when it is main). */
  forkOf(parent: ChainEntry, tree: BlockTree): string {
    return this.headers.forkOf(parent.hash) ?? tree.branchOf(parent).fork.hash;
  }

  /** A block joined the tree: nothing waits for it as a header or in a pool any more. */
  joined(entry: ChainEntry): void {
    this.headers.delete(entry.hash);
    this.headers.relink(entry);
    this.orphans.remove(entry.hash);
    this.future.remove(entry.hash);
  }
}
