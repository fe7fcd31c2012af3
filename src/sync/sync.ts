/**
 * The sync client: picks the peer with the most work above ours, downloads its blocks with several batch
 * requests in flight, and feeds each batch, in height order, to the chain's processBlocks.
 * It knows the chain only through SyncChain and the network only through a FetchBlocks function, so it runs
 * in tests against a real Chain and a fake fetcher. Penalties are not its business: a sync that a peer's
 * behaviour ended returns the fault in its outcome, and the caller (src/net) decides what it costs.
 */
import { type Block, decodeBlock } from "../consensus/block.ts";
import { BlockError } from "../consensus/errors.ts";
import { hexToHash } from "../consensus/header.ts";
import { errorMessage } from "../util/errors.ts";
import type { Logger } from "../util/logger.ts";
import type { FetchBlocks, SyncChain, SyncFault, SyncOutcome, SyncPeer, SyncProgress } from "./types.ts";
import { DownloadWindow } from "./window.ts";

/** Configuration of Sync. */
export interface SyncOptions<P extends SyncPeer> {
  chain: SyncChain;
  fetchBlocks: FetchBlocks<P>;
  /** Peers that may be synced from (those that completed the handshake). */
  peers: () => Iterable<P>;
  /** Blocks asked for per request; a full batch means the peer has more. */
  batchSize: number;
  /** Requests kept in flight once a sync is past its first batch (default 1: one after another). */
  pipeline?: number;
  /** The protocol's bound on a response's block bytes: a shorter batch that reaches it is not the end. */
  maxResponseBytes?: number;
  logger: Logger;
  /** A sync of more blocks than this reports progress (default 300). */
  progressMinBlocks?: number;
  /** Shortest interval between two progress reports, in ms (default 1,000). */
  progressIntervalMs?: number;
  onProgress?: (event: SyncProgress) => void;
  /** Called after every sync from a peer, before the next peer is chosen (penalties, events). */
  onOutcome?: (peer: P, outcome: SyncOutcome) => Promise<void> | void;
}

/** When one sync from a peer reports progress: past `progressMinBlocks`, at most once per interval. */
class ProgressMeter {
  readonly startHeight: number;
  readonly t0 = performance.now();
  private last = this.t0;
  private readonly minBlocks: number;
  private readonly intervalMs: number;

  constructor(
    private readonly chain: SyncChain,
    opts: { progressMinBlocks?: number; progressIntervalMs?: number },
  ) {
    this.startHeight = chain.height;
    this.minBlocks = opts.progressMinBlocks ?? 300;
    this.intervalMs = opts.progressIntervalMs ?? 1_000;
  }

  /** The report due after a batch was imported from `p`, if one is. */
  due(p: SyncPeer): SyncProgress | undefined {
    const now = performance.now();
    const height = this.chain.height;
    const target = Math.max(p.status?.height ?? 0, height);
    if (target - this.startHeight <= this.minBlocks || now - this.last < this.intervalMs) return undefined;
    this.last = now;
    const bps = ((height - this.startHeight) * 1000) / (now - this.t0);
    return { peer: p.id, height, target, blocksPerSec: Math.round(bps) };
  }
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
   * Downloads from `p` until it has nothing more for us (or misbehaves): a DownloadWindow (window.ts) keeps
   * up to `pipeline` requests in flight and hands their batches out in height order, and each is imported
   * through processBlocks while the ones after it download.
   */
  async syncFrom(p: P): Promise<SyncOutcome> {
    const meter = new ProgressMeter(this.opts.chain, this.opts);
    this.log.info({ peer: p.id, from: meter.startHeight, to: p.status?.height }, "sync started");
    const window = this.openWindow(p);
    let fault: SyncFault | undefined;
    try {
      for (;;) {
        const step = await window.next();
        if (step.kind === "end") {
          fault = step.fault;
          break;
        }
        fault = await this.importBatch(step.blocks);
        if (fault) break;
        const progress = meter.due(p);
        if (progress) this.opts.onProgress?.(progress);
      }
    } catch (err) {
      // An import that throws (the chain closing under us) ends the sync as a failed request does.
      if (!this.stopped) fault = { kind: "fetch-failed", error: err };
    } finally {
      window.close();
    }
    return this.outcome(p, meter, window.waitMs, fault);
  }

  /** A download window on `p`, aborted with the whole sync by stop(). */
  private openWindow(p: P): DownloadWindow {
    const { fetchBlocks, batchSize, pipeline, maxResponseBytes } = this.opts;
    return new DownloadWindow({
      batchSize,
      depth: Math.max(1, pipeline ?? 1),
      maxResponseBytes: maxResponseBytes ?? Number.POSITIVE_INFINITY,
      locator: () => this.locator(),
      fetch: ({ locator, skip, max }, signal) =>
        fetchBlocks(p, locator, { max, ...(skip ? { skip } : {}), signal }),
      signal: this.stopSignal.signal,
    });
  }

  /** What the sync from `p` achieved, logged when it gained height. */
  private outcome(p: P, meter: ProgressMeter, waitMs: number, fault: SyncFault | undefined): SyncOutcome {
    const height = this.opts.chain.height;
    const blocks = height - meter.startHeight;
    const ms = performance.now() - meter.t0;
    const blocksPerSec = blocks > 0 ? Math.round((blocks * 1000) / ms) : 0;
    if (blocks > 0) {
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
    return { peer: p.id, height, blocks, ms, blocksPerSec, waitMs, ...(fault ? { fault } : {}) };
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
