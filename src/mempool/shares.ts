/**
 * Who holds how much of the pool (docs/ledger-design.md "Shares and eviction"). Every pending record
 * belongs to one share, named by where it came from: an HTTP client's address (IPv4, or the /64 of an
 * IPv6 address), a gossip peer's id, the saved file of an older version, or a reorg. A share's use of
 * the pool is its larger fraction of the two bounds, bytes and count (dominant-resource fairness: a
 * source of tiny records uses the count bound as a source of large ones uses the byte bound). A source
 * may use free room without limit; when the pool is full, a newcomer evicts from the share that uses the
 * most, newest record first, for as long as that share would still use more than the newcomer after its
 * admission. So no source keeps more than an equal part of the pool from sources that want room (max-min
 * fairness). Records a reorg returned form one share that newcomers never evict.
 */
import type { MempoolEntry, RecordSource } from "./types.ts";

/** The share of the records a reorg returned: never evicted by a newcomer, and first in a template. */
export const REORG_SHARE = "reorg";

/** The share a record from this source counts against (api:<client>, peer:<id>, disk, reorg). */
export function sourceShare(source: RecordSource): string {
  switch (source.kind) {
    case "api":
      return `api:${source.client ?? "local"}`;
    case "peer":
      return `peer:${source.peer}`;
    case "disk":
      return "disk";
    case "reorg":
      return REORG_SHARE;
  }
}

/**
 * The client an HTTP request counts as for the mempool's shares: its IPv4 address (also when written as
 * an IPv4-mapped IPv6 address), or the /64 prefix of an IPv6 address, since one host is normally given a
 * whole /64 and could otherwise speak from 2^64 addresses.
 */
export function httpClient(address: string | undefined): string {
  if (!address) return "unknown";
  const v4 = /^(?:::ffff:)?(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (v4) return v4[1]!;
  if (!address.includes(":")) return address;
  const bare = address.split("%")[0]!.toLowerCase();
  const [head = "", tail = ""] = bare.split("::");
  const left = head ? head.split(":") : [];
  const right = bare.includes("::") && tail ? tail.split(":") : [];
  const groups = bare.includes("::")
    ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}

/** One share: its records in arrival order, and what they use of the pool. */
export interface Share {
  readonly key: string;
  bytes: number;
  count: number;
  /** Its pending records in arrival order (the order a template takes them in). */
  readonly entries: Map<string, MempoolEntry>;
  /**
   * Its ids in arrival order, newest last, with ids that have left since (removed lazily): eviction
   * pops the newest from here, which a Map cannot give without a scan.
   */
  stack: string[];
  /** Position in the eviction heap; -1 for the reorg share, which is not in it. */
  pos: number;
}

/** Every share of a pool, with a max-heap of the evictable ones by their use of the pool. */
export class Shares {
  private readonly byKey = new Map<string, Share>();
  private readonly heap: Share[] = [];

  constructor(
    private readonly maxBytes: number,
    private readonly maxCount: number,
  ) {}

  /** Shares holding records, in the order each got its first record of those it holds now. */
  all(): IterableIterator<Share> {
    return this.byKey.values();
  }

  get(key: string): Share | undefined {
    return this.byKey.get(key);
  }

  /** Evictable shares holding records. */
  get evictable(): number {
    return this.heap.length;
  }

  /** A share's use of the pool with `bytes` and `count`: its larger fraction of the two bounds. */
  use(bytes: number, count: number): number {
    return Math.max(bytes / this.maxBytes, count / this.maxCount);
  }

  /** The evictable share that uses the most of the pool, other than `except`. */
  largest(except?: string): Share | undefined {
    const top = this.heap[0];
    if (!top || top.key !== except) return top;
    const a = this.heap[1];
    const b = this.heap[2];
    if (!a || !b) return a ?? b;
    return this.useOf(a) >= this.useOf(b) ? a : b;
  }

  /**
   * Whether evicting from the shares that use more than `level` (all but `except`), each only down to
   * `level`, frees `bytes` and `count`. Walks the heap from the top, never below a share at `level` or
   * under (its subtree is no larger), and stops once enough is found: it costs the shares it needs.
   */
  canFree(level: number, except: string, bytes: number, count: number): boolean {
    let needBytes = bytes;
    let needCount = count;
    if (needBytes <= 0 && needCount <= 0) return true;
    const stack = this.heap.length > 0 ? [0] : [];
    while (stack.length > 0) {
      const i = stack.pop()!;
      const s = this.heap[i]!;
      if (this.useOf(s) <= level) continue;
      if (s.key !== except) {
        // Eviction stops once a share uses no more than `level` in either bound.
        needBytes -= Math.max(0, s.bytes - Math.floor(level * this.maxBytes));
        needCount -= Math.max(0, s.count - Math.floor(level * this.maxCount));
        if (needBytes <= 0 && needCount <= 0) return true;
      }
      if (2 * i + 1 < this.heap.length) stack.push(2 * i + 1);
      if (2 * i + 2 < this.heap.length) stack.push(2 * i + 2);
    }
    return false;
  }

  add(entry: MempoolEntry): void {
    let share = this.byKey.get(entry.share);
    if (!share) {
      share = { key: entry.share, bytes: 0, count: 0, entries: new Map(), stack: [], pos: -1 };
      this.byKey.set(share.key, share);
      if (share.key !== REORG_SHARE) {
        share.pos = this.heap.length;
        this.heap.push(share);
      }
    }
    share.entries.set(entry.id, entry);
    share.stack.push(entry.id);
    share.bytes += entry.bytes.length;
    share.count++;
    if (share.pos >= 0) this.up(share.pos);
  }

  remove(entry: MempoolEntry): void {
    const share = this.byKey.get(entry.share);
    if (!share?.entries.delete(entry.id)) return;
    share.bytes -= entry.bytes.length;
    share.count--;
    if (share.count === 0) {
      this.byKey.delete(share.key);
      if (share.pos >= 0) this.detach(share);
      return;
    }
    // The stack keeps removed ids until eviction meets them; rebuilt when they outnumber the live ones.
    if (share.stack.length > 2 * share.count + 64) share.stack = [...share.entries.keys()];
    if (share.pos >= 0) this.down(share.pos);
  }

  /** The newest pending record of a share. */
  newest(share: Share): MempoolEntry | undefined {
    for (;;) {
      const id = share.stack.at(-1);
      if (id === undefined) return undefined;
      const entry = share.entries.get(id);
      if (entry) return entry;
      share.stack.pop();
    }
  }

  private useOf(s: Share): number {
    return this.use(s.bytes, s.count);
  }

  private detach(share: Share): void {
    const last = this.heap.pop()!;
    const at = share.pos;
    share.pos = -1;
    if (last === share) return;
    this.heap[at] = last;
    last.pos = at;
    this.down(at);
    this.up(last.pos);
  }

  private swap(i: number, j: number): void {
    const a = this.heap[i]!;
    const b = this.heap[j]!;
    this.heap[i] = b;
    this.heap[j] = a;
    a.pos = j;
    b.pos = i;
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.useOf(this.heap[parent]!) >= this.useOf(this.heap[i]!)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let top = i;
      if (l < this.heap.length && this.useOf(this.heap[l]!) > this.useOf(this.heap[top]!)) top = l;
      if (r < this.heap.length && this.useOf(this.heap[r]!) > this.useOf(this.heap[top]!)) top = r;
      if (top === i) return;
      this.swap(i, top);
      i = top;
    }
  }
}
