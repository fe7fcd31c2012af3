/**
 * The sync client: picks the peer with the most work above ours, downloads its blocks batch by batch with
 * the next request pipelined behind the current import, and feeds each batch to the chain's processBlocks.
 * It knows the chain only through SyncChain and the network only through a FetchBlocks function, so it runs
 * in tests against a real Chain and a fake fetcher. Penalties are not its business: a sync that a peer's
 * behaviour ended returns the fault in its outcome, and the caller (src/net) decides what it costs.
 */
import { type Block, decodeBlock } from "../consensus/block.ts";
import { BlockError } from "../consensus/errors.ts";
import { sha256d } from "../consensus/hash.ts";
import { HEADER_SIZE, hexToHash } from "../consensus/header.ts";
import { errorMessage } from "../util/errors.ts";
import type { Logger } from "../util/logger.ts";
import type { FetchBlocks, SyncChain, SyncFault, SyncOutcome, SyncPeer, SyncProgress } from "./types.ts";

/** Configuration of Sync. */
export interface SyncOptions<P extends SyncPeer> {
  chain: SyncChain;
  fetchBlocks: FetchBlocks<P>;
  /** Peers that may be synced from (those that completed the handshake). */
  peers: () => Iterable<P>;
  /** Blocks asked for per request; a full batch means the peer has more. */
  batchSize: number;
  logger: Logger;
  /** A sync of more blocks than this reports progress (default 300). */
  progressMinBlocks?: number;
  /** Shortest interval between two progress reports, in ms (default 1,000). */
  progressIntervalMs?: number;
  onProgress?: (event: SyncProgress) => void;
  /** Called after every sync from a peer, before the next peer is chosen (penalties, events). */
  onOutcome?: (peer: P, outcome: SyncOutcome) => Promise<void> | void;
}

/** One sync loop at a time; `request` while it runs makes it run once more when it ends. */
export class Sync<P extends SyncPeer> {
  private run: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly stopSignal = new AbortController();
  private readonly log: Logger;

  constructor(private readonly opts: SyncOptions<P>) {
    this.log = opts.logger;
  }

  /** Whether a sync is running. */
  get running(): boolean {
    return this.run !== undefined;
  }

