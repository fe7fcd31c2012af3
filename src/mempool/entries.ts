/**
 * The pool's records and its bookkeeping, without events, I/O or admission rules: entries in arrival
 * order, their totals, their shares (shares.ts) and the choices made on them (eviction, trimming after a
 * reorg, expiry, templates). `Mempool` (mempool.ts) decides when; this says what.
 */
import { REORG_SHARE, Shares } from "./shares.ts";
import { takeFair } from "./template.ts";
import type { MempoolEntry } from "./types.ts";

export class PoolEntries {
  /** In arrival order: a Map iterates in insertion order and deletes in O(1). */
  private entries = new Map<string, MempoolEntry>();
  private totalBytes = 0;
  /** The same entries by share, for eviction and templates. */
  private shares: Shares;
  /** A lower bound on the entries' times, so `expire` skips the scan while nothing can be due. */
  private oldestTime = Number.POSITIVE_INFINITY;

  constructor(
    readonly maxBytes: number,
    readonly maxCount: number,
  ) {
    this.shares = new Shares(maxBytes, maxCount);
  }

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  get(id: string): MempoolEntry | undefined {
    return this.entries.get(id);
  }

  /** The entries in arrival order. */
  values(): IterableIterator<MempoolEntry> {
    return this.entries.values();
  }

  /** The ids in arrival order. */
  keys(): IterableIterator<string> {
    return this.entries.keys();
  }

  /** What a share holds. */
  held(share: string): { bytes: number; count: number } {
    const s = this.shares.get(share);
    return { bytes: s?.bytes ?? 0, count: s?.count ?? 0 };
  }

  insert(entry: MempoolEntry): void {
    this.entries.set(entry.id, entry);
    this.totalBytes += entry.bytes.length;
    this.shares.add(entry);
    if (entry.time < this.oldestTime) this.oldestTime = entry.time;
  }

  /** Removes a record; false when it was not pending. */
  delete(id: string): boolean {
    const entry = this.entries.get(id);
    if (!entry) return false;
    this.entries.delete(id);
    this.totalBytes -= entry.bytes.length;
    this.shares.remove(entry);
    return true;
  }

  /** Whether `count` more records of `bytes` fit the bounds as they are. */
  fits(count: number, bytes: number): boolean {
    return this.entries.size + count <= this.maxCount && this.totalBytes + bytes <= this.maxBytes;
  }

  /**
   * Whether the shares using more of the pool than `share` would with `count` more records of `bytes` can
   * give up the room those need, each only down to that level (shares.ts).
   */
  canEvictFor(share: string, count: number, bytes: number): boolean {
    const needBytes = this.totalBytes + bytes - this.maxBytes;
    const needCount = this.entries.size + count - this.maxCount;
    return this.shares.canFree(this.useAfter(share, count, bytes), share, needBytes, needCount);
  }

  /**
   * Evicts, newest first, from whichever share uses the most of the pool, while it would still use more
   * than `share` after admitting a record of `bytes`, until that record fits. Returns the evicted ids.
   */
  evictFor(share: string, bytes: number): string[] {
    const floor = this.useAfter(share, 1, bytes);
    const evicted: string[] = [];
    while (!this.fits(1, bytes)) {
      const victim = this.shares.largest(share);
      if (!victim || this.shares.use(victim.bytes, victim.count) <= floor) break;
      const newest = this.shares.newest(victim);
      if (!newest) break;
      this.delete(newest.id);
      evicted.push(newest.id);
    }
    return evicted;
  }

  /**
   * Brings the pool within its bounds (after a reorg): newest first from the shares using the most, then,
   * should the returned records alone exceed the bounds, the newest of those. Returns what went.
   */
  trim(): { evicted: string[]; dropped: string[] } {
    const evicted: string[] = [];
    const dropped: string[] = [];
    while (!this.fits(0, 0)) {
      const share = this.shares.largest() ?? this.shares.get(REORG_SHARE);
      const newest = share && this.shares.newest(share);
      if (!newest) break;
      this.delete(newest.id);
      (newest.share === REORG_SHARE ? dropped : evicted).push(newest.id);
    }
    return { evicted, dropped };
  }

  /**
   * Puts the records a reorg returned ahead of every other entry, in their order, with arrival `time` and
   * the reorg's share; a pending copy of one moves up with them. Returns the entries that were not pending.
   */
  returnFirst(back: readonly Pick<MempoolEntry, "id" | "record" | "bytes">[], time: number): MempoolEntry[] {
    const front: MempoolEntry[] = [];
    const returned: MempoolEntry[] = [];
    for (const { id, record, bytes } of back) {
      const entry: MempoolEntry = { id, record, bytes, time, source: { kind: "reorg" }, share: REORG_SHARE };
      front.push(entry);
      if (!this.entries.has(id)) returned.push(entry);
    }
    this.putFirst(front);
    return returned;
  }

  /** Up to `limit` ids in arrival order, starting after `after` (all of them when `after` is not pending). */
  page(limit: number, after?: string): string[] {
    const out: string[] = [];
    let started = after === undefined || !this.entries.has(after);
    for (const id of this.entries.keys()) {
      if (out.length >= limit) break;
      if (started) out.push(id);
      else if (id === after) started = true;
    }
    return out;
  }

  /** Puts `front` ahead of every other entry, in its order. */
  private putFirst(front: readonly MempoolEntry[]): void {
    const rest = this.entries;
    this.entries = new Map();
    this.totalBytes = 0;
    this.shares = new Shares(this.maxBytes, this.maxCount);
    for (const entry of front) {
      rest.delete(entry.id);
      this.insert(entry);
    }
    for (const entry of rest.values()) this.insert(entry);
  }

  /** Removes the records that arrived at or before `cutoff`; returns their ids. Cheap when none can. */
  expire(cutoff: number): string[] {
    if (this.oldestTime > cutoff) return [];
    const expired: string[] = [];
    let oldest = Number.POSITIVE_INFINITY;
    for (const entry of this.entries.values()) {
      if (entry.time <= cutoff) expired.push(entry.id);
      else if (entry.time < oldest) oldest = entry.time;
    }
    for (const id of expired) this.delete(id);
    this.oldestTime = oldest;
    return expired;
  }

  /** A template's records (template.ts): the records a reorg returned, then every share in turn. */
  take(maxBytes: number, maxSkips: number): MempoolEntry[] {
    const first = this.shares.get(REORG_SHARE)?.entries.values() ?? [];
    const rest: Iterable<MempoolEntry>[] = [];
    for (const share of this.shares.all()) if (share.key !== REORG_SHARE) rest.push(share.entries.values());
    return takeFair(first, rest, maxBytes, maxSkips);
  }

  /** What `share` would use of the pool with `count` more records of `bytes`. */
  private useAfter(share: string, count: number, bytes: number): number {
    const mine = this.shares.get(share);
    return this.shares.use((mine?.bytes ?? 0) + bytes, (mine?.count ?? 0) + count);
  }
}
