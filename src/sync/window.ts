/**
 * Sync's body download window over every peer (issue 21; Bitcoin Core PR 4468's moving window,
 * `FindNextBlocksToDownload`, `MAX_BLOCKS_IN_TRANSIT_PER_PEER` and block stalling): the path of checked
 * headers to the target is known before any body is asked for, so each height's body can come from any peer
 * that has it, and every body is checked against its header on arrival.
 *
 * - The window: heights from the lowest not yet handed to the importer, at most `maxBlocks` ahead (8,192;
 *   Core's 1,024 is for blocks of up to 4 MB, and 1,024 of 1.1 KB could not keep three 10 Mbit/s links busy:
 *   docs/lab.md) and `maxBytes` of bodies at the mean size seen; the bodies held plus every request in
 *   flight at its largest answer stay within `maxBytes` too (`roomFor`), whatever the sizes to come.
 * - Assignment: each peer with room gets the lowest run of missing heights it has (`reach`), as one request
 *   (/jbc/blocks, the locator being the hash below the run), at most `perPeer` requests in flight, each sized
 *   to one response's bytes and to a share of half the window, so every peer gets part of it and a peer that
 *   finishes early still finds heights to fetch past a slower one's. Room is filled
 *   when the importer asks for bodies and again on every arrival, so peers keep sending during an import.
 * - Arrival: each body's hash must be its header's; the first that is not ends the response and is the
 *   peer's fault (`mismatch`). A response that starts after another block than the one asked (the peer's
 *   chain moved) or is short gives back its missing heights; an empty one lowers what the peer is known to
 *   have.
 * - Stalls: when the lowest missing height has been in flight from one peer while a peer that has it sits
 *   idle (the window cannot move) for `stallMs`, counted from when that was first seen, the staller's requests are cancelled, it is reported
 *   (`stalled`) and left out, and its heights go to others. A failed request (timeout, transport) is the
 *   same: reported, left out, reassigned.
 *
 * - A growing path (issue 21, headers and bodies at once): a window opened `growing` takes more headers at
 *   its top (`extend`, as the header download brings them) and ends only once `seal`ed, so bodies are asked
 *   for the first checked headers while the later ones still travel (Core asks blocks of any peer whose
 *   best known header is ahead while its header sync goes on).
 *
 * It knows the chain only as the path's entries and the network only as FetchBlocks, so test/sync drives it
 * with a real chain and fake peers.
 */
import type { ChainEntry } from "../chain/types.ts";
import { sha256d } from "../consensus/hash.ts";
import { HEADER_SIZE, hashToHex } from "../consensus/header.ts";
import { Batch } from "./batch.ts";
import type { FetchBlocks, SyncFault, SyncPeer } from "./types.ts";

/** Bodies held or in flight ahead of the importer, by default. */
const DEFAULT_MAX_BYTES = 64 * 2 ** 20;

/** Configuration of a DownloadWindow. */
export interface WindowOptions<P extends SyncPeer> {
  /** The headers to fetch bodies for, oldest first (the first one's parent is on our main chain). */
  path: readonly ChainEntry[];
  /** More headers may come (`extend`): the window does not end at the path's top until `seal`. */
  growing?: boolean;
  fetch: FetchBlocks<P>;
  /** The peers that may be asked now. */
  peers: () => Iterable<P>;
  /** The highest height of the path a peer has (below the path's first: none). */
  reach: (peer: P, path: readonly ChainEntry[]) => number;
  /** Most heights a request asks for (the protocol's per-response bound). */
  batchSize: number;
  /** The protocol's bound on a response's bytes: requests are sized to it once block sizes are seen. */
  maxResponseBytes: number;
  /** Requests in flight per peer. */
  perPeer: number;
  /** Most heights ahead of the importer (default 8,192). */
  maxBlocks?: number;
  /** Most bytes of bodies downloaded or in flight ahead of the importer (default 64 MiB). */
  maxBytes?: number;
  /** How long the lowest missing height may sit with one peer while another is idle (default 10 s). */
  stallMs?: number;
  /** Called for a peer's fault; the peer is left out of this window. */
  onFault: (peer: P, fault: SyncFault) => void;
  /** Aborted when sync stops. */
  signal: AbortSignal;
}

/** A body handed to the importer, with the peer that sent it. */
export interface Fetched<P> {
  entry: ChainEntry;
  raw: Uint8Array;
  peer: P;
}

