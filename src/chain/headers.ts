import type { ChainEntry } from "./types.ts";

/**
 * Headers without bodies: blocks that arrived unrequested on a branch without a chance of becoming the tip
 * (docs/protocol.md, "Blocks nobody asked for"). The node keeps what their header proves (proof of work,
 * place, cumulative work) and drops the body, as Bitcoin Core keeps a "headers-only" entry for an unrequested
 * block with less work than its tip (`AcceptBlock`). Entries are ordinary ChainEntry objects whose parent is
 * a tree entry or another header here, so the consensus context of a child (bits, median time past) is
 * computed exactly as for stored blocks; they are not in the BlockTree and never in the store.
 *
 * For a headers-first download (issue 21): `best` is the held header with the most work and `missingBodies`
 * the bodies to fetch to connect it, oldest first.
 *
 * Bounded three ways: in all (the lowest-work header goes first when full), per source (a peer that fills
 * its share is refused, and the chain charges it) and per fork point (the main-chain block a branch leaves
 * from; refused, not charged: several sources fill it together); and a header is forgotten an hour after it
 * came, so a share fills only at the rate of a flood. Memory only: a restart forgets them, and the sender or
 * a sync brings the branch back if it matters.
 */

/** Limits of the header index. */
export interface HeaderLimits {
  /** Most headers held (each about 1 KB of memory). */
  maxHeaders: number;
  /** Most headers one source may have held. */
  maxPerSource: number;
  /** Most headers on branches that leave the main chain at the same block. */
  maxPerFork: number;
  /** Milliseconds after which a header is forgotten. */
  expiryMs: number;
}

/**
 * 8,192 headers (about 8 MB), 64 per source (honest peers relay only their main chain, so they rarely send
 * one), 256 per fork point, for an hour.
 */
export const DEFAULT_HEADER_LIMITS: HeaderLimits = {
  maxHeaders: 8_192,
  maxPerSource: 64,
  maxPerFork: 256,
  expiryMs: 60 * 60_000,
};

/** Why a header was not kept: its source or its fork point is at its share, or it has the least work of a full index. */
export type HeaderRefusal = "source" | "fork" | "full";

interface Held {
  entry: ChainEntry;
  source: string;
  /** Display hash of the main-chain block its branch leaves from. */
  fork: string;
  /** Arrival time in ms, for expiry. */
  added: number;
}

/** The bounded index of headers held without bodies. */
export class HeaderIndex {
  private readonly byHash = new Map<string, Held>();
  /** Parent hash → hashes of its children held here. */
  private readonly children = new Map<string, Set<string>>();
  private readonly perSource = new Map<string, number>();
  private readonly perFork = new Map<string, number>();

  constructor(
    private readonly limits: HeaderLimits = DEFAULT_HEADER_LIMITS,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Headers held. */
  get count(): number {
    return this.byHash.size;
  }

  /** A held header's entry. */
  get(hash: string): ChainEntry | undefined {
    return this.byHash.get(hash)?.entry;
  }

  /** Whether a header is held. */
  has(hash: string): boolean {
    return this.byHash.has(hash);
  }

  /** The fork point (display hash of a main-chain block) of a held header's branch. */
  forkOf(hash: string): string | undefined {
    return this.byHash.get(hash)?.fork;
  }

  /** Headers held for one source. */
  countOf(source: string): number {
    return this.perSource.get(source) ?? 0;
  }

  /**
   * Keeps a header for `source` on a branch leaving the main chain at `fork`, or says why not. When the
   * index is full the header with the least work goes, unless the new one has less than all of them.
   */
  add(entry: ChainEntry, source: string, fork: string): HeaderRefusal | undefined {
    if (this.byHash.has(entry.hash)) return undefined;
    this.expire();
    if ((this.perSource.get(source) ?? 0) >= this.limits.maxPerSource) return "source";
    if ((this.perFork.get(fork) ?? 0) >= this.limits.maxPerFork) return "fork";
    if (this.byHash.size >= this.limits.maxHeaders) {
      const lowest = this.lowest();
      if (!lowest || lowest.chainWork >= entry.chainWork) return "full";
      this.delete(lowest.hash);
    }
    this.byHash.set(entry.hash, { entry, source, fork, added: this.clock() });
    const parent = entry.parent?.hash ?? "";
    const kids = this.children.get(parent);
    if (kids) kids.add(entry.hash);
    else this.children.set(parent, new Set([entry.hash]));
    this.perSource.set(source, (this.perSource.get(source) ?? 0) + 1);
    this.perFork.set(fork, (this.perFork.get(fork) ?? 0) + 1);
    return undefined;
  }

  /** Forgets a header (its block joined the tree, or it was evicted); returns its entry. */
  delete(hash: string): ChainEntry | undefined {
    const h = this.byHash.get(hash);
    if (!h) return undefined;
    this.byHash.delete(hash);
    const parent = h.entry.parent?.hash ?? "";
    const kids = this.children.get(parent);
    if (kids) {
      kids.delete(hash);
      if (kids.size === 0) this.children.delete(parent);
    }
    decrement(this.perSource, h.source);
    decrement(this.perFork, h.fork);
    return h.entry;
  }

  /** Held headers whose parent is `hash`. */
  childrenOf(hash: string): ChainEntry[] {
    const kids = this.children.get(hash);
    if (!kids) return [];
    const out: ChainEntry[] = [];
    for (const k of kids) {
      const e = this.byHash.get(k)?.entry;
      if (e) out.push(e);
    }
    return out;
  }

  /** Points the held children of `parent`'s hash at `parent` (the block joined the tree as a new entry). */
  relink(parent: ChainEntry): void {
    for (const child of this.childrenOf(parent.hash)) child.parent = parent;
  }

  /** The held header with the most work, if any (a headers-first download's target). */
  best(): ChainEntry | undefined {
    let best: ChainEntry | undefined;
    for (const { entry } of this.byHash.values()) if (!best || entry.chainWork > best.chainWork) best = entry;
    return best;
  }

  /**
   * Whether the body of held header `hash` is wanted: it lies on the branch of the best held header, and that
   * branch has more work than `tipWork` (its sender has shown the work; the node needs the bodies to switch).
   */
  wanted(hash: string, tipWork: bigint): boolean {
    if (!this.byHash.has(hash)) return false;
    const best = this.best();
    if (!best || best.chainWork <= tipWork) return false;
    return this.missingBodies(best.hash).some((e) => e.hash === hash);
  }

  /** The held headers from the tree up to `hash`, oldest first: the bodies to fetch to connect it. */
  missingBodies(hash: string): ChainEntry[] {
    const out: ChainEntry[] = [];
    let e = this.get(hash);
    while (e && this.byHash.get(e.hash)?.entry === e) {
      out.push(e);
      e = e.parent;
    }
    return out.reverse();
  }

  /** Forgets the headers older than the expiry (Map order is arrival order). */
  private expire(): void {
    const cutoff = this.clock() - this.limits.expiryMs;
    for (const [hash, h] of this.byHash) {
      if (h.added > cutoff) break;
      this.delete(hash);
    }
  }

  private lowest(): ChainEntry | undefined {
    let low: ChainEntry | undefined;
    for (const { entry } of this.byHash.values()) if (!low || entry.chainWork < low.chainWork) low = entry;
    return low;
  }
}

function decrement(counts: Map<string, number>, key: string): void {
  const n = (counts.get(key) ?? 0) - 1;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}
