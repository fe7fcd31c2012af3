/**
 * Sync's download window for one peer: the batches asked for and not yet handed out, in height order, and
 * the plan for the ones after them (Bitcoin Core's block download window, Lodestar's range-sync batches).
 *
 * It has two modes. `skip`: after the first batch, the ranges that follow it are asked for together, each
 * as "skip n blocks past the fork point of one anchor locator", so the link never idles for a round trip
 * between batches. `follow`: one request at a time, each naming the last block of the batch before; used
 * with a depth of 1, and for a peer that cannot skip. Either way the window hands its batches out in height
 * order, one per next(), after it has asked for the ones that follow, so they download while the caller
 * imports.
 *
 * What the window decides when a batch reaches its head:
 * - a full batch: the peer has more; top the window up (skip) or ask for the next one (follow);
 * - a short batch cut by the response's byte bound: not the end; the rest is asked for first, and later
 *   requests ask for fewer blocks;
 * - a short batch otherwise: the peer's chain ends in it; the ranges after it are cancelled;
 * - a batch that does not follow the one before: the peer's chain moved (a reorg there); start again from
 *   our locator as it now stands, at most MAX_RESTARTS times (past that the peer is out of order);
 * - SkipUnsupportedError once a batch has arrived: the peer is older; fall back to `follow`.
 *
 * It knows nothing of the chain but its locator, and nothing of the network but one FetchRange, so
 * test/sync/window.test.ts drives it with fake fetches and a list of hashes for a chain.
 */
import { bytesEqual } from "../consensus/bytes.ts";
import { sha256d } from "../consensus/hash.ts";
import { HEADER_SIZE } from "../consensus/header.ts";
import { Batch, type BatchRange, type BatchState, type FetchRange } from "./batch.ts";
import { SkipUnsupportedError, type SyncFault } from "./types.ts";

/** Times one window starts again because the peer's chain moved under it. */
export const MAX_RESTARTS = 3;

/** Configuration of a DownloadWindow. */
export interface WindowOptions {
  /** Blocks asked for per request; a full batch means the peer has more. */
  batchSize: number;
  /** Requests kept in flight once past the first batch; 1 means `follow` mode from the start. */
  depth: number;
  /** The protocol's bound on a response's block bytes: a shorter batch that reaches it is not the end. */
  maxResponseBytes: number;
  /** Our main chain's locator as it stands now (it moves as the caller imports batches). */
  locator: () => Uint8Array[];
  /** Sends one request to the peer. */
  fetch: FetchRange;
  /** Aborted when sync stops: every request is aborted with it, and the window ends without fault. */
  signal: AbortSignal;
}

/** What next() hands out: the next batch's blocks to import, or the end of the download (with its fault). */
export type WindowStep = { kind: "blocks"; blocks: Uint8Array[] } | { kind: "end"; fault?: SyncFault };

/** Whether a short response stopped at the byte bound: its next block could not have fitted. */
export function cutByBytes(batch: readonly Uint8Array[], maxBytes: number): boolean {
  let bytes = 0;
  let biggest = 0;
  for (const b of batch) {
    bytes += b.length;
    biggest = Math.max(biggest, b.length);
  }
  return bytes + biggest > maxBytes;
}

/** The batches of one download from one peer; next() is called by one loop at a time. */
export class DownloadWindow {
  /** Asked for (or planned) and not yet handed out, in height order. */
  private readonly batches: Batch[] = [];
  private mode: "skip" | "follow";
  /** The locator skips count from: our locator when the window opened or last started again. */
  private anchor: Uint8Array[];
  /** Blocks asked for per skip request; shrinks to what the response's byte bound lets through. */
  private per: number;
  /** First offset past the anchor's fork point not yet planned. */
  private nextSkip: number;
  /** Hash of the last block handed out: the next batch must follow it. */
  private prev: Uint8Array | undefined;
  private restarts = 0;
  /** Bytes and blocks handed out so far: the mean block size sizes the window. */
  private bytes = 0;
  private count = 0;
  private waited = 0;

  constructor(private readonly opts: WindowOptions) {
    this.mode = opts.depth > 1 ? "skip" : "follow";
    this.anchor = opts.locator();
    this.per = opts.batchSize;
    this.nextSkip = opts.batchSize;
    this.plan({ locator: this.anchor, skip: 0, max: opts.batchSize });
  }

  /** Time spent waiting for the peer rather than importing: tells a slow link from a slow disk. */
  get waitMs(): number {
    return this.waited;
  }

  /** The batches not yet handed out, in height order (what a scheduler or a test looks at). */
  get pending(): readonly Batch[] {
    return this.batches;
  }

