/**
 * A Map that keeps at most `max` entries, forgetting the oldest first. For memory keyed by what remote
 * peers choose (their identities are free to make), which must never grow without bound.
 */
export class BoundedMap<K, V> {
  private readonly items = new Map<K, V>();

  constructor(readonly max: number) {}

  get size(): number {
    return this.items.size;
  }

  has(key: K): boolean {
    return this.items.has(key);
  }

  get(key: K): V | undefined {
    return this.items.get(key);
  }

  set(key: K, value: V): this {
    this.items.delete(key); // setting again refreshes its age
    this.items.set(key, value);
    if (this.items.size > this.max) this.items.delete(this.items.keys().next().value as K);
    return this;
  }

  delete(key: K): boolean {
    return this.items.delete(key);
  }

  /** Entries, oldest first. */
  entries(): IterableIterator<[K, V]> {
    return this.items.entries();
  }
}
