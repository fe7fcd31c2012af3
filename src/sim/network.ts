import { Chain } from "../chain/chain.ts";
import type { ChainEntry } from "../chain/types.ts";
import { type Block, encodeBlock } from "../consensus/block.ts";
import { BlockError } from "../consensus/errors.ts";
import { headerHash } from "../consensus/header.ts";
import type { NetworkParams } from "../consensus/params.ts";
import type { BlockRecord } from "../consensus/records.ts";
import { buildBlock } from "../consensus/template.ts";
import { fixedLatency, type LatencyModel } from "./latency.ts";
import { MemoryStore } from "./memory-store.ts";
import { bitsWork, paddingRecords, solve } from "./params.ts";
import { EventQueue } from "./queue.ts";
import { Relay, type RelayOptions, type WireShape } from "./relay.ts";
import { makeRng, type Rng } from "./rng.ts";
import { linkPeers, type Topology } from "./topology.ts";

/**
 * The simulated network: N nodes in one process, each a real `Chain` on its own MemoryStore, driven by
 * a discrete-event queue in virtual time. The chain's clock is the virtual clock, so the future-time
 * rule, median time past and ASERT all read simulated time.
 *
 * Mining: a node with hash rate h (virtual hashes per second) mining at bits b finds its next block
 * after an exponential time with mean work(b) / h. The draw is memoryless, so it is redrawn only when
 * the node's bits or hash rate change (with ASERT, every tip change); with fixed difficulty a node keeps
 * its draw across tip changes and builds, when it fires, on whatever tip it has then. The block itself is
 * real: a template on `chain.nextBlockContext()` (time = the virtual clock in whole seconds, raised to
 * median time past + 1), a real nonce search at the real (easy) target, then `processBlock`.
 *
 * Gossip: a node announces every block that enters its tree as main or side (what src/net forwards:
 * processBlock said "main" or "side") to its peers; a copy takes what the relay model says (relay.ts:
 * latency plus the full block over the bandwidth, or a compact block and maybe one round trip).
 * In a `mesh` every node is every other's peer and only a block's finder (or publisher) sends it: the
 * latency model is then the end-to-end propagation delay. In a `random` graph every node relays.
 * A copy that arrives at a node that already has the block is dropped before processBlock, as a
 * gossip seen-cache would (the chain would answer "duplicate").
 */

/** What a node does with blocks: honest nodes relay at once; a selfish pool withholds (selfish.ts). */
export interface Strategy {
  /** A block this node just mined. */
  onMined(sim: Simulation, node: SimNode, block: FoundBlock): Promise<void>;
  /** An entry new to this node's tree (own or received), after the chain committed it. */
  onEntry(sim: Simulation, node: SimNode, entry: ChainEntry): void;
  /** Mining has stopped: last chance to publish. */
  onEnd?(sim: Simulation, node: SimNode): void;
}

/** A block as the simulation tracks it: one object shared by every node that holds it. */
export interface FoundBlock {
  hash: string;
  block: Block;
  raw: Uint8Array;
  /** Its sizes on the wire (relay.ts). */
  wire: WireShape;
  miner: number;
  height: number;
  /** Virtual time it was found. */
  foundAt: number;
}

export interface NodeSpec {
  /** Virtual hashes per second. */
  hashrate: number;
  strategy?: Strategy;
}

export interface SimOptions {
  params: NetworkParams;
  seed: number;
  nodes: NodeSpec[];
  topology?: Topology;
  latency?: LatencyModel;
  /** Link bandwidth in bits per second (default unlimited). */
  bandwidth?: number;
  /** Extra data bytes per block (real data records), so transfer time has something to carry. */
  blockBytes?: number;
  /** Full or compact relay, and records modelled only by their size (relay.ts); default full, none. */
  relay?: RelayOptions;
  /** Record each block's first arrival at every node (`relay.firstArrivals`): propagation figures. */
  measurePropagation?: boolean;
  /** Stop mining after this many blocks have been found. */
  blocks: number;
  /** Record every block handed to a node's processBlock, in order (tests replay it on a real node). */
  trace?: boolean;
  /** Whether the link from → to carries messages at virtual time `now` (default always): partitions. */
  linkUp?: (from: number, to: number, now: number) => boolean;
  /** Called about every `progressEvery` events. */
  onProgress?: (p: SimProgress) => void;
  progressEvery?: number;
}

