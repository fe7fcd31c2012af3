import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { ApiServer } from "./app.ts";
import type { ApiBackend } from "./backend.ts";
import { witnessMetrics } from "./metrics-witness.ts";
import { difficulty } from "./views.ts";

/**
 * GET /metrics: the node in Prometheus' text format, through prom-client, on a registry of its own (two
 * nodes in one process do not share counters). Names follow Prometheus' conventions: the `jbc_` prefix,
 * base units (`_seconds`, `_bytes`), `_total` on counters; Node's default process metrics keep their
 * standard names (`process_*`, `nodejs_*`). Everything is read from the chain's and the node's events
 * and from the backend when scraped; the families are listed in docs/operations.md.
 */

const REORG_DEPTH_BUCKETS = [1, 2, 3, 4, 6, 10, 20, 50, 100];
const PROCESS_BLOCK_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const SYNC_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];
const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];
const SCORE_BUCKETS = [-100, -50, -20, -10, -1, 0, 1, 10, 50, 100];

export interface Metrics {
  readonly registry: Registry;
  /** Stops listening to the node's events. */
  close(): void;
}

/** What every family is registered with: the node's own registry. */
type Reg = { registers: Registry[] };
/** Stops a section's listeners. */
type Detach = () => void;

/** A gauge read from the node when scraped. */
function gauge(r: Reg, name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    ...r,
    collect() {
      this.set(read());
    },
  });
}

/** Height, work, difficulty, and what waits inside the chain (orphans, the queue, the pools, held headers) now. */
function chainGauges(r: Reg, chain: ApiBackend["chain"]): void {
  gauge(r, "jbc_chain_height", "Height of the main chain's tip", () => chain.height);
  gauge(r, "jbc_chain_work", "Total work of the main chain (expected hashes), as a float", () =>
    Number(chain.tip.chainWork),
  );
  gauge(r, "jbc_chain_difficulty", "Difficulty of the next block (1 = the proof-of-work limit)", () =>
    difficulty(chain.nextBlockContext().bits, chain.params),
  );
  gauge(
    r,
    "jbc_chain_orphans",
    "Blocks held in the orphan pool, waiting for their parent",
    () => chain.orphanCount,
  );
  // What waits inside the chain, each bounded (docs/protocol.md, "Blocks nobody asked for").
  gauge(
    r,
    "jbc_chain_queue_depth",
    "Calls in the chain's block queue, the running one included",
    () => chain.backlog.queued,
  );
  new Gauge({
    name: "jbc_chain_pool_bytes",
    help: "Serialized bytes of the blocks held in the chain's pools: orphan (parent unknown) or future",
    labelNames: ["pool"],
    ...r,
    collect() {
      const b = chain.backlog;
      this.set({ pool: "orphan" }, b.orphanBytes);
      this.set({ pool: "future" }, b.futureBytes);
    },
  });
  gauge(
    r,
    "jbc_chain_side_headers",
    "Headers of blocks nobody asked for kept without their bodies",
    () => chain.backlog.headers,
  );
}

/** The chain's gauges; blocks, refusals, reorgs and processBlock times so far. */
function chainMetrics(r: Reg, chain: ApiBackend["chain"]): Detach {
  chainGauges(r, chain);
  const blocks = new Counter({
    name: "jbc_chain_blocks_total",
    help: "Blocks accepted, by where they went: main (joined the main chain) or side",
    labelNames: ["branch"],
    ...r,
  });
  const refused = new Counter({
    name: "jbc_chain_blocks_refused_total",
    help: "Blocks refused by processBlock, by BlockError code",
    labelNames: ["code"],
    ...r,
  });
  const reorgs = new Counter({
    name: "jbc_chain_reorgs_total",
    help: "Reorganizations of the main chain",
    ...r,
  });
  const reorgDepth = new Histogram({
    name: "jbc_chain_reorg_depth",
    help: "Blocks that left the main chain per reorganization",
    buckets: REORG_DEPTH_BUCKETS,
    ...r,
  });
  const processBlock = new Histogram({
    name: "jbc_chain_process_block_seconds",
    help: "Time of one processBlock call, whatever its result",
    buckets: PROCESS_BLOCK_BUCKETS,
    ...r,
  });
  const onConnected = (): void => blocks.inc({ branch: "main" });
  const onSide = (): void => blocks.inc({ branch: "side" });
  const onInvalid = (e: { code: string }): void => refused.inc({ code: e.code });
  const onTip = (e: { reorg?: { depth: number } }): void => {
    if (!e.reorg) return;
    reorgs.inc();
    reorgDepth.observe(e.reorg.depth);
  };
  // processBlock's duration, whoever calls it (network, miner, API): the chain reports every call it settles.
  const onProcessed = (e: { seconds: number }): void => processBlock.observe(e.seconds);
  chain.on("connected", onConnected);
  chain.on("side", onSide);
  chain.on("invalid", onInvalid);
  chain.on("tip", onTip);
  chain.on("processed", onProcessed);
  return () => {
    chain.off("connected", onConnected);
    chain.off("side", onSide);
    chain.off("invalid", onInvalid);
    chain.off("tip", onTip);
    chain.off("processed", onProcessed);
  };
}

