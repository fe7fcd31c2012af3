/**
 * A Set that keeps at most `max` members, forgetting the oldest first. For memory keyed by what remote
 * peers choose (their identities are free to make), which must never grow without bound.
 */
export class BoundedSet<T> {
  private readonly items = new Set<T>();

  constructor(readonly max: number) {}

  get size(): number {
    return this.items.size;
  }

  has(item: T): boolean {
    return this.items.has(item);
  }

  add(item: T): this {
    this.items.delete(item); // re-adding refreshes its age
    this.items.add(item);
    if (this.items.size > this.max) this.items.delete(this.items.values().next().value as T);
    return this;
  }

  delete(item: T): boolean {
    return this.items.delete(item);
  }
}