export interface SimProgress {
  found: number;
  target: number;
  events: number;
  virtualTime: number;
}

export class SimNode {
  peers: number[] = [];
  /** Bits and hash rate the pending draw was made for; a change forces a redraw. */
  private scheduledFor = { bits: -1, hashrate: -1 };
  /** Generation of the pending mining event; older events are ignored when they fire. */
  private generation = 0;
  private extraNonce = 0n;
  /** Highest entry seq already handed to the strategy (reorgs re-announce old entries; skip those). */
  private seenSeq = -1;
  /** Reorg depths this node went through. */
  readonly reorgs: number[] = [];
  mined = 0;

  constructor(
    readonly id: number,
    readonly name: string,
    readonly chain: Chain,
    readonly store: MemoryStore,
    public hashrate: number,
    readonly strategy: Strategy,
  ) {}

  /** The pending draw has fired: the next schedule() must draw anew. */
  consumed(): void {
    this.scheduledFor = { bits: -1, hashrate: -1 };
  }

  /** Schedules (or keeps) the node's next find, per the memoryless rule in the module comment. */
  schedule(sim: Simulation, force = false): void {
    if (sim.stopped || this.hashrate <= 0) {
      this.generation++;
      return;
    }
    // Without retargeting every block carries the genesis bits: no need to ask the chain.
    const bits = sim.params.noRetargeting
      ? sim.params.genesis.header.bits
      : this.chain.nextBlockContext(sim.clock()).bits;
    if (!force && bits === this.scheduledFor.bits && this.hashrate === this.scheduledFor.hashrate) return;
    this.scheduledFor = { bits, hashrate: this.hashrate };
    const gen = ++this.generation;
    const delay = sim.miningRng.exp(sim.work(bits) / this.hashrate);
    sim.queue.after(delay, () => (gen === this.generation ? sim.mine(this) : undefined));
  }

  /** Mining template for this node's tip at the current virtual time; undefined if the clock is behind MTP + drift. */
  template(sim: Simulation, records: BlockRecord[]): Block | undefined {
    const now = sim.clock();
    const ctx = this.chain.nextBlockContext(now);
    const time = Math.max(now, ctx.minTime);
    if (time > ctx.maxTime) return undefined;
    return buildBlock({
      prevHash: ctx.prevHash,
      height: ctx.height,
      bits: ctx.bits,
      time,
      miner: this.name,
      extraNonce: this.extraNonce++,
      records,
    });
  }

  /** Entry-seq filter: true the first time an entry is seen. */
  isNew(entry: ChainEntry): boolean {
    if (entry.seq <= this.seenSeq) return false;
    this.seenSeq = entry.seq;
    return true;
  }
}

/** Honest behaviour: process own blocks at once; announce new blocks (mesh: only own ones). */
export const honest: Strategy = {
  async onMined(sim, node, b) {
    await sim.process(node, b);
  },
  onEntry(sim, node, entry) {
    if (sim.relays || entry.miner === node.name) sim.announce(node, entry.hash);
  },
};

export interface SimStats {
  found: number;
  events: number;
  /** Deliveries dropped because the node already had the block. */
  duplicates: number;
  delivered: number;
  /** Messages dropped by a link that was down (partition). */
  dropped: number;
  /** Blocks a node refused (should be zero: every simulated block is valid). */
  rejected: Record<string, number>;
  virtualSeconds: number;
  wallMs: number;
}

