/**
 * The sync client, headers first (issue 21; Bitcoin Core's headers-first sync with parallel block download,
 * PR 4468): it asks the peers that claim more work than our tip for their headers, has the chain check each
 * one against its parent before anything else (SyncHeaders, headers.ts), picks the header chain with the
 * most work that some peer showed, and downloads its bodies from every peer that has them through a moving
 * window (window.ts), importing them in height order through the chain's processBlocks. Headers and bodies
 * travel at once: the header round runs on while bodies are fetched for the headers already checked, the
 * window's path growing as the best header chain does (header-pipe.ts asks the header ranges of every peer
 * at once).
 * It knows the chain only through SyncChain and the network only through a FetchBlocks and a FetchHeaders
 * function, so it runs in tests against a real Chain and fake fetchers. Penalties are not its business: a
 * peer's fault is reported (onFault), and the caller (src/net) decides what it costs.
 */

import type { ChainEntry } from "../chain/types.ts";
import { type Block, decodeBlock } from "../consensus/block.ts";
import { BlockError } from "../consensus/errors.ts";
import { errorMessage } from "../util/errors.ts";
import type { Logger } from "../util/logger.ts";
import { pipelineHeaders } from "./header-pipe.ts";
import { HEADERS_PER_REQUEST, SyncHeaders } from "./headers.ts";
import { ProgressMeter } from "./progress.ts";
import type {
  FetchBlocks,
  FetchHeaders,
  SyncChain,
  SyncFault,
  SyncOutcome,
  SyncPeer,
  SyncProgress,
} from "./types.ts";
import { DownloadWindow, type Fetched } from "./window.ts";

/** Configuration of Sync. */
export interface SyncOptions<P extends SyncPeer> {
  chain: SyncChain;
  fetchBlocks: FetchBlocks<P>;
  fetchHeaders: FetchHeaders<P>;
  /** Peers that may be synced from (those that completed the handshake). */
  peers: () => Iterable<P>;
  /** Most blocks asked for per request, and handed to processBlocks at once. */
  batchSize: number;
  /** Block requests kept in flight per peer (default 1). */
  pipeline?: number;
  /** The protocol's bound on a response's block bytes: requests are sized to it. */
  maxResponseBytes?: number;
  /** The body window: heights and bytes ahead of the importer, and the stall timeout (window.ts). */
  window?: { maxBlocks?: number; maxBytes?: number; stallMs?: number };
  /** Most headers held ahead of our tip (default 20,000): a header round stops asking past it. */
  maxHeaders?: number;
  logger: Logger;
  /** A sync of more blocks than this reports progress (default 300). */
  progressMinBlocks?: number;
  /** Shortest interval between two progress reports, in ms (default 1,000). */
  progressIntervalMs?: number;
  onProgress?: (event: SyncProgress) => void;
  /** A peer's fault (bad headers, a body that is not its header's, a stall, a failed request, a bad block). */
  onFault?: (peer: P, fault: SyncFault) => Promise<void> | void;
  /** Called after every download that gained height (events). */
  onOutcome?: (outcome: SyncOutcome) => Promise<void> | void;
}

/** One sync loop at a time; `request` while it runs makes it run once more when it ends. */
export class Sync<P extends SyncPeer> {
  private run: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly stopSignal = new AbortController();
  private readonly log: Logger;
  private readonly headers: SyncHeaders;
  /** Peers that misbehaved in this round: no more requests to them until the next. */
  private readonly bad = new Set<string>();
  /** Waiting for the header tree to grow (a first target), woken by `grew`. */
  private readonly waiting = new Set<() => void>();
  /** The running download's window, if any: a header fault leaves its peer out, new headers extend it. */
  private window: DownloadWindow<P> | undefined;
  private onHeaders: (() => void) | undefined;

  constructor(private readonly opts: SyncOptions<P>) {
    this.log = opts.logger;
    this.headers = new SyncHeaders(opts.chain, opts.maxHeaders ?? 20_000);
  }

  /** Forgets what sync knew of a peer that left. */
  forget(id: string): void {
    this.headers.forget(id);
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
    this.grew();
    return this.run ?? Promise.resolve();
  }

  /** Peers claiming more work than our tip that have not fallen short of their current claim. */
  private claimants(): P[] {
    const ours = this.opts.chain.tip.chainWork;
    const out: P[] = [];
    for (const p of this.opts.peers()) {
      const w = p.status?.work;
      if (w === undefined || w <= ours) continue;
      if (p.stalledAt !== undefined && w <= p.stalledAt) continue;
      out.push(p);
    }
    return out.sort((a, b) => (b.status!.work > a.status!.work ? 1 : -1));
  }

