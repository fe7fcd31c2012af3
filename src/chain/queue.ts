import { ChainError } from "./errors.ts";

/**
 * The chain's one-call-at-a-time queue (`Chain.exclusive`), bounded for blocks nobody asked for, as
 * Lodestar's block processor bounds its job queue: every call runs after the ones before it, and a call for
 * a block nobody asked for is refused at once (`BUSY`) when the queue is at its bound, in all or for the
 * call's source. Asked-for calls (a sync's batches) and the chain's own always queue. Its depth is a gauge
 * in /metrics (`jbc_chain_queue_depth`).
 */

/** Bounds of the queue for blocks nobody asked for. */
export interface QueueLimits {
  /** Calls queued at once (the running one included) past which a block nobody asked for is refused BUSY. */
  maxDepth: number;
  /** The same bound per source (a peer, the HTTP API). */
  maxPerSource: number;
}

/**
 * 32 calls, 8 per source: a queued call holds its block's bytes (at most 1 MB), so the queue holds at most
 * 32 MB, 8 MB of them one peer's, and refusing costs the sender its message (gossip: Ignore), not a penalty.
 */
export const DEFAULT_QUEUE_LIMITS: QueueLimits = { maxDepth: 32, maxPerSource: 8 };

/** One queue per Chain. */
export class BlockQueue {
  private tail: Promise<unknown> = Promise.resolve();
  /** Calls queued, the running one included; and those of blocks nobody asked for, by source. */
  private queued = 0;
  private readonly bySource = new Map<string, number>();
  private closed = false;

  constructor(private readonly limits: QueueLimits) {}

  /** Calls in the queue now, the running one included. */
  get depth(): number {
    return this.queued;
  }

  /** Throws ChainError BUSY when a block nobody asked for from `source` would go past a bound. */
  admit(source: string): void {
    const { maxDepth, maxPerSource } = this.limits;
    if (this.queued >= maxDepth)
      throw new ChainError("BUSY", `block queue full (${this.queued} calls waiting): try again later`);
    if ((this.bySource.get(source) ?? 0) >= maxPerSource)
      throw new ChainError("BUSY", `block queue full for ${source} (${maxPerSource} calls waiting)`);
  }

  /**
   * Runs `fn` after every call before it (ChainError CLOSED after `close`). `source`: the sender of a block
   * nobody asked for, counted against its share while the call waits and runs.
   */
  run<T>(fn: () => Promise<T>, source?: string): Promise<T> {
    if (this.closed) return Promise.reject(new ChainError("CLOSED", "chain is closed"));
    this.queued++;
    if (source !== undefined) this.bySource.set(source, (this.bySource.get(source) ?? 0) + 1);
    const run = this.tail.then(fn, fn).finally(() => {
      this.queued--;
      if (source === undefined) return;
      const n = (this.bySource.get(source) ?? 1) - 1;
      if (n > 0) this.bySource.set(source, n);
      else this.bySource.delete(source);
    });
    this.tail = run.catch(() => {});
    return run;
  }

  /** Refuses new calls; resolves when the ones queued have run. */
  async close(): Promise<void> {
    this.closed = true;
    await this.tail.catch(() => {});
  }
}