/** What next() hands out: the next bodies in height order, or the end (done, stopped, or no peer can help). */
export type WindowStep<P> = { kind: "blocks"; items: Fetched<P>[] } | { kind: "end"; done: boolean };

interface Request<P> {
  peer: P;
  /** Index in the path of the first height asked for. */
  from: number;
  count: number;
  batch: Batch;
  started: number;
}

interface Slot<P> {
  raw?: Uint8Array | undefined;
  peer?: P | undefined;
  request?: Request<P> | undefined;
}

/** The download of the bodies of one header path from every peer that has them. */
export class DownloadWindow<P extends SyncPeer> {
  private readonly path: ChainEntry[];
  private readonly slots: Slot<P>[];
  private growing: boolean;
  /** Index of the lowest height not yet handed out. */
  private handed = 0;
  private readonly flights = new Map<string, Set<Request<P>>>();
  /** Peers left out of this window (a fault), and the height each other peer is known to lack from. */
  private readonly excluded = new Set<string>();
  private readonly lacks = new Map<string, number>();
  private bytes = 0;
  private count = 0;
  /** Bytes of the bodies received and not yet handed out. */
  private held = 0;
  private waited = 0;
  private wake: (() => void) | undefined;
  private closed = false;
  /** The request holding the window's lowest missing height while a peer sat idle, and since when. */
  private stalling: { request: Request<P>; since: number } | undefined;
  private readonly stallMs: number;

  constructor(private readonly opts: WindowOptions<P>) {
    this.path = [...opts.path];
    this.slots = opts.path.map(() => ({}));
    this.growing = opts.growing ?? false;
    this.stallMs = opts.stallMs ?? 10_000;
  }

  /** Time spent waiting for peers rather than importing. */
  get waitMs(): number {
    return this.waited;
  }

  /** The path's top: the header the next `extend` must follow. */
  get top(): ChainEntry | undefined {
    return this.path[this.path.length - 1];
  }

  /** Appends checked headers to the path (the first one's parent is its top) and asks for their bodies. */
  extend(entries: readonly ChainEntry[]): void {
    if (this.closed || entries.length === 0) return;
    if (entries[0]!.parent?.hash !== this.top?.hash)
      throw new RangeError("headers that do not extend the path");
    for (const e of entries) {
      this.path.push(e);
      this.slots.push({});
    }
    if (!this.opts.signal.aborted) this.assign();
    this.wake?.();
  }

  /** No more headers will come: the window ends at the path's top. */
  seal(): void {
    this.growing = false;
    this.wake?.();
  }

  /** Requests in flight, per peer id (what a test looks at). */
  inFlight(id: string): number {
    return this.flights.get(id)?.size ?? 0;
  }

  /**
   * Asks what there is room for, waits for the body at the lowest height not handed out, and returns it
   * with the ones after it that have arrived (up to batchSize); or the end: the whole path handed out
   * (done), sync stopped, or no peer left that has the next body.
   */
  async next(): Promise<WindowStep<P>> {
    for (;;) {
      if (this.opts.signal.aborted) return this.end(false);
      if (this.handed < this.slots.length) {
        this.assign();
        const head = this.slots[this.handed]!;
        if (head.raw) return { kind: "blocks", items: this.handOut() };
        // Nobody has it, or every peer that had it failed; unless headers still come (a peer's best rises).
        if (this.flights.size === 0 && !this.growing) return this.end(false);
        this.checkStall();
      } else if (!this.growing) return this.end(true);
      const t0 = performance.now();
      await this.changed();
      this.waited += performance.now() - t0;
    }
  }

  /**
   * The body at `entry`'s height broke a rule that says nothing of the block (not cacheable: a body that is
   * not the header's): from there on, bodies are handed out again, that one fetched from another peer.
   */
  refetch(entry: ChainEntry, peer: P): void {
    const i = entry.height - this.path[0]!.height;
    this.exclude(peer);
    this.handed = Math.min(this.handed, i);
    const slot = this.slots[i];
    if (slot?.raw) this.held -= slot.raw.length;
    if (slot) slot.raw = slot.peer = undefined;
  }

