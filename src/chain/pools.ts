import { bytesEqual } from "../consensus/bytes.ts";
import type { BlockHeader } from "../consensus/header.ts";

/**
 * The chain's two waiting rooms for blocks it cannot place yet: orphans (parent unknown) and blocks from the
 * future (time ahead of the clock). Both hold a block as its serialized bytes, never decoded (a decoded block
 * of small records takes about 25 times its wire size), after only the checks a header allows (proof of
 * work, record count; time or parent), so parking a block costs the node a copy of its bytes and nothing
 * else. They are bounded by count, by bytes and by bytes per source, and every distinct copy of a block is
 * held (a copy is the same hash, source and bytes): a relay that parks a junk body under a real header does
 * so inside its own quota, and the real block, from another peer or the same one, is still held beside it
 * (docs/protocol.md, "Blocks nobody asked for").
 */

/** Limits of a pool of blocks held as bytes. */
export interface PoolLimits {
  /** Most blocks held at once. */
  maxCount: number;
  /** Most serialized bytes held at once. */
  maxBytes: number;
  /** Most serialized bytes one source (a peer, the HTTP API) may have held: past it, its own oldest go. */
  maxBytesPerSource: number;
  /** Milliseconds after which a block is dropped. */
  expiryMs: number;
}

/** The orphan pool's limits: 8 full blocks per source, 32 of them in all. */
export const DEFAULT_ORPHAN_LIMITS: PoolLimits = {
  maxCount: 1024,
  maxBytes: 32 * 1024 * 1024,
  maxBytesPerSource: 8 * 1024 * 1024,
  expiryMs: 20 * 60_000,
};

/** The future pool's limits: 4 full blocks per source, 16 of them in all, for 10 minutes at most. */
export const DEFAULT_FUTURE_LIMITS: PoolLimits = {
  maxCount: 64,
  maxBytes: 16 * 1024 * 1024,
  maxBytesPerSource: 4 * 1024 * 1024,
  expiryMs: 10 * 60_000,
};

/** A block held as bytes, with what the chain read from its header and who sent it. */
export interface Pooled {
  /** The copy's key in the pool (hash, source and an arrival number). */
  key: string;
  /** Display hash. */
  hash: string;
  /** Display hash of the parent. */
  prevHash: string;
  header: BlockHeader;
  /** The serialized block (a copy the pool owns: never a view into a larger buffer). */
  raw: Uint8Array;
  /** Who sent it (quotas are per source). */
  source: string;
  /** Asked for by this node (sync): it keeps that standing when it leaves the pool. */
  requested: boolean;
  /** Arrival time in ms, for expiry. */
  added: number;
}

/** One source's share of a pool. */
interface Share {
  bytes: number;
  count: number;
}

/** What `add` did: the hashes dropped to make room (the new block's own when it could not stay). */
export interface Added {
  kept: boolean;
  dropped: string[];
}

/**
 * A bounded pool of blocks held as bytes. Insertion order is arrival order, so eviction drops the oldest
 * first; children are indexed by parent hash so the arrival of a parent finds them in O(children).
 */
export class BlockPool {
  private readonly byKey = new Map<string, Pooled>();
  private readonly byHash = new Map<string, Set<string>>();
  private readonly byPrev = new Map<string, Set<string>>();
  private readonly shares = new Map<string, Share>();
  private bytes = 0;
  /** Arrival numbers, for keys. */
  private seq = 0;

