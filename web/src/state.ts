import { useEffect, useState } from "preact/hooks";
import type { DevnetView, ExplorerInfo } from "../../src/api/devnet.ts";
import type {
  BlockSummary,
  MempoolView,
  MiningView,
  PeerView,
  ReorgView,
  Status,
  Tree,
} from "../../src/api/schemas.ts";
import { BoundedMap } from "../../src/util/bounded.ts";
import { errorMessage } from "../../src/util/errors.ts";
import { api, isUnreachable } from "./api.ts";
import { type BlockEvent, openStream, type StreamState, type TipEvent } from "./stream.ts";

/**
 * The explorer's picture of the node, kept current from the event stream and filled in from the API.
 * One instance per page; views read it through `useExplorer()` and re-render on every change.
 *
 * The main chain is held by height (newest pages first, older pages loaded in the background for the
 * all-time race); every block summary seen is also kept by hash, so the blocks a reorg replaced can still
 * be shown after their heights were taken over.
 */

export interface BlockRef {
  hash: string;
  height: number;
  miner: string;
}

export interface ReorgRecord {
  /** Page-local id, for list keys and test selectors. */
  id: number;
  at: number;
  depth: number;
  fork: { height: number; hash: string };
  left: BlockRef[];
  joined: BlockRef[];
}

export interface ExplorerState {
  info?: ExplorerInfo;
  status?: Status;
  /** Set while the node does not answer API requests. */
  unreachable?: string;
  /** Set when the node answered with an error or unexpected data. */
  error?: string;
  /** When the last successful answer arrived. */
  lastContact?: number;
  stream: StreamState;
  /** Since when the stream is down (undefined while live). */
  streamDownSince?: number;
  /** Main chain summaries by height. */
  main: Map<number, BlockSummary>;
  /** Lowest height loaded so far; 0 once the whole chain is in. */
  loadedFrom: number;
  tree?: Tree;
  reorgs: ReorgRecord[];
  /** Hashes that left the main chain in a reorg seen on this page → that reorg's id. */
  replaced: Map<string, number>;
  /** Hash → when the block arrived over the stream (new rows are highlighted for a few seconds). */
  arrived: Map<string, number>;
  peers: PeerView[];
  mining?: MiningView;
  devnet?: DevnetView;
  devnetError?: string;
  /** The first page of pending records, reloaded when record events arrive. */
  mempool?: MempoolView;
  /** Ids that came back to the mempool after a reorg seen on this page. */
  unconfirmed: Set<string>;
}

const PAGE = 100;
/** Pending records listed on the home page. */
const MEMPOOL_ROWS = 20;
const TREE_DEPTH = 40;
const KEEP_SUMMARIES = 5000;
/** Older pages are fetched one after another with this pause, so a long chain never floods the node. */
const BACKFILL_PAUSE_MS = 50;
/** Stop backfilling the all-time race past this many blocks: the page stays light on huge chains. */
const BACKFILL_LIMIT = 50_000;

export class Explorer {
  state: ExplorerState = {
    stream: "connecting",
    main: new Map(),
    loadedFrom: Number.POSITIVE_INFINITY,
    reorgs: [],
    replaced: new Map(),
    arrived: new Map(),
    peers: [],
    unconfirmed: new Set(),
  };
  private readonly byHash = new BoundedMap<string, BlockRef>(KEEP_SUMMARIES);
  private readonly listeners = new Set<() => void>();
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private readonly pending = new Map<string, ReturnType<typeof setTimeout>>();
  private closeStream: (() => void) | undefined;
  private generation = 0;
  private reorgIds = 0;
  private backfilling = false;

  start(): void {
    this.closeStream = openStream(
      {
        hello: () => this.resync(),
        block: (e) => this.onBlock(e),
        tip: (e) => this.onTip(e),
        reorg: (e) => this.onReorg(e),
        peer: () => this.later("peers", 200, () => this.loadPeers()),
        mining: (m) => this.set({ mining: m }),
        sync: () => this.later("status", 300, () => this.loadStatus()),
        malformed: () => this.later("resync", 500, () => this.resync()),
        "record.pending": () => this.later("mempool", 250, () => this.loadMempool()),
        "record.confirmed": () => this.later("mempool", 250, () => this.loadMempool()),
        "record.unconfirmed": (e) => {
          this.set({ unconfirmed: new Set(this.state.unconfirmed).add(e.id) });
          this.later("mempool", 250, () => this.loadMempool());
        },
      },
      (stream) => {
        const down = stream === "live" ? undefined : (this.state.streamDownSince ?? Date.now());
        this.set({ stream, streamDownSince: down });
        // A dropped stream may mean the node is gone: find out now rather than at the next poll.
        if (stream === "reconnecting") this.later("status", 200, () => this.loadStatus());
      },
    );
    // Hash rate and uptime change without events; the devnet's other nodes only tell when asked.
    this.timers.push(setInterval(() => void this.loadStatus(), 5000));
    this.timers.push(
      setInterval(() => {
        if (this.state.info?.devnet) void this.loadDevnet();
      }, 2000),
    );
  }