/** Completed syncs' durations and whether one runs; peers now, their scores, joins, leaves and bans. */
function syncAndPeerMetrics(r: Reg, backend: Pick<ApiBackend, "events" | "sync" | "peers">): Detach {
  const { events } = backend;
  const syncs = new Histogram({
    name: "jbc_sync_duration_seconds",
    help: "Duration of completed syncs from a peer",
    buckets: SYNC_BUCKETS,
    ...r,
  });
  gauge(r, "jbc_sync_active", "1 while the node syncs from a peer", () => (backend.sync().syncing ? 1 : 0));
  gauge(r, "jbc_peers", "Connected peers (status exchange done)", () => backend.peers().length);
  const peerEvents = new Counter({
    name: "jbc_peer_events_total",
    help: "Peers that joined, left or were banned",
    labelNames: ["event"],
    ...r,
  });
  const bans = new Counter({ name: "jbc_peer_bans_total", help: "Peers banned for misbehaviour", ...r });
  new Histogram({
    name: "jbc_peer_score",
    help: "Scores of the connected peers, at scrape time",
    buckets: SCORE_BUCKETS,
    ...r,
    collect() {
      this.reset();
      for (const p of backend.peers()) {
        const score = p.info?.score;
        if (typeof score === "number") this.observe(score);
      }
    },
  });
  let syncStarted: number | undefined;
  const onSync = (s: { syncing: boolean }): void => {
    if (s.syncing) syncStarted ??= performance.now();
    else if (syncStarted !== undefined) {
      syncs.observe((performance.now() - syncStarted) / 1000);
      syncStarted = undefined;
    }
  };
  const onPeer = (e: { event: string }): void => {
    peerEvents.inc({ event: e.event });
    if (e.event === "banned") bans.inc();
  };
  events.on("sync", onSync);
  events.on("peer", onPeer);
  return () => {
    events.off("sync", onSync);
    events.off("peer", onPeer);
  };
}

/** The miner's hash rate and state, the blocks it found, and those of them that ended off the main chain. */
function miningMetrics(r: Reg, backend: Pick<ApiBackend, "chain" | "mining">): Detach {
  const { chain } = backend;
  gauge(
    r,
    "jbc_mining_hashrate",
    "Hashes per second of this node's miner (0 when stopped)",
    () => backend.mining().hashRate,
  );
  gauge(r, "jbc_mining_active", "1 while this node mines", () => (backend.mining().running ? 1 : 0));
  let foundSeen = 0;
  new Counter({
    name: "jbc_mining_blocks_found_total",
    help: "Blocks this node's miner found",
    ...r,
    collect() {
      const found = backend.mining().blocksFound;
      if (found > foundSeen) this.inc(found - foundSeen);
      foundSeen = Math.max(foundSeen, found);
    },
  });
  const stale = new Counter({
    name: "jbc_mining_blocks_stale_total",
    help: "Blocks this node mined that ended off the main chain (arrived as side blocks, or left it in a reorg)",
    ...r,
  });
  const onOffMain = (e: { miner: string }): void => {
    const name = backend.mining().miner;
    if (name !== "" && e.miner === name) stale.inc();
  };
  chain.on("side", onOffMain);
  chain.on("disconnected", onOffMain);
  return () => {
    chain.off("side", onOffMain);
    chain.off("disconnected", onOffMain);
  };
}