  constructor(
    private readonly limits: PoolLimits,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Blocks held (a block sent by two sources counts twice). */
  get count(): number {
    return this.byKey.size;
  }

  /** Serialized bytes held. */
  get totalBytes(): number {
    return this.bytes;
  }

  /** Bytes held for one source. */
  bytesOf(source: string): number {
    return this.shares.get(source)?.bytes ?? 0;
  }

  /** Whether any source's copy of the block is held. */
  has(hash: string): boolean {
    return this.byHash.has(hash);
  }

  /** Whether this copy (the same hash, source and bytes) is held. */
  holds(p: Pick<Pooled, "hash" | "source" | "raw">): boolean {
    const keys = this.byHash.get(p.hash);
    if (!keys) return false;
    for (const k of keys) {
      const q = this.byKey.get(k)!;
      if (q.source === p.source && bytesEqual(q.raw, p.raw)) return true;
    }
    return false;
  }

  /**
   * Holds a copy of a block (of its bytes too: the caller's may be a view into a larger buffer) unless it
   * holds it already, then expires and evicts until within limits: the source's own oldest first while it is
   * over its share, then the oldest of all.
   */
  add(p: Omit<Pooled, "added" | "key">): Added {
    if (this.holds(p)) return { kept: true, dropped: [] };
    const key = `${p.hash} ${p.source} ${this.seq++}`;
    // new Uint8Array copies whatever the caller holds (a Buffer's slice() would be a view).
    const held: Pooled = { ...p, key, raw: new Uint8Array(p.raw), added: this.clock() };
    this.byKey.set(key, held);
    indexAdd(this.byHash, p.hash, key);
    indexAdd(this.byPrev, p.prevHash, key);
    const share = this.shares.get(p.source) ?? { bytes: 0, count: 0 };
    share.bytes += held.raw.length;
    share.count++;
    this.shares.set(p.source, share);
    this.bytes += held.raw.length;
    const dropped = this.prune();
    while (share.bytes > this.limits.maxBytesPerSource) {
      const oldest = this.oldestOf(p.source);
      if (!oldest) break;
      this.removeKey(oldest.key);
      dropped.push(oldest.hash);
    }
    return { kept: this.byKey.has(key), dropped };
  }

  /** Drops expired blocks, then the oldest until within the count and byte limits. */
  prune(): string[] {
    const dropped: string[] = [];
    const cutoff = this.clock() - this.limits.expiryMs;
    for (const [key, p] of this.byKey) {
      const over = this.byKey.size > this.limits.maxCount || this.bytes > this.limits.maxBytes;
      if (!over && p.added > cutoff) break; // Map order is arrival order: the rest are newer.
      this.removeKey(key);
      dropped.push(p.hash);
    }
    return dropped;
  }

  /** Removes and returns every copy of every block whose parent is `hash`. */
  takeChildren(hash: string): Pooled[] {
    return this.takeKeys(this.byPrev.get(hash));
  }

  /** Removes and returns the blocks `pick` chooses (in arrival order). */
  takeWhere(pick: (p: Pooled) => boolean): Pooled[] {
    const out: Pooled[] = [];
    for (const [key, p] of this.byKey) {
      if (!pick(p)) continue;
      out.push(p);
      this.removeKey(key);
    }
    return out;
  }

  /** Forgets every copy of a block (it joined the tree another way). */
  remove(hash: string): void {
    this.takeKeys(this.byHash.get(hash));
  }

  /** The oldest ancestor hash the pool is missing for `hash`'s chain of held blocks (what to ask a peer for). */
  missingRoot(hash: string): string | undefined {
    let prev = this.prevOf(hash);
    let root: string | undefined;
    for (let steps = 0; prev !== undefined && steps <= this.byKey.size; steps++) {
      root = prev;
      prev = this.prevOf(prev);
    }
    return root;
  }

  private prevOf(hash: string): string | undefined {
    const keys = this.byHash.get(hash);
    if (!keys) return undefined;
    for (const k of keys) return this.byKey.get(k)?.prevHash;
    return undefined;
  }

  private oldestOf(source: string): Pooled | undefined {
    for (const p of this.byKey.values()) if (p.source === source) return p;
    return undefined;
  }

  private takeKeys(keys: Set<string> | undefined): Pooled[] {
    if (!keys) return [];
    const out: Pooled[] = [];
    for (const k of [...keys]) {
      const p = this.byKey.get(k);
      if (p) out.push(p);
      this.removeKey(k);
    }
    return out;
  }

  private removeKey(key: string): boolean {
    const p = this.byKey.get(key);
    if (!p) return false;
    this.byKey.delete(key);
    indexDelete(this.byHash, p.hash, key);
    indexDelete(this.byPrev, p.prevHash, key);
    this.bytes -= p.raw.length;
    const share = this.shares.get(p.source);
    if (share) {
      share.bytes -= p.raw.length;
      if (--share.count === 0) this.shares.delete(p.source);
    }
    return true;
  }
}

function indexAdd(index: Map<string, Set<string>>, at: string, key: string): void {
  const set = index.get(at);
  if (set) set.add(key);
  else index.set(at, new Set([key]));
}

function indexDelete(index: Map<string, Set<string>>, at: string, key: string): void {
  const set = index.get(at);
  if (!set) return;
  set.delete(key);
  if (set.size === 0) index.delete(at);
}