export class Simulation {
  readonly queue = new EventQueue();
  readonly params: NetworkParams;
  readonly nodes: SimNode[] = [];
  readonly blocks = new Map<string, FoundBlock>();
  readonly miningRng: Rng;
  readonly netRng: Rng;
  readonly relays: boolean;
  /** How blocks cross links, what crossed, and (with measurePropagation) when each node got each block. */
  readonly relay: Relay;
  stopped = false;
  private ended = false;
  private lastFoundAt = 0;
  private readonly padding: number;
  private readonly workByBits = new Map<number, number>();
  private readonly stats: SimStats = {
    found: 0,
    events: 0,
    duplicates: 0,
    delivered: 0,
    dropped: 0,
    rejected: {},
    virtualSeconds: 0,
    wallMs: 0,
  };
  /** With `trace`: (node id, block hash, virtual time) for every processBlock call, in order. */
  readonly arrivals: Array<[node: number, hash: string, time: number]> = [];
  /** Hooks run on every found block (experiments change hash rates by height with it). */
  readonly onFound: Array<(b: FoundBlock) => void> = [];

  private constructor(readonly opts: SimOptions) {
    this.params = opts.params;
    const root = makeRng(opts.seed);
    this.miningRng = root.fork(1);
    this.netRng = root.fork(2);
    const latency: LatencyModel = opts.latency ?? fixedLatency(0);
    const bandwidth = opts.bandwidth ?? Number.POSITIVE_INFINITY;
    const measure = opts.measurePropagation ? { nodes: opts.nodes.length } : undefined;
    this.relay = new Relay(opts.relay ?? {}, latency, bandwidth, opts.seed, measure);
    this.padding = opts.blockBytes ?? 0;
    this.relays = (opts.topology ?? { kind: "mesh" }).kind !== "mesh";
    // Virtual time starts one second after genesis.
    this.queue.now = opts.params.genesis.header.time + 1;
  }

  /** Builds the network: one real Chain per node on its own MemoryStore, peers per the topology. */
  static async create(opts: SimOptions): Promise<Simulation> {
    const sim = new Simulation(opts);
    for (let i = 0; i < opts.nodes.length; i++) {
      const spec = opts.nodes[i]!;
      const store = new MemoryStore();
      const chain = await Chain.open({ params: opts.params, store, now: () => sim.clock() });
      const node = new SimNode(i, `n${i}`, chain, store, spec.hashrate, spec.strategy ?? honest);
      sim.nodes.push(node);
      chain.on("connected", (entry) => sim.entered(node, entry));
      chain.on("side", (entry) => sim.entered(node, entry));
      chain.on("tip", (e) => {
        if (e.reorg) node.reorgs.push(e.reorg.depth);
        node.schedule(sim);
      });
    }
    sim.connect(opts.topology ?? { kind: "mesh" });
    return sim;
  }

  /** The chain's clock: virtual seconds, whole. */
  clock(): number {
    return Math.floor(this.queue.now);
  }

  work(bits: number): number {
    let w = this.workByBits.get(bits);
    if (w === undefined) {
      w = bitsWork(bits);
      this.workByBits.set(bits, w);
    }
    return w;
  }

  private connect(t: Topology): void {
    const peers = linkPeers(this.nodes.length, t, this.netRng.fork(3));
    this.nodes.forEach((node, i) => {
      node.peers = peers[i]!;
    });
  }

  private entered(node: SimNode, entry: ChainEntry): void {
    if (node.isNew(entry)) node.strategy.onEntry(this, node, entry);
  }

  /** Sends block `hash` from `node` to each of its peers. */
  announce(node: SimNode, hash: string): void {
    for (const p of node.peers) this.send(node, this.nodes[p]!, hash);
  }

  /** One block over one link: arrives when the relay model says. */
  send(from: SimNode, to: SimNode, hash: string): void {
    const b = this.blocks.get(hash);
    if (!b) throw new Error(`unknown block ${hash}`);
    if (this.opts.linkUp && !this.opts.linkUp(from.id, to.id, this.queue.now)) {
      this.stats.dropped++;
      return;
    }
    const delay = this.relay.transfer(from.id, to.id, b.hash, b.wire, this.queue.now, this.netRng);
    this.queue.after(delay, () => this.deliver(to, b));
  }

