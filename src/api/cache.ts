/**
 * A least-recently-used cache bounded by the bytes of what it holds (each value's size is given when it is
 * stored), for the API's read caches. A value larger than the whole bound is not kept at all.
 */
export class ByteLru<K, V> {
  private readonly map = new Map<K, { value: V; bytes: number }>();
  private held = 0;

  constructor(readonly maxBytes: number) {}

  /** The value, now the most recently used; undefined when absent. */
  get(key: K): V | undefined {
    const hit = this.map.get(key);
    if (!hit) return undefined;
    this.map.delete(key);
    this.map.set(key, hit);
    return hit.value;
  }

  /** Whether `key` is held, without touching its age. */
  has(key: K): boolean {
    return this.map.has(key);
  }

  /** Stores `value` as `bytes` bytes, then forgets the least recently used until the bound holds. */
  set(key: K, value: V, bytes: number): void {
    const old = this.map.get(key);
    if (old) {
      this.map.delete(key);
      this.held -= old.bytes;
    }
    if (bytes > this.maxBytes) return;
    this.map.set(key, { value, bytes });
    this.held += bytes;
    for (const [k, v] of this.map) {
      if (this.held <= this.maxBytes) break;
      this.map.delete(k);
      this.held -= v.bytes;
    }
  }

  /** Entries held. */
  get size(): number {
    return this.map.size;
  }

  /** Bytes held (the sum of the sizes given to `set`). */
  get bytes(): number {
    return this.held;
  }
}
