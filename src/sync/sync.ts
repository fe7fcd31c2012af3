/**
 * The sync client: picks the peer with the most work above ours, downloads its blocks with several batch
 * requests in flight, and feeds each batch, in height order, to the chain's processBlocks.
 * It knows the chain only through SyncChain and the network only through a FetchBlocks function, so it runs
 * in tests against a real Chain and a fake fetcher. Penalties are not its business: a sync that a peer's
 * behaviour ended returns the fault in its outcome, and the caller (src/net) decides what it costs.
 */
import { type Block, decodeBlock } from "../consensus/block.ts";
import { bytesEqual } from "../consensus/bytes.ts";
import { BlockError } from "../consensus/errors.ts";
import { sha256d } from "../consensus/hash.ts";
import { HEADER_SIZE, hexToHash } from "../consensus/header.ts";
import { errorMessage } from "../util/errors.ts";
import type { Logger } from "../util/logger.ts";
import {
  type FetchBlocks,
  SkipUnsupportedError,
  type SyncChain,
  type SyncFault,
  type SyncOutcome,
  type SyncPeer,
  type SyncProgress,
} from "./types.ts";

/** Times one sync starts its pipeline again because the peer's chain moved under it. */
const MAX_RESTARTS = 3;

/** A block request in flight: `max` blocks from `skip` past the anchor's fork point. */
interface Slot {
  skip: number;
  max: number;
  blocks: Promise<Uint8Array[]>;
  cancel: AbortController;
}

/** Whether a short response stopped at the byte bound: its next block could not have fitted. */
function cutByBytes(batch: readonly Uint8Array[], maxBytes: number): boolean {
  let bytes = 0;
  let biggest = 0;
  for (const b of batch) {
    bytes += b.length;
    biggest = Math.max(biggest, b.length);
  }
  return bytes + biggest > maxBytes;
}

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
   * Downloads from `p` until it has nothing more for us (or misbehaves), keeping up to `pipeline` requests
   * in flight: after the first batch, the ranges that follow it are asked for together, each as "skip n
   * blocks past the fork point of one anchor locator", so the link never idles for a round trip between
   * batches (Bitcoin Core's block download window, Lodestar's range-sync batches). Batches are imported in
   * height order through processBlocks while the next ones download. A batch cut short by the response's
   * byte bound is completed by a request for the rest, and later requests ask for fewer blocks; a batch
   * that does not follow the one before means the peer's chain moved (a reorg there): the pipeline starts
   * again from our new locator. A peer that cannot skip is asked one batch at a time, each request naming
   * the last block of the batch before.
   */
  async syncFrom(p: P): Promise<SyncOutcome> {
    const { chain, batchSize: max } = this.opts;
    const depth = Math.max(1, this.opts.pipeline ?? 1);
    const maxBytes = this.opts.maxResponseBytes ?? Number.POSITIVE_INFINITY;
    const minBlocks = this.opts.progressMinBlocks ?? 300;
    const interval = this.opts.progressIntervalMs ?? 1_000;
    const startHeight = chain.height;
    const t0 = performance.now();
    let lastReport = t0;
    const queue: Slot[] = [];
    const ask = (locator: Uint8Array[], skip: number, n: number): Slot => {
      const cancel = new AbortController();
      const signal = AbortSignal.any([cancel.signal, this.stopSignal.signal]);
      const blocks = this.opts.fetchBlocks(p, locator, { max: n, ...(skip ? { skip } : {}), signal });
      blocks.catch(() => {}); // awaited below, or abandoned when the sync stops or restarts
      return { skip, max: n, blocks, cancel };
    };
    const drop = (): void => {
      for (const q of queue.splice(0)) q.cancel.abort();
    };
    this.log.info({ peer: p.id, from: startHeight, to: p.status?.height }, "sync started");
    let anchor = this.locator();
    /** Blocks asked for per request; shrinks to what the response's byte bound lets through. */
    let per = max;
    /** First offset past the fork point of `anchor` not yet asked for. */
    let nextSkip = max;
    /** Whether requests may skip (false: one at a time, each after the batch before). */
    let skipping = depth > 1;
    let pipelined = false;
    let restarts = 0;
    /** Bytes and blocks received so far: the mean block size sizes the window. */
    let received = 0;
    let count = 0;
    /** Hash of the last block received: the next batch must follow it. */
    let prev: Uint8Array | undefined;
    queue.push(ask(anchor, 0, max));
    let fault: SyncFault | undefined;
    // Time spent waiting for the peer rather than validating: tells a slow link from a slow disk.
    let waitMs = 0;
    try {
      while (queue.length) {
        const slot = queue.shift()!;
        const w0 = performance.now();
        let batch: Uint8Array[];
        try {
          batch = await slot.blocks;
        } catch (err) {
          if (!(err instanceof SkipUnsupportedError) || !prev) throw err;
          // An older peer: from here on, one request at a time after the last block we have.
          drop();
          skipping = false;
          queue.push(ask([prev, ...this.locator()], 0, max));
          continue;
        } finally {
          waitMs += performance.now() - w0;
        }
        if (batch.length === 0 || this.stopped) break;
        const first = batch[0]!;
        if (prev && first.length >= HEADER_SIZE && !bytesEqual(first.subarray(4, 36), prev)) {
          // The peer's main chain changed since `anchor`: what we have is imported, so start from there.
          // A peer whose batches keep not following each other is out of order, not reorganising.
          drop();
          if (++restarts > MAX_RESTARTS) {
            fault = { kind: "out-of-order" };
            break;
          }
          anchor = this.locator();
          prev = undefined;
          nextSkip = per;
          pipelined = false;
          queue.push(ask(anchor, 0, per));
          continue;
        }
        prev = sha256d(batch[batch.length - 1]!.subarray(0, HEADER_SIZE));
        for (const b of batch) received += b.length;
        count += batch.length;
        let more = batch.length === slot.max;
        if (!more && cutByBytes(batch, maxBytes)) {
          // Cut short by the byte bound, not the end of the peer's chain: ask for the rest first.
          more = true;
          per = Math.max(1, Math.min(per, batch.length));
          if (skipping) queue.unshift(ask(anchor, slot.skip + batch.length, slot.max - batch.length));
        }
        if (more && !skipping) queue.push(ask([prev, ...this.locator()], 0, max));
        if (more && skipping) {
          pipelined = true;
          // Top the window up with the ranges that follow the last one asked for. The window holds at most
          // one response's bytes (4 MiB) besides the batch being imported: responses in flight share the
          // link, and each must still finish within the request timeout on a slow one (full 1 MB blocks:
          // one request at a time, as their transfer dwarfs the round trip anyway).
          const window = Math.max(1, Math.min(depth, Math.floor(maxBytes / (per * (received / count)))));
          while (queue.length < window) {
            queue.push(ask(anchor, nextSkip, per));
            nextSkip += per;
          }
        } else if (!more && pipelined) {
          drop(); // the peer's chain ends in this batch: the ranges after it are empty
        }
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
      drop();
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
