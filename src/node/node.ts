import { EventEmitter } from "node:events";
import { mkdirSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { ApiBackend, BackendEvents } from "../api/backend.ts";
import { ApiError, type MiningView, type P2PInfo, type PeerView, type SyncView } from "../api/schemas.ts";
import type { ApiServer } from "../api/server.ts";
import type { Chain } from "../chain/chain.ts";
import type { NetworkParams } from "../consensus/params.ts";
import { SignatureCache } from "../consensus/sigcache.ts";
import { Mempool, mempoolFile } from "../mempool/index.ts";
import type { LevelStore } from "../store/level.ts";
import { errorMessage } from "../util/errors.ts";
import { type Logger, silentLogger } from "../util/logger.ts";
import type { Witness } from "../witness/witness.ts";
import { openChainStore } from "./open.ts";
import { defaultWebRoot, loadOrCreateToken, packageVersion } from "./paths.ts";
import type { MinerService, MinerStats, NetworkService, P2POptions, ServiceFactories } from "./services.ts";
import { openWitness, type WitnessConfig } from "./witness.ts";

export { openChainStore } from "./open.ts";

export interface NodeOptions {
  params: NetworkParams;
  datadir: string;
  /**
   * HTTP API address; port 0 picks a free port (see `url`). Default 127.0.0.1:5000. `requestTimeoutMs`:
   * time a client has to send a whole request (default 30 s).
   */
  http?: {
    host?: string;
    port?: number;
    requestTimeoutMs?: number;
    maxEventStreams?: number;
    /** Host names the API answers to besides IP addresses and localhost (`--api-hosts`; src/api/guard.ts). */
    allowedHosts?: string[];
  };
  /** P2P listen address and peers; false runs without networking. */
  p2p?: P2POptions | false;
  /** Start mining as soon as the node is up. */
  mine?: boolean;
  /** Name written into mined blocks' miner record. */
  minerName?: string;
  /** Mining threads (default: every core). */
  threads?: number;
  /** API token for non-loopback requests that change the node; default: generated into the datadir. */
  apiToken?: string;
  /** fsync every store batch: survives power loss, not only a killed process (default false). */
  syncWrites?: boolean;
  /** Memory for serialized /blockchain.json blocks kept between requests, in bytes (default 16 MiB). */
  chainJsonCacheBytes?: number;
  logger?: Logger;
  /** The built explorer's directory (default: dist/web or web/dist when built). */
  webRoot?: string;
  /** Clock in seconds, for tests. */
  now?: () => number;
  /** HTTP URLs of the other nodes of a devnet, compared with this one by GET /api/devnet. */
  devnetPeers?: string[];
  /** Mempool bounds: bytes (default 64 MiB) and how long a record may wait (default 24 h). */
  mempool?: { maxBytes?: number; expiryMs?: number };
  /** Witnessed checkpoints (src/witness, docs/ledger-design.md); a node with P2P always signs its own. */
  witness?: WitnessConfig;
}

/** How often blocks held for being too far in the future are retried. */
const FUTURE_RETRY_MS = 1000;
/** How often the mempool is written to its file when it changed (and once more at shutdown). */
const MEMPOOL_SAVE_MS = 5000;

/**
 * The composition root: the one place that builds the modules and wires them together.
 * Start order: store → chain → mempool (loaded from its file) → HTTP API → P2P network → miner (then
 * mining begins, when asked for); stop runs it in reverse, the mempool saved after the chain's last batch.
 * The API comes up before the P2P network so a node answers /api/status at once, while libp2p (most of a
 * node's load time) is still loading; routes that need P2P answer 503 P2P_STARTING until it is up, and
 * /api/ready says not ready. The default P2P and miner modules are loaded only then, for the same reason.
 * Nothing here makes decisions of its own: every block still enters through
 * chain.processBlock.
 */
export class JbcNode {
  readonly events = new EventEmitter<BackendEvents>();
  /**
   * Pending records (src/mempool): records leave it when their block connects, and those of blocks a reorg
   * disconnects come back (mempool `added` with source "reorg").
   */
  readonly mempool: Mempool;
  private network: NetworkService | undefined;
  private miner: MinerService | undefined;
  private witness: Witness | undefined;
  private api: ApiServer | undefined;
  private syncState: SyncView = { syncing: false };
  private readonly timers: NodeJS.Timeout[] = [];
  private stopping: Promise<void> | undefined;
  private httpUrl = "";
  /** P2P is configured but not up yet. */
  private p2pStarting = false;

  private constructor(
    readonly opts: NodeOptions,
    readonly store: LevelStore,
    readonly chain: Chain,
    readonly log: Logger,
    readonly token: string,
    signatures: SignatureCache,
  ) {
    this.mempool = new Mempool({
      params: opts.params,
      signatures,
      isConfirmed: (id) => chain.isRecordConfirmed(id),
      ...(opts.mempool?.maxBytes !== undefined ? { maxBytes: opts.mempool.maxBytes } : {}),
      ...(opts.mempool?.expiryMs !== undefined ? { expiryMs: opts.mempool.expiryMs } : {}),
      file: mempoolFile(opts.datadir),
      // Read at load: a reorg after the last save (then a kill) is found from the saved tip.
      chain,
      logger: log.child({ module: "mempool" }),
    });
  }

  /** Opens the store and the chain, then starts networking, the miner and the API. */
  static async create(opts: NodeOptions, modules?: ServiceFactories): Promise<JbcNode> {
    const log = opts.logger ?? silentLogger;
    // The API's modules (Fastify, the schemas) load while the store opens.
    const apiModule = import("../api/server.ts");
    apiModule.catch(() => {});
    mkdirSync(opts.datadir, { recursive: true });
    const token = opts.apiToken ?? loadOrCreateToken(opts.datadir);
    // Filled by the mempool's admissions, read when a block connects: one cache for both (sigcache.ts).
    const signatures = new SignatureCache();
    const { store, chain } = await openChainStore({
      params: opts.params,
      signatures,
      datadir: opts.datadir,
      logger: log.child({ module: "chain" }),
      ...(opts.syncWrites !== undefined ? { syncWrites: opts.syncWrites } : {}),
      ...(opts.now ? { now: opts.now } : {}),
    });
    const node = new JbcNode(opts, store, chain, log, token, signatures);
    try {
      await node.start(modules, (await apiModule).createApiServer);
    } catch (err) {
      await node.stop();
      throw err;
    }
    return node;
  }

  /** The Fastify instance serving the API (tests use its inject() to simulate remote clients). */
  get httpServer(): ApiServer | undefined {
    return this.api;
  }

  /** The API's base URL (http://host:port), known once the node is up. */
  get url(): string {
    return this.httpUrl;
  }

  private async start(
    given: ServiceFactories | undefined,
    createApiServer: typeof import("../api/server.ts").createApiServer,
  ): Promise<void> {
    const { opts, chain, log } = this;
    this.every(FUTURE_RETRY_MS, () => {
      chain.retryFutureBlocks().catch((err: unknown) => log.debug({ err }, "future block retry failed"));
    });
    await this.startMempool();

    const p2p = opts.p2p;
    this.p2pStarting = p2p !== false && p2p !== undefined;
    await this.startApi(createApiServer);
    const modules = given ?? (await import("./adapters.ts")).realServices();
    if (p2p !== false && p2p !== undefined && modules.network) {
      this.witness = await openWitness({ ...opts, chain, config: opts.witness, logger: log });
      // Stamped here, as stored: GET /api/events clients (the lab's cosign scenario) time the round by it.
      this.witness.on("cosigned", (e) => this.events.emit("checkpoint", { ...e, time: Date.now() }));
      this.network = await modules.network({
        params: opts.params,
        chain,
        store: this.store,
        logger: log.child({ module: "net" }),
        listen: { host: p2p.host ?? "127.0.0.1", port: p2p.port ?? 0 },
        peers: p2p.peers ?? [],
        mdns: p2p.mdns ?? false,
        relay: p2p.relay ?? "compact",
        closed: p2p,
        peerKeyPath: join(opts.datadir, "p2p", "peer.key"),
        mempool: this.mempool,
        witness: this.witness,
        hooks: {
          onPeer: (event, peer, reason) =>
            this.events.emit("peer", { event, peer, ...(reason ? { reason } : {}) }),
          onGossip: (e) => this.events.emit("gossip", e),
          onSync: (s) => this.onSync(s),
        },
      });
    }

    this.p2pStarting = false;

    if (modules.miner) {
      const name = opts.minerName ?? `node on port ${opts.http?.port ?? 5000}`;
      this.miner = await modules.miner({
        params: opts.params,
        chain,
        logger: log.child({ module: "miner" }),
        name,
        threads: opts.threads ?? 0,
        mempool: this.mempool,
        hooks: {
          onFound: (e) => log.info(e, "mined a block"),
          onStats: (s) => this.events.emit("mining", this.miningView(s)),
          onTemplate: (e) => this.events.emit("template", e),
        },
      });
    }

    // Mining starts last, so a node that cannot come up (a port in use) has mined nothing.
    if (opts.mine && this.miner) await this.miner.start();
    log.info(
      {
        url: this.httpUrl,
        network: opts.params.name,
        height: chain.height,
        datadir: opts.datadir,
        syncWrites: this.store.sync,
      },
      "node started",
    );
  }

  /** Keeps the sync state for the API and shows a long sync's progress in the terminal. */
  private onSync(s: SyncView): void {
    this.syncState = s;
    this.events.emit("sync", s);
    // The network reports progress at most once a second.
    if (s.syncing && s.target !== undefined && s.height !== undefined) {
      const pct = s.target > 0 ? Math.floor((100 * s.height) / s.target) : 100;
      this.log.info(
        { height: s.height, target: s.target, blocksPerSec: s.blocksPerSec },
        `syncing: ${s.height}/${s.target} blocks (${pct}%)`,
      );
    }
  }

  private async startApi(createApiServer: typeof import("../api/server.ts").createApiServer): Promise<void> {
    const { opts, log } = this;
    const host = opts.http?.host ?? "127.0.0.1";
    this.api = await createApiServer({
      backend: this.backend(),
      logger: log.child({ module: "api" }),
      token: this.token,
      // The name the operator told it to listen on is one it answers to.
      allowedHosts: [...(opts.http?.allowedHosts ?? []), host],
      ...(opts.chainJsonCacheBytes !== undefined ? { legacyCacheBytes: opts.chainJsonCacheBytes } : {}),
      ...(opts.http?.requestTimeoutMs !== undefined ? { requestTimeoutMs: opts.http.requestTimeoutMs } : {}),
      ...(opts.http?.maxEventStreams !== undefined
        ? { events: { maxClients: opts.http.maxEventStreams } }
        : {}),
      webRoot: opts.webRoot ?? defaultWebRoot(),
      version: packageVersion(),
      devnet: { siblings: opts.devnetPeers ?? [], self: () => this.httpUrl },
    });
    await this.api.listen({ host, port: opts.http?.port ?? 5000 });
    const addr = this.api.server.address() as AddressInfo;
    const shown = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
    this.httpUrl = `http://${shown}:${addr.port}`;
  }

  /**
   * Loads the saved pool, has it follow the chain (the mempool's onDisconnected / onConnected / onTip: a
   * connected block's records leave it, a reorg returns the disconnected ones the new branch lacks, and
   * saves at once) and saves it every MEMPOOL_SAVE_MS when it changed.
   */
  private async startMempool(): Promise<void> {
    const { chain, mempool, log } = this;
    // Registered before the API, the network and the miner subscribe, so they see the pool after a change.
    chain.on("disconnected", (entry, block) => mempool.onDisconnected(block, entry));
    chain.on("connected", (entry, block) => mempool.onConnected(block, entry));
    chain.on("tip", ({ reorg }) => mempool.onTip(reorg !== undefined));
    await mempool.load();
    this.every(MEMPOOL_SAVE_MS, () => {
      mempool
        .save({ onlyIfChanged: true })
        .catch((err: unknown) => log.warn({ err }, "saving the mempool failed"));
    });
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  private miningView(s?: MinerStats): MiningView {
    const stats = s ?? this.miner?.stats();
    return {
      available: this.miner !== undefined,
      running: stats?.running ?? false,
      hashRate: stats?.hashRate ?? 0,
      threads: stats?.threads ?? 0,
      miner: this.miner?.name ?? "",
      blocksFound: stats?.blocksFound ?? 0,
    };
  }

  /** The view of this node the HTTP API gets. */
  private backend(): ApiBackend {
    const needNetwork = (): NetworkService => {
      if (!this.network && this.p2pStarting)
        throw new ApiError(503, "P2P_STARTING", "P2P networking is still starting");
      if (!this.network) throw new ApiError(503, "P2P_DISABLED", "this node runs without P2P networking");
      return this.network;
    };
    const needMiner = (): MinerService => {
      if (!this.miner) throw new ApiError(503, "MINING_UNAVAILABLE", "this node has no miner");
      return this.miner;
    };
    return {
      chain: this.chain,
      events: this.events,
      records: { mempool: this.mempool, index: this.chain },
      peers: (): PeerView[] => this.network?.peers() ?? [],
      p2pInfo: (): P2PInfo => {
        const n = needNetwork();
        return { peerId: n.peerId, multiaddrs: n.multiaddrs() };
      },
      addPeer: async (addr: string) => {
        const n = needNetwork();
        try {
          await n.addPeer(addr);
        } catch (err) {
          throw new ApiError(502, "DIAL_FAILED", errorMessage(err));
        }
      },
      mining: () => this.miningView(),
      checkpoint: () => this.witness?.view(),
      startMining: async () => {
        await needMiner().start();
        const v = this.miningView();
        this.events.emit("mining", v);
        return v;
      },
      stopMining: async () => {
        await needMiner().stop();
        const v = this.miningView();
        this.events.emit("mining", v);
        return v;
      },
      sync: () => this.syncState,
      readiness: () => {
        const p2p = this.opts.p2p;
        const wantsPeers = p2p !== false && p2p !== undefined && (p2p.peers?.length ?? 0) > 0;
        return {
          store: this.stopping === undefined,
          p2p: !this.p2pStarting,
          synced: !this.syncState.syncing,
          peers: !wantsPeers || (this.network?.peers().length ?? 0) > 0,
        };
      },
    };
  }

  /** Stops everything in reverse start order. Safe to call more than once. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    const log = this.log;
    for (const t of this.timers.splice(0)) clearInterval(t);
    const step = async (what: string, fn: () => Promise<void>): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        log.warn({ err }, `stopping ${what} failed`);
      }
    };
    if (this.api) await step("api", () => this.api!.close());
    if (this.miner) await step("miner", () => this.miner!.close());
    if (this.network) await step("p2p", () => this.network!.stop());
    this.witness?.stop();
    await step("chain", () => this.chain.close());
    // After the chain's last batch, so no record saved as pending is already in a stored block.
    await step("mempool", () => this.mempool.save());
    await step("store", () => this.store.close());
    log.info("node stopped");
  }
}