  private async deliver(to: SimNode, b: FoundBlock): Promise<void> {
    if (to.chain.getEntry(b.hash)) {
      this.stats.duplicates++;
      return;
    }
    this.stats.delivered++;
    await this.process(to, b);
  }

  /** Runs a block through the node's real processBlock; a rejection is counted by code. */
  async process(node: SimNode, b: FoundBlock): Promise<void> {
    if (this.opts.trace) this.arrivals.push([node.id, b.hash, this.queue.now]);
    try {
      // As asked for: a simulated link delivers whole branches as a sync would, so a released private branch
      // far below a node's tip is still stored (docs/protocol.md, "Blocks nobody asked for").
      await node.chain.processBlock(b.block, { raw: b.raw, requested: true });
    } catch (err) {
      if (!(err instanceof BlockError)) throw err;
      this.stats.rejected[err.code] = (this.stats.rejected[err.code] ?? 0) + 1;
    }
  }

  /** A mining event fired: build, solve and hand the block to the node's strategy. */
  async mine(node: SimNode): Promise<void> {
    if (this.stopped) return;
    const template = node.template(this, paddingRecords(this.padding, this.params, this.stats.found));
    if (!template) {
      // The clock is behind median time past + drift: nothing valid can be mined this second.
      this.queue.after(1, () => node.schedule(this, true));
      return;
    }
    const block = solve(template);
    const raw = encodeBlock(block);
    const rec = block.records[0]!;
    const found: FoundBlock = {
      hash: headerHash(block.header),
      block,
      raw,
      wire: this.relay.shape(raw),
      miner: node.id,
      height: rec.type === "miner" ? rec.height : 0,
      foundAt: this.queue.now,
    };
    this.blocks.set(found.hash, found);
    this.relay.arrived(found.hash, node.id, found.foundAt);
    this.stats.found++;
    node.mined++;
    for (const f of this.onFound) f(found);
    const last = this.stats.found >= this.opts.blocks;
    if (last) this.stopped = true;
    node.consumed();
    await node.strategy.onMined(this, node, found);
    if (last) this.stop();
    node.schedule(this);
  }

  /** Stops mining; messages in flight are still delivered. */
  stop(): void {
    this.stopped = true;
    if (this.ended) return;
    this.ended = true;
    this.lastFoundAt = this.queue.now;
    for (const n of this.nodes) {
      n.schedule(this); // stopped: invalidates the pending draw
      n.strategy.onEnd?.(this, n);
    }
  }

  /** Runs until `blocks` blocks are found and every message has arrived. */
  async run(): Promise<SimStats> {
    const t0 = performance.now();
    for (const n of this.nodes) n.schedule(this, true);
    const every = this.opts.progressEvery ?? 2_000;
    let next = every;
    await this.queue.run(() => {
      if (this.opts.onProgress && this.queue.processed >= next) {
        next += every;
        this.opts.onProgress({
          found: this.stats.found,
          target: this.opts.blocks,
          events: this.queue.processed,
          virtualTime: this.queue.now,
        });
      }
      return false;
    });
    this.stats.events = this.queue.processed;
    // Mining time: pending draws of stopped nodes still drain from the queue and must not count.
    this.stats.virtualSeconds = (this.lastFoundAt || this.queue.now) - (this.params.genesis.header.time + 1);
    this.stats.wallMs = performance.now() - t0;
    return { ...this.stats, rejected: { ...this.stats.rejected } };
  }

  /** Main chain of `node` from block 1 to its tip (walks parent links from the tip). */
  mainChain(node: SimNode = this.nodes[0]!): ChainEntry[] {
    const out: ChainEntry[] = [];
    for (let e: ChainEntry | undefined = node.chain.tip; e && e.height > 0; e = e.parent) out.push(e);
    return out.reverse();
  }
}