  /** Starts a sync unless one is running (then it runs again when the current one ends). */
  request(): void {
    if (this.stopped) return;
    if (this.run) {
      this.again = true;
      return;
    }
    this.run = this.loop()
      .catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, "sync failed"))
      .finally(() => {
        this.run = undefined;
        if (this.again) {
          this.again = false;
          this.request();
        }
      });
  }

  /** Resolves when no sync is running (at once if none is). */
  async idle(): Promise<void> {
    while (this.run) await this.run;
  }

  /** Cancels the running download at once; resolves when the loop has ended. No sync starts after it. */
  stop(): Promise<void> {
    this.stopped = true;
    this.stopSignal.abort();
    return this.run ?? Promise.resolve();
  }

  /** The peer with the most work above ours that has not stalled at its current claim. */
  bestPeer(): P | undefined {
    let best: P | undefined;
    const ours = this.opts.chain.tip.chainWork;
    for (const p of this.opts.peers()) {
      const w = p.status?.work;
      if (w === undefined || w <= ours) continue;
      if (p.stalledAt !== undefined && w <= p.stalledAt) continue;
      if (!best || w > best.status!.work) best = p;
    }
    return best;
  }

  private async loop(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const p = this.bestPeer();
      if (!p) return;
      const outcome = await this.syncFrom(p);
      await this.opts.onOutcome?.(p, outcome);
      if (this.opts.chain.tip.chainWork < p.status!.work) p.stalledAt = p.status!.work;
    }
  }

  private locator(): Uint8Array[] {
    // The fetcher trims it to the protocol's limit.
    return this.opts.chain.locator().map((h) => hexToHash(h));
  }

  /**
   * Downloads from `p` until it has nothing more for us (or misbehaves). Requests are pipelined: the next
   * batch is asked for (from the last hash of the current one) while the current one is imported.
   */
  async syncFrom(p: P): Promise<SyncOutcome> {
    const { chain, batchSize: max } = this.opts;
    const minBlocks = this.opts.progressMinBlocks ?? 300;
    const interval = this.opts.progressIntervalMs ?? 1_000;
    const startHeight = chain.height;
    const t0 = performance.now();
    let lastReport = t0;
    const cancel = new AbortController();
    const signal = AbortSignal.any([cancel.signal, this.stopSignal.signal]);
    const request = (locator: Uint8Array[]): Promise<Uint8Array[]> => {
      const r = this.opts.fetchBlocks(p, locator, { max, signal });
      r.catch(() => {}); // awaited below, or abandoned when the sync stops early
      return r;
    };
    this.log.info({ peer: p.id, from: startHeight, to: p.status?.height }, "sync started");
    let next: Promise<Uint8Array[]> | undefined = request(this.locator());
    let fault: SyncFault | undefined;
    // Time spent waiting for the peer rather than validating: tells a slow link from a slow disk.
    let waitMs = 0;
    try {
      while (next) {
        const w0 = performance.now();
        const batch = await next;
        waitMs += performance.now() - w0;
        next = undefined;
        if (batch.length === 0) break;
        if (batch.length === max) {
          const last = sha256d(batch[batch.length - 1]!.subarray(0, HEADER_SIZE));
          next = request([last, ...this.locator()]);
        }
        if (this.stopped) break;
        fault = await this.importBatch(batch);
        if (fault) break;
        const now = performance.now();
        const target = Math.max(p.status?.height ?? 0, chain.height);
        if (target - startHeight > minBlocks && now - lastReport >= interval) {
          lastReport = now;
          const bps = ((chain.height - startHeight) * 1000) / (now - t0);
          this.opts.onProgress?.({ peer: p.id, height: chain.height, target, blocksPerSec: Math.round(bps) });
        }
      }
    } catch (err) {
      if (!this.stopped) fault = { kind: "fetch-failed", error: err };
    } finally {
      cancel.abort();
    }
    const blocks = chain.height - startHeight;
    const ms = performance.now() - t0;
    const outcome: SyncOutcome = {
      peer: p.id,
      height: chain.height,
      blocks,
      ms,
      blocksPerSec: blocks > 0 ? Math.round((blocks * 1000) / ms) : 0,
      waitMs,
      ...(fault ? { fault } : {}),
    };
    if (blocks > 0) {
      const { height, blocksPerSec } = outcome;
      const fields = {
        peer: p.id,
        height,
        blocks,
        ms: Math.round(ms),
        blocksPerSec,
        waitMs: Math.round(waitMs),
      };
      this.log.info(fields, "sync done");
    }
    return outcome;
  }

  /**
   * Feeds a batch to the chain in height order through processBlocks, which commits consecutive tip
   * extensions in one store batch. Blocks before the first undecodable one are still imported. Returns the
   * fault that makes the rest of this peer's response unusable, if any.
   */
  async importBatch(batch: readonly Uint8Array[]): Promise<SyncFault | undefined> {
    const items: Array<{ block: Block; raw: Uint8Array }> = [];
    let undecodable: SyncFault | undefined;
    for (const raw of batch) {
      try {
        items.push({ block: decodeBlock(raw), raw });
      } catch (error) {
        undecodable = { kind: "undecodable", error };
        break;
      }
    }
    const results = await this.opts.chain.processBlocks(items);
    for (let i = 0; i < results.length; i++) {
      const r = results[i]!;
      if (r instanceof BlockError) return { kind: "invalid-block", error: r };
      // Blocks must follow a hash of our locator, in height order: a first block we cannot place, or a
      // gap later, breaks the protocol.
      if (r.status === "orphan") return i > 0 ? { kind: "out-of-order" } : { kind: "unconnected" };
    }
    return undecodable;
  }
}