  private async loop(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      this.bad.clear();
      // The header round goes on beside the download: bodies are asked for the first checked headers while
      // the later ones still travel (Core asks blocks as its header sync extends the best header chain).
      let roundOver = false;
      const round = this.headerRound().finally(() => {
        roundOver = true;
        this.grew();
      });
      const target = await this.firstTarget(() => roundOver);
      const gained = target && !this.stopped ? await this.download(target, () => roundOver) : 0;
      await round;
      if (gained === 0) return;
    }
  }

  /** The header with the most work that a peer in good standing showed, if it outworks our tip. */
  private target(): ChainEntry | undefined {
    return this.headers.target([...this.opts.peers()].filter((p) => !this.bad.has(p.id)));
  }

  /** The first target of a round: as soon as checked headers outwork our tip, or none once the round is over. */
  private async firstTarget(roundOver: () => boolean): Promise<ChainEntry | undefined> {
    for (;;) {
      const t = this.target();
      if (t || roundOver() || this.stopped) return t;
      await new Promise<void>((resolve) => this.waiting.add(resolve));
    }
  }

  /** The header tree grew (or the round ended, or sync stopped): wake whoever waits on it. */
  private grew(): void {
    for (const wake of this.waiting) wake();
    this.waiting.clear();
    this.onHeaders?.();
  }

  /**
   * Extends the window's path to the new target when that descends from the path's top (a target on another
   * branch waits for the next download: the loop runs again when this one ends); seals it after the round.
   */
  private extendWindow(window: DownloadWindow<P>, roundOver: boolean): void {
    const top = window.top;
    const t = this.target();
    if (top && t && t.chainWork > top.chainWork) {
      const more: ChainEntry[] = [];
      for (let e: ChainEntry | undefined = t; e && e.height > top.height; e = e.parent) more.push(e);
      if (more.at(-1)?.parent?.hash === top.hash) window.extend(more.reverse());
    }
    if (roundOver) window.seal();
  }

  /**
   * Asks each peer that claims more work than our tip for headers until it has no more (or the header tree
   * is full). A peer whose headers end short of its claimed work is not asked again until it claims more,
   * and gets bodies asked for only where its headers go.
   */
  private async headerRound(): Promise<void> {
    const claimants = this.claimants();
    for (const p of claimants) this.headers.noteTip(p);
    if (claimants.length > 0 && !this.stopped)
      await pipelineHeaders({
        headers: this.headers,
        peers: () => this.claimants().filter((p) => !this.bad.has(p.id)),
        fetch: this.opts.fetchHeaders,
        perPeer: 2,
        anchor: this.headers.target(claimants) ?? this.opts.chain.tip,
        onAdded: () => this.grew(),
        onFault: (p, f) => this.fault(p, f),
        stopped: () => this.stopped,
      });
    for (const p of this.claimants()) {
      if (this.stopped) return;
      if (this.bad.has(p.id)) continue;
      this.headers.noteTip(p);
      if ((this.headers.bestOf(p)?.chainWork ?? 0n) >= p.status!.work) continue;
      const ended = await this.headersFrom(p);
      if (ended && (this.headers.bestOf(p)?.chainWork ?? 0n) < p.status!.work) {
        this.log.debug({ peer: p.id }, "peer's headers show less work than it claims");
        p.stalledAt = p.status!.work;
      }
    }
  }

  /** Headers from `p` until a short answer (true), a full header tree or a fault (false). */
  private async headersFrom(p: P): Promise<boolean> {
    for (;;) {
      if (this.stopped || this.bad.has(p.id) || this.headers.count >= this.headers.maxHeaders) return false;
      // From our tip for a peer not placed yet: its answer shows where its chain goes, known headers included.
      const from = this.headers.bestOf(p) ?? this.opts.chain.tip;
      let raws: Uint8Array[];
      try {
        raws = await this.opts.fetchHeaders(p, this.headers.locator(from), HEADERS_PER_REQUEST);
      } catch (error) {
        if (!this.stopped) this.fault(p, { kind: "fetch-failed", error });
        return false;
      }
      const added = this.headers.add(p, raws);
      if (added.error) {
        // No body is asked for on the word of a peer that sent a bad header.
        this.headers.forget(p.id);
        this.fault(p, { kind: "bad-headers", error: added.error });
        return false;
      }
      this.grew();
      if (raws.length < HEADERS_PER_REQUEST) return true;
    }
  }

  /** Reports a peer's fault and leaves it out until the next round. */
  private fault(p: P, fault: SyncFault): void {
    this.bad.add(p.id);
    this.window?.exclude(p);
    this.log.debug({ peer: p.id, fault: fault.kind }, "sync fault");
    Promise.resolve(this.opts.onFault?.(p, fault)).catch((err: unknown) =>
      this.log.warn({ err: errorMessage(err) }, "sync fault handler failed"),
    );
  }

  /**
   * Downloads the bodies of the path to `target` from every peer that has them (window.ts) and imports them
   * in height order; returns the height gained.
   */
  private async download(target: ChainEntry, roundOver: () => boolean): Promise<number> {
    const meter = new ProgressMeter(this.opts.chain, this.opts);
    const served = new Map<string, number>();
    this.log.info({ from: meter.startHeight, to: target.height, headersDone: roundOver() }, "sync started");
    const window = this.openWindow(this.headers.pathTo(target), !roundOver());
    this.window = window;
    this.onHeaders = () => this.extendWindow(window, roundOver());
    this.onHeaders();
    try {
      for (;;) {
        const step = await window.next();
        if (step.kind === "end") break;
        for (const it of step.items) served.set(it.peer.id, (served.get(it.peer.id) ?? 0) + 1);
        if (!(await this.importItems(step.items, window))) break;
        this.headers.prune();
        const top = [...served].sort((a, b) => b[1] - a[1])[0]?.[0] ?? "";
        const progress = meter.due(top, window.top?.height ?? target.height);
        if (progress) this.opts.onProgress?.(progress);
      }
    } catch (err) {
      // An import that throws (the chain closing under us) ends the download as a failed request does.
      if (!this.stopped) this.log.warn({ err: errorMessage(err) }, "sync import failed");
    } finally {
      this.window = this.onHeaders = undefined;
      window.close();
      this.headers.prune();
    }
    return this.finish(meter, served, window.waitMs);
  }

  private openWindow(path: ChainEntry[], growing: boolean): DownloadWindow<P> {
    const { fetchBlocks, batchSize, pipeline, maxResponseBytes, window } = this.opts;
    return new DownloadWindow<P>({
      path,
      growing,
      fetch: fetchBlocks,
      peers: () => [...this.opts.peers()].filter((p) => !this.bad.has(p.id)),
      reach: (p, pth) => this.headers.reach(p, pth),
      batchSize,
      maxResponseBytes: maxResponseBytes ?? Number.POSITIVE_INFINITY,
      perPeer: Math.max(1, pipeline ?? 1),
      ...window,
      onFault: (p, f) => this.fault(p, f),
      signal: this.stopSignal.signal,
    });
  }

  /** What a download achieved, logged and reported when it gained height. */
  private async finish(meter: ProgressMeter, served: Map<string, number>, waitMs: number): Promise<number> {
    const height = this.opts.chain.height;
    const blocks = height - meter.startHeight;
    if (blocks <= 0) return 0;
    const ms = performance.now() - meter.t0;
    const blocksPerSec = Math.round((blocks * 1000) / ms);
    const peer = [...served].sort((a, b) => b[1] - a[1])[0]?.[0] ?? "";
    const peers = Object.fromEntries(served);
    this.log.info(
      { height, blocks, ms: Math.round(ms), blocksPerSec, waitMs: Math.round(waitMs), peers },
      "sync done",
    );
    await this.opts.onOutcome?.({ peer, height, blocks, ms, blocksPerSec, waitMs, served: peers });
    return blocks;
  }

  /**
   * Feeds bodies to the chain in height order through processBlocks (consecutive tip extensions in one store
   * batch). A body that does not decode, or that breaks a rule saying nothing of the block (a record list
   * that is not the header's), is the sender's fault and is fetched again from another peer; a block that
   * breaks a rule is its sender's fault too, and ends the download of that branch (false).
   */
  async importItems(items: readonly Fetched<P>[], window: DownloadWindow<P>): Promise<boolean> {
    const blocks: Array<{ block: Block; raw: Uint8Array }> = [];
    let undecodable: { at: Fetched<P>; error: unknown } | undefined;
    for (const it of items) {
      try {
        blocks.push({ block: decodeBlock(it.raw), raw: it.raw });
      } catch (error) {
        undecodable = { at: it, error };
        break;
      }
    }
    const results = await this.opts.chain.processBlocks(blocks);
    for (let i = 0; i < results.length; i++) {
      const r = results[i]!;
      if (!(r instanceof BlockError)) continue;
      const at = items[i]!;
      this.fault(at.peer, { kind: "invalid-block", error: r });
      if (!r.cacheable) {
        window.refetch(at.entry, at.peer);
        return true;
      }
      this.headers.dropFrom(at.entry);
      return false;
    }
    if (undecodable) {
      this.fault(undecodable.at.peer, { kind: "undecodable", error: undecodable.error });
      window.refetch(undecodable.at.entry, undecodable.at.peer);
    }
    return true;
  }
}
