import type { Block } from "../consensus/block.ts";

/** Limits of the orphan pool: blocks whose parent is not known yet. */
export interface OrphanLimits {
  /** Most orphans held at once. */
  maxCount: number;
  /** Most serialized bytes held at once. */
  maxBytes: number;
  /** Milliseconds after which an orphan is dropped. */
  expiryMs: number;
}

export const DEFAULT_ORPHAN_LIMITS: OrphanLimits = {
  maxCount: 1024,
  maxBytes: 32 * 1024 * 1024,
  expiryMs: 20 * 60_000,
};

export interface Orphan {
  hash: string;
  prevHash: string;
  block: Block;
  size: number;
  /** Arrival time in ms, for expiry. */
  added: number;
}

/**
 * Bounded orphan pool. Insertion order is arrival order, so eviction drops the oldest first;
 * children are indexed by parent hash so the arrival of a parent finds them in O(children).
 */
export class OrphanPool {
  private readonly byHash = new Map<string, Orphan>();
  private readonly byPrev = new Map<string, Set<string>>();
  private bytes = 0;

  constructor(
    private readonly limits: OrphanLimits = DEFAULT_ORPHAN_LIMITS,
    private readonly clock: () => number = Date.now,
  ) {}

  get count(): number {
    return this.byHash.size;
  }

  get totalBytes(): number {
    return this.bytes;
  }

  has(hash: string): boolean {
    return this.byHash.has(hash);
  }

  /** Adds an orphan, then expires and evicts (oldest first) until within limits. Returns hashes dropped. */
  add(o: Omit<Orphan, "added">): string[] {
    if (this.byHash.has(o.hash)) return [];
    const orphan: Orphan = { ...o, added: this.clock() };
    this.byHash.set(o.hash, orphan);
    const siblings = this.byPrev.get(o.prevHash) ?? new Set<string>();
    siblings.add(o.hash);
    this.byPrev.set(o.prevHash, siblings);
    this.bytes += o.size;
    return this.prune();
  }

  /** Drops expired orphans, then the oldest until within the count and byte limits. */
  prune(): string[] {
    const dropped: string[] = [];
    const cutoff = this.clock() - this.limits.expiryMs;
    for (const o of this.byHash.values()) {
      const over = this.byHash.size > this.limits.maxCount || this.bytes > this.limits.maxBytes;
      if (!over && o.added > cutoff) break; // Map order is arrival order: the rest are newer.
      this.remove(o.hash);
      dropped.push(o.hash);
    }
    return dropped;
  }

  /** Removes and returns the orphans whose parent is `hash`. */
  takeChildren(hash: string): Orphan[] {
    const kids = this.byPrev.get(hash);
    if (!kids) return [];
    const out: Orphan[] = [];
    for (const h of kids) {
      const o = this.byHash.get(h);
      if (o) out.push(o);
    }
    for (const o of out) this.remove(o.hash);
    return out;
  }

  /** The oldest ancestor hash the pool is missing for `hash`'s orphan chain (what to ask a peer for). */
  missingRoot(hash: string): string | undefined {
    let o = this.byHash.get(hash);
    let root: string | undefined;
    while (o) {
      root = o.prevHash;
      o = this.byHash.get(o.prevHash);
    }
    return root;
  }

  private remove(hash: string): void {
    const o = this.byHash.get(hash);
    if (!o) return;
    this.byHash.delete(hash);
    this.bytes -= o.size;
    const siblings = this.byPrev.get(o.prevHash);
    if (siblings) {
      siblings.delete(hash);
      if (siblings.size === 0) this.byPrev.delete(o.prevHash);
    }
  }
}
