import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { ApiServer } from "./app.ts";
import type { ApiBackend } from "./backend.ts";
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

/** Builds the node's metrics and serves them at GET /metrics on `app`. */
export function registerMetrics(app: ApiServer, backend: ApiBackend): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const { chain, events } = backend;
  const r = { registers: [registry] };

  new Gauge({
    name: "jbc_chain_height",
    help: "Height of the main chain's tip",
    ...r,
    collect() {
      this.set(chain.height);
    },
  });
  new Gauge({
    name: "jbc_chain_work",
    help: "Total work of the main chain (expected hashes), as a float",
    ...r,
    collect() {
      this.set(Number(chain.tip.chainWork));
    },
  });
  new Gauge({
    name: "jbc_chain_difficulty",
    help: "Difficulty of the next block (1 = the proof-of-work limit)",
    ...r,
    collect() {
      this.set(difficulty(chain.nextBlockContext().bits, chain.params));
    },
  });
  new Gauge({
    name: "jbc_chain_orphans",
    help: "Blocks held in the orphan pool, waiting for their parent",
    ...r,
    collect() {
      this.set(chain.orphanCount);
    },
  });
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

  const syncs = new Histogram({
    name: "jbc_sync_duration_seconds",
    help: "Duration of completed syncs from a peer",
    buckets: SYNC_BUCKETS,
    ...r,
  });
  new Gauge({
    name: "jbc_sync_active",
    help: "1 while the node syncs from a peer",
    ...r,
    collect() {
      this.set(backend.sync().syncing ? 1 : 0);
    },
  });

  new Gauge({
    name: "jbc_peers",
    help: "Connected peers (status exchange done)",
    ...r,
    collect() {
      this.set(backend.peers().length);
    },
  });
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

  new Gauge({
    name: "jbc_mining_hashrate",
    help: "Hashes per second of this node's miner (0 when stopped)",
    ...r,
    collect() {
      this.set(backend.mining().hashRate);
    },
  });
  new Gauge({
    name: "jbc_mining_active",
    help: "1 while this node mines",
    ...r,
    collect() {
      this.set(backend.mining().running ? 1 : 0);
    },
  });
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

  const mine = (miner: string): boolean => {
    const name = backend.mining().miner;
    return name !== "" && miner === name;
  };
  const onConnected = (): void => blocks.inc({ branch: "main" });
  const onSide = (e: { miner: string }): void => {
    blocks.inc({ branch: "side" });
    if (mine(e.miner)) stale.inc();
  };
  const onDisconnected = (e: { miner: string }): void => {
    if (mine(e.miner)) stale.inc();
  };
  const onInvalid = (e: { code: string }): void => refused.inc({ code: e.code });
  const onTip = (e: { reorg?: { depth: number } }): void => {
    if (!e.reorg) return;
    reorgs.inc();
    reorgDepth.observe(e.reorg.depth);
  };
  chain.on("connected", onConnected);
  chain.on("side", onSide);
  chain.on("disconnected", onDisconnected);
  chain.on("invalid", onInvalid);
  chain.on("tip", onTip);

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

  // processBlock's duration, whoever calls it (network, miner, API): the chain reports every call it settles.
  const onProcessed = (e: { seconds: number }): void => processBlock.observe(e.seconds);
  chain.on("processed", onProcessed);

  // The mempool, when the node has one: its size now, what it admitted and refused since the start.
  const mempool = backend.records?.mempool;
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
  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({
      name,
      help,
      ...r,
      collect() {
        this.set(read());
      },
    });
  };
  gauge("jbc_mempool_records", "Pending records", () => mempool?.stats().count ?? 0);
  gauge("jbc_mempool_bytes", "Bytes of pending records", () => mempool?.stats().bytes ?? 0);
  gauge(
    "jbc_mempool_oldest_age_seconds",
    "Age of the record pending longest",
    () => (mempool?.stats().oldestAgeMs ?? 0) / 1000,
  );
  const onAdded = (e: { source: { kind: string } }): void => admitted.inc({ source: e.source.kind });
  const onRefused = (code: string, source: string): void => refusedRecords.inc({ code, source });
  mempool?.on("added", onAdded);
  mempool?.on("refused", onRefused);

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

  return {
    registry,
    close() {
      chain.off("connected", onConnected);
      chain.off("side", onSide);
      chain.off("disconnected", onDisconnected);
      chain.off("invalid", onInvalid);
      chain.off("tip", onTip);
      chain.off("processed", onProcessed);
      events.off("sync", onSync);
      events.off("peer", onPeer);
      events.off("gossip", onGossip);
      events.off("template", onTemplate);
      mempool?.off("added", onAdded);
      mempool?.off("refused", onRefused);
    },
  };
}