  /** Leaves `peer` out of this window: its requests are cancelled and their heights go to others. */
  exclude(peer: P): void {
    this.excluded.add(peer.id);
    for (const r of this.flights.get(peer.id) ?? []) {
      r.batch.cancel();
      this.release(r);
    }
  }

  /** Cancels every request in flight. */
  close(): void {
    this.closed = true;
    for (const set of this.flights.values()) for (const r of set) r.batch.cancel();
    this.flights.clear();
    this.wake?.();
  }

  private end(done: boolean): WindowStep<P> {
    this.close();
    return { kind: "end", done };
  }

  /** The run of arrived bodies from the lowest not handed out, at most batchSize. */
  private handOut(): Fetched<P>[] {
    const items: Fetched<P>[] = [];
    while (this.handed < this.slots.length && items.length < this.opts.batchSize) {
      const s = this.slots[this.handed]!;
      if (!s.raw) break;
      items.push({ entry: this.path[this.handed]!, raw: s.raw, peer: s.peer! });
      this.held -= s.raw.length;
      s.raw = undefined; // handed out: the importer holds it now
      this.handed++;
    }
    return items;
  }

  /** Heights ahead of the importer the window spans: 8,192, fewer when bodies are large. */
  private span(): number {
    const maxBlocks = this.opts.maxBlocks ?? 8_192;
    if (this.count === 0) return maxBlocks;
    const mean = this.bytes / this.count;
    return Math.max(1, Math.min(maxBlocks, Math.floor((this.opts.maxBytes ?? DEFAULT_MAX_BYTES) / mean)));
  }

  /** Heights per request: one response's bytes at the mean size, and a share of half the window per slot. */
  private perRequest(span: number, peers: number): number {
    const share = Math.ceil(span / Math.max(1, 2 * peers * this.opts.perPeer));
    let per = Math.min(this.opts.batchSize, Math.max(1, share));
    if (this.count > 0)
      per = Math.min(per, Math.max(1, Math.floor(this.opts.maxResponseBytes / (this.bytes / this.count))));
    return per;
  }

  /** Gives every peer with room the lowest run of missing heights in the window that it has. */
  private assign(): void {
    const end = Math.min(this.slots.length, this.handed + this.span());
    const peers = [...this.opts.peers()].filter((p) => !this.excluded.has(p.id));
    const per = this.perRequest(end - this.handed, peers.length);
    for (const p of peers) {
      const reach = Math.min(this.reachIndex(p), end - 1);
      while (this.inFlight(p.id) < this.opts.perPeer) {
        let i = this.handed;
        while (i <= reach && (this.slots[i]!.raw || this.slots[i]!.request)) i++;
        if (i > reach || !this.roomFor(i)) break;
        let n = 1;
        while (n < per && i + n <= reach && !this.slots[i + n]!.raw && !this.slots[i + n]!.request) n++;
        this.send(p, i, n);
      }
    }
  }

  /**
   * Whether a request at index `i` keeps the bodies held plus every request in flight at its largest answer
   * within `maxBytes` (the span's bound at the mean size fails when small blocks come before large ones).
   * The request for the height the importer waits on always goes, else the bodies above it could wait
   * forever: at most one answer past the bound.
   */
  private roomFor(i: number): boolean {
    if (i === this.handed) return true;
    let requests = 0;
    for (const set of this.flights.values()) requests += set.size;
    // Without a bound on an answer's bytes (tests), only the bodies held count.
    const answer = Number.isFinite(this.opts.maxResponseBytes) ? this.opts.maxResponseBytes : 0;
    return this.held + (requests + 1) * answer <= (this.opts.maxBytes ?? DEFAULT_MAX_BYTES);
  }

  /** The highest index of the path `p` has, as far as this window knows. */
  private reachIndex(p: P): number {
    const base = this.path[0]!.height;
    const reach = this.opts.reach(p, this.path) - base;
    return Math.min(reach, (this.lacks.get(p.id) ?? Number.POSITIVE_INFINITY) - 1);
  }

  private send(peer: P, from: number, count: number): void {
    const anchor = this.path[from]!.parent!.hashBytes;
    const batch = new Batch({ locator: [anchor], skip: 0, max: count });
    const r: Request<P> = { peer, from, count, batch, started: performance.now() };
    for (let k = 0; k < count; k++) this.slots[from + k]!.request = r;
    const set = this.flights.get(peer.id) ?? new Set<Request<P>>();
    this.flights.set(peer.id, set);
    set.add(r);
    batch.start(
      (range, signal) => this.opts.fetch(peer, range.locator, { max: range.max, signal }),
      this.opts.signal,
    );
    void batch.settled().then(() => this.arrived(r));
  }