  stop(): void {
    this.closeStream?.();
    for (const t of this.timers) clearInterval(t);
    for (const t of this.pending.values()) clearTimeout(t);
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Miner and height of any block seen on this page, by hash. */
  ref(hash: string): BlockRef | undefined {
    return this.byHash.get(hash);
  }

  private set(patch: Partial<ExplorerState>): void {
    this.state = { ...this.state, ...patch };
    for (const fn of this.listeners) fn();
  }

  /** Runs `fn` once after `ms`, however often it is asked for meanwhile. */
  private later(key: string, ms: number, fn: () => unknown): void {
    if (this.pending.has(key)) return;
    this.pending.set(
      key,
      setTimeout(() => {
        this.pending.delete(key);
        void fn();
      }, ms),
    );
  }

  /** Reloads everything: at start and after every reconnection (events may have been missed). */
  private async resync(): Promise<void> {
    const gen = ++this.generation;
    await Promise.all([
      this.loadInfo(),
      this.loadStatus(),
      this.loadTree(),
      this.loadPeers(),
      this.loadMempool(),
    ]);
    await this.loadRecent(gen);
    if (this.state.info?.devnet) void this.loadDevnet();
    void this.backfill(gen);
  }

  private async guard<T>(what: () => Promise<T>): Promise<T | undefined> {
    try {
      const v = await what();
      this.set({ unreachable: undefined, error: undefined, lastContact: Date.now() });
      return v;
    } catch (err) {
      if (isUnreachable(err)) this.set({ unreachable: errorMessage(err) });
      else this.set({ error: errorMessage(err) });
      return undefined;
    }
  }

  private async loadInfo(): Promise<void> {
    const info = await this.guard(() => api.explorerInfo());
    if (info) this.set({ info });
  }

  private async loadStatus(): Promise<void> {
    const status = await this.guard(() => api.status());
    if (status) this.set({ status, mining: status.mining });
  }

  private async loadTree(): Promise<void> {
    const tree = await this.guard(() => api.tree(TREE_DEPTH));
    if (!tree) return;
    for (const n of tree.nodes) this.remember({ hash: n.hash, height: n.height, miner: n.miner });
    this.set({ tree });
  }

  private async loadMempool(): Promise<void> {
    const mempool = await this.guard(() => api.mempool({ limit: MEMPOOL_ROWS }));
    if (mempool) this.set({ mempool });
  }

  private async loadPeers(): Promise<void> {
    const r = await this.guard(() => api.peers());
    if (r) this.set({ peers: r.peers });
  }

  private async loadDevnet(): Promise<void> {
    try {
      this.set({ devnet: await api.devnet(), devnetError: undefined });
    } catch (err) {
      this.set({ devnetError: errorMessage(err) });
    }
  }

  /** The newest page of the main chain, replacing whatever is held above it. */
  private async loadRecent(gen: number): Promise<void> {
    const page = await this.guard(() => api.blocks({ limit: PAGE }));
    if (!page || gen !== this.generation) return;
    const main = new Map(this.state.main);
    for (const h of [...main.keys()]) if (h > page.tipHeight) main.delete(h);
    for (const b of page.blocks) {
      main.set(b.height, b);
      this.remember(b);
    }
    const lowest = page.blocks.at(-1)?.height ?? 0;
    // Held pages below the new page may belong to a chain that has since been replaced: drop them.
    const join = main.get(lowest - 1);
    const keepOlder = join !== undefined && page.blocks.at(-1)?.prev === join.hash;
    if (!keepOlder) for (const h of [...main.keys()]) if (h < lowest) main.delete(h);
    this.set({ main, loadedFrom: keepOlder ? Math.min(this.state.loadedFrom, lowest) : lowest });
  }

  /** Loads older pages for the all-time race, newest first, in the background. */
  private async backfill(gen: number): Promise<void> {
    if (this.backfilling) return;
    this.backfilling = true;
    try {
      while (gen === this.generation && this.state.loadedFrom > 0) {
        const tip = this.state.status?.tip.height ?? 0;
        if (tip - this.state.loadedFrom >= BACKFILL_LIMIT) break;
        const page = await this.guard(() => api.blocks({ limit: PAGE, before: this.state.loadedFrom }));
        if (!page || gen !== this.generation) break;
        const main = new Map(this.state.main);
        for (const b of page.blocks) {
          main.set(b.height, b);
          this.remember(b);
        }
        this.set({ main, loadedFrom: page.blocks.at(-1)?.height ?? 0 });
        await new Promise((r) => setTimeout(r, BACKFILL_PAUSE_MS));
      }
    } finally {
      this.backfilling = false;
    }
  }

  private remember(b: BlockRef): void {
    this.byHash.set(b.hash, { hash: b.hash, height: b.height, miner: b.miner });
  }

  private onBlock(e: BlockEvent): void {
    this.remember(e);
    const arrived = new Map(this.state.arrived);
    arrived.set(e.hash, Date.now());
    for (const [h, t] of arrived) if (Date.now() - t > 60_000) arrived.delete(h);
    const patch: Partial<ExplorerState> = { arrived };
    if (e.main) {
      const { main: _main, ...summary } = e;
      const main = new Map(this.state.main);
      main.set(e.height, summary);
      patch.main = main;
    }
    this.set(patch);
    this.later("tree", 150, () => this.loadTree());
  }

  private onTip(e: TipEvent): void {
    const main = new Map(this.state.main);
    for (const h of [...main.keys()]) if (h > e.height) main.delete(h);
    const st = this.state.status;
    // The tip is known now; difficulty and the rest of the status follow with the next request.
    const status = st && {
      ...st,
      tip: { height: e.height, hash: e.hash, time: main.get(e.height)?.time ?? st.tip.time },
    };
    this.set({ main, status });
    // The stream carried every block of the new chain; if this page still disagrees, it missed some.
    if (main.get(e.height)?.hash !== e.hash)
      this.later("recent", 100, () => this.loadRecent(this.generation));
    this.later("status", 150, () => this.loadStatus());
    this.later("tree", 150, () => this.loadTree());
    if (this.state.info?.devnet) this.later("devnet", 300, () => this.loadDevnet());
  }

  private onReorg(e: ReorgView): void {
    const ref = (hash: string): BlockRef => this.byHash.get(hash) ?? { hash, height: -1, miner: "?" };
    const record: ReorgRecord = {
      id: ++this.reorgIds,
      at: Date.now(),
      depth: e.depth,
      fork: e.fork,
      left: e.left.map(ref),
      joined: e.joined.map(ref),
    };
    const replaced = new Map(this.state.replaced);
    for (const h of e.left) replaced.set(h, record.id);
    // A block that left in one reorg and came back in a later one is on the main chain again.
    for (const h of e.joined) replaced.delete(h);
    this.set({ reorgs: [record, ...this.state.reorgs].slice(0, 20), replaced });
  }
}

/** The page's explorer, created and started by the first component that asks for it. */
let instance: Explorer | undefined;

export function explorer(): Explorer {
  if (!instance) {
    instance = new Explorer();
    instance.start();
  }
  return instance;
}

/** The explorer's state; the calling component re-renders whenever it changes. */
export function useExplorer(): ExplorerState {
  const ex = explorer();
  const [state, setState] = useState(ex.state);
  useEffect(() => {
    setState(ex.state);
    return ex.subscribe(() => setState(ex.state));
  }, [ex]);
  return state;
}

/** The current time, refreshed every `ms`, for "3 s ago" labels. */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

/** Main-chain summaries from the tip down, as far as loaded without a gap. */
export function mainChainDesc(s: ExplorerState, limit = Number.POSITIVE_INFINITY): BlockSummary[] {
  const out: BlockSummary[] = [];
  let top = -1;
  for (const h of s.main.keys()) if (h > top) top = h;
  for (let h = top; h >= 0 && out.length < limit; h--) {
    const b = s.main.get(h);
    if (!b) break;
    out.push(b);
  }
  return out;
}