/** Requests answered and their durations, by route pattern; and the GET /metrics route itself. */
function httpMetrics(r: Reg, app: ApiServer, registry: Registry): void {
  const httpRequests = new Counter({
    name: "jbc_http_requests_total",
    help: "HTTP requests answered, by method, route pattern and status",
    labelNames: ["method", "route", "status"],
    ...r,
  });
  const httpDuration = new Histogram({
    name: "jbc_http_request_duration_seconds",
    help: "Time from a request's arrival to its response, by method and route pattern",
    labelNames: ["method", "route"],
    buckets: HTTP_BUCKETS,
    ...r,
  });
  app.addHook("onResponse", async (req, reply) => {
    // The route's pattern, not its URL: /api/blocks/:id is one series, not one per block.
    const route = req.routeOptions.url ?? "unmatched";
    httpRequests.inc({ method: req.method, route, status: String(reply.statusCode) });
    httpDuration.observe({ method: req.method, route }, reply.elapsedTime / 1000);
  });
  app.get("/metrics", async (_req, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });
}

/** The mempool, when the node has one: its size now, what it admitted and refused since the start. */
function mempoolMetrics(r: Reg, mempool: NonNullable<ApiBackend["records"]>["mempool"] | undefined): Detach {
  const admitted = new Counter({
    name: "jbc_mempool_admitted_total",
    help: "Records that became pending, by where they came from (api, peer, disk, reorg)",
    labelNames: ["source"],
    ...r,
  });
  const refusedRecords = new Counter({
    name: "jbc_mempool_refused_total",
    help: "Record admissions refused, by MempoolError code and source",
    labelNames: ["code", "source"],
    ...r,
  });
  gauge(r, "jbc_mempool_records", "Pending records", () => mempool?.stats().count ?? 0);
  gauge(r, "jbc_mempool_bytes", "Bytes of pending records", () => mempool?.stats().bytes ?? 0);
  gauge(
    r,
    "jbc_mempool_oldest_age_seconds",
    "Age of the record pending longest",
    () => (mempool?.stats().oldestAgeMs ?? 0) / 1000,
  );
  const onAdded = (e: { source: { kind: string } }): void => admitted.inc({ source: e.source.kind });
  const onRefused = (code: string, source: string): void => refusedRecords.inc({ code, source });
  mempool?.on("added", onAdded);
  mempool?.on("refused", onRefused);
  return () => {
    mempool?.off("added", onAdded);
    mempool?.off("refused", onRefused);
  };
}

/** Gossip messages judged and published, and the miner's templates, from the node's events. */
function gossipMetrics(r: Reg, events: ApiBackend["events"]): Detach {
  const gossipMessages = new Counter({
    name: "jbc_gossip_messages_total",
    help: "Gossip messages judged (direction in, by verdict) and published (direction out), by topic",
    labelNames: ["topic", "direction", "verdict"],
    ...r,
  });
  const gossipRejected = new Counter({
    name: "jbc_gossip_rejected_total",
    help: "Gossip messages rejected (not forwarded, sender penalised), by topic and code",
    labelNames: ["topic", "code"],
    ...r,
  });
  const templates = new Counter({
    name: "jbc_mining_templates_total",
    help: "Block templates handed to the mining workers (new tips and record refreshes)",
    ...r,
  });
  const onGossip = (e: { topic: string; direction: string; verdict?: string; code?: string }): void => {
    gossipMessages.inc({ topic: e.topic, direction: e.direction, verdict: e.verdict ?? "" });
    if (e.verdict === "reject") gossipRejected.inc({ topic: e.topic, code: e.code ?? "UNKNOWN" });
  };
  const onTemplate = (): void => templates.inc();
  events.on("gossip", onGossip);
  events.on("template", onTemplate);
  return () => {
    events.off("gossip", onGossip);
    events.off("template", onTemplate);
  };
}

/** Builds the node's metrics and serves them at GET /metrics on `app`. */
export function registerMetrics(app: ApiServer, backend: ApiBackend): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const r: Reg = { registers: [registry] };
  // This order keeps the families where scrapes always listed them (prom-client lists by registration).
  const detach = [chainMetrics(r, backend.chain), syncAndPeerMetrics(r, backend), miningMetrics(r, backend)];
  httpMetrics(r, app, registry);
  detach.push(mempoolMetrics(r, backend.records?.mempool), gossipMetrics(r, backend.events));
  witnessMetrics(r, backend);
  // Part of nodejs_external_memory_bytes: the bytes of ArrayBuffers and Buffers alone, so a soak tells
  // memory JavaScript holds outside the heap from the native allocator's (docs/benchmarks.md, issue 17).
  gauge(
    r,
    "jbc_process_array_buffers_bytes",
    "Bytes of ArrayBuffers and Buffers (process.memoryUsage)",
    () => process.memoryUsage().arrayBuffers,
  );
  return {
    registry,
    close() {
      for (const d of detach) d();
    },
  };
}