  /** A request answered (or failed): keep the bodies that match their headers, give the rest back. */
  private arrived(r: Request<P>): void {
    if (!this.flights.get(r.peer.id)?.has(r)) return; // cancelled: its heights were given back already
    this.release(r);
    const state = r.batch.state;
    if (state.status === "failed") {
      if (!this.opts.signal.aborted) this.fault(r.peer, { kind: "fetch-failed", error: state.error });
    } else if (state.status === "downloaded") this.accept(r, state.blocks);
    // The peer's slot is refilled now, not when the importer next asks: an import of a run of large
    // bodies takes long enough for every peer to finish its requests meanwhile, and sit idle until it ends.
    if (!this.closed && !this.opts.signal.aborted) this.assign();
    this.wake?.();
  }

  private accept(r: Request<P>, blocks: readonly Uint8Array[]): void {
    const path = this.path;
    for (let k = 0; k < blocks.length && k < r.count; k++) {
      const raw = blocks[k]!;
      const entry = path[r.from + k]!;
      const hash = raw.length >= HEADER_SIZE ? hashToHex(sha256d(raw.subarray(0, HEADER_SIZE))) : "";
      if (hash !== entry.hash) {
        const moved =
          k === 0 && raw.length >= HEADER_SIZE && hashToHex(raw.subarray(4, 36)) !== entry.parent!.hash;
        // A first block after another parent: the peer's main chain no longer holds our anchor (a reorg there).
        if (moved) this.lacks.set(r.peer.id, r.from);
        else
          this.fault(r.peer, { kind: "mismatch", height: entry.height, expected: entry.hash, actual: hash });
        return;
      }
      const slot = this.slots[r.from + k]!;
      if (slot.raw || r.from + k < this.handed) continue; // another peer's copy came first
      slot.raw = raw;
      slot.peer = r.peer;
      this.held += raw.length;
      this.bytes += raw.length;
      this.count++;
    }
    if (blocks.length === 0) this.lacks.set(r.peer.id, r.from);
  }

  /** Takes a request off the books: its heights without a body are missing again. */
  private release(r: Request<P>): void {
    this.flights.get(r.peer.id)?.delete(r);
    if (this.flights.get(r.peer.id)?.size === 0) this.flights.delete(r.peer.id);
    for (let k = 0; k < r.count; k++) {
      const s = this.slots[r.from + k]!;
      if (s.request === r) s.request = undefined;
    }
  }

  private fault(peer: P, fault: SyncFault): void {
    this.exclude(peer);
    this.opts.onFault(peer, fault);
  }

  /**
   * The window cannot move: the lowest missing height has been with one peer past the stall timeout while a
   * peer that has it has room. The staller is reported and left out, and its heights go to the others.
   */
  private checkStall(): void {
    const r = this.slots[this.handed]!.request;
    const idle =
      r !== undefined &&
      [...this.opts.peers()].some(
        (p) =>
          p.id !== r.peer.id &&
          !this.excluded.has(p.id) &&
          this.inFlight(p.id) < this.opts.perPeer &&
          this.reachIndex(p) >= this.handed,
      );
    if (!r || !idle) {
      this.stalling = undefined;
      return;
    }
    // The clock starts when the window is first seen blocked (as Core's m_stalling_since), not when the
    // request was sent: a request sent early, behind the peer's others, has not stalled anything yet.
    const now = performance.now();
    if (this.stalling?.request !== r) this.stalling = { request: r, since: now };
    else if (now - this.stalling.since >= this.stallMs)
      this.fault(r.peer, { kind: "stalled", height: this.path[this.handed]!.height });
  }

  /** Resolves on the next arrival, or after a quarter of the stall timeout (to look for a stall). */
  private changed(): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(done, Math.max(10, this.stallMs / 4));
      const onAbort = (): void => done();
      this.opts.signal.addEventListener("abort", onAbort, { once: true });
      const self = this;
      function done(): void {
        clearTimeout(t);
        self.opts.signal.removeEventListener("abort", onAbort);
        self.wake = undefined;
        resolve();
      }
      this.wake = done;
    });
  }
}