  /**
   * Sends what is planned, waits for the batch at the head, and returns its blocks once the batches after
   * it are asked for; or the end: the peer has nothing more, sync stopped, or the peer's fault ended it.
   * Call it again only once those blocks are imported: a restart reads our locator as it then stands.
   */
  async next(): Promise<WindowStep> {
    for (;;) {
      this.dispatch();
      const head = this.batches.shift();
      if (!head) return { kind: "end" };
      const state = await this.wait(head);
      if (this.opts.signal.aborted) return this.end();
      if (state.status === "failed") {
        if (!(state.error instanceof SkipUnsupportedError) || !this.prev)
          return this.end({ kind: "fetch-failed", error: state.error });
        this.follow();
        continue;
      }
      if (state.status !== "downloaded" || state.blocks.length === 0) return this.end();
      if (!this.follows(state.blocks)) {
        // A peer whose batches keep not following each other is out of order, not reorganising.
        if (++this.restarts > MAX_RESTARTS) return this.end({ kind: "out-of-order" });
        this.restart();
        continue;
      }
      this.accept(head.range, state.blocks);
      this.dispatch();
      return { kind: "blocks", blocks: state.blocks };
    }
  }

  /** Cancels every batch not yet handed out; next() then ends. */
  close(): void {
    for (const b of this.batches.splice(0)) b.cancel();
  }

  private async wait(head: Batch): Promise<BatchState> {
    const t0 = performance.now();
    try {
      return await head.settled();
    } finally {
      this.waited += performance.now() - t0;
    }
  }

  /** Sends every planned batch, in height order. */
  private dispatch(): void {
    for (const b of this.batches) if (b.status === "queued") b.start(this.opts.fetch, this.opts.signal);
  }

  private plan(range: BatchRange): void {
    this.batches.push(new Batch(range));
  }

  private end(fault?: SyncFault): WindowStep {
    this.close();
    return fault ? { kind: "end", fault } : { kind: "end" };
  }

  /** Whether a batch starts on the block handed out last (a block too short to tell is left to the chain). */
  private follows(blocks: readonly Uint8Array[]): boolean {
    const first = blocks[0]!;
    return !this.prev || first.length < HEADER_SIZE || bytesEqual(first.subarray(4, 36), this.prev);
  }

  /** The head batch follows: plan what comes after it. */
  private accept(range: BatchRange, blocks: Uint8Array[]): void {
    this.prev = sha256d(blocks[blocks.length - 1]!.subarray(0, HEADER_SIZE));
    for (const b of blocks) this.bytes += b.length;
    this.count += blocks.length;
    let more = blocks.length === range.max;
    if (!more && cutByBytes(blocks, this.opts.maxResponseBytes)) {
      // Cut short by the byte bound, not the end of the peer's chain: ask for the rest first.
      more = true;
      this.per = Math.max(1, Math.min(this.per, blocks.length));
      if (this.mode === "skip") {
        const rest = {
          locator: range.locator,
          skip: range.skip + blocks.length,
          max: range.max - blocks.length,
        };
        this.batches.unshift(new Batch(rest));
      }
    }
    // A short batch that the byte bound did not cut: the peer's chain ends in it, the ranges after are empty.
    if (!more) this.close();
    else if (this.mode === "follow") this.afterPrev();
    else this.topUp();
  }

  /**
   * Plans the ranges that follow the last one planned. The window holds at most one response's bytes (4 MiB)
   * besides the batch being imported: responses in flight share the link, and each must still finish within
   * the request timeout on a slow one (full 1 MB blocks: one request at a time, as their transfer dwarfs the
   * round trip anyway).
   */
  private topUp(): void {
    const { depth, maxResponseBytes } = this.opts;
    const mean = this.bytes / this.count;
    const size = Math.max(1, Math.min(depth, Math.floor(maxResponseBytes / (this.per * mean))));
    while (this.batches.length < size) {
      this.plan({ locator: this.anchor, skip: this.nextSkip, max: this.per });
      this.nextSkip += this.per;
    }
  }

  /** Plans one batch after the last block handed out (follow mode). */
  private afterPrev(): void {
    this.plan({ locator: [this.prev!, ...this.opts.locator()], skip: 0, max: this.opts.batchSize });
  }

  /** An older peer refused a skip: from here on, one request at a time after the last block we have. */
  private follow(): void {
    this.close();
    this.mode = "follow";
    this.afterPrev();
  }

  /** The peer's main chain changed since the anchor: what was handed out is imported, so start from there. */
  private restart(): void {
    this.close();
    this.anchor = this.opts.locator();
    this.prev = undefined;
    this.nextSkip = this.per;
    this.plan({ locator: this.anchor, skip: 0, max: this.per });
  }
}
