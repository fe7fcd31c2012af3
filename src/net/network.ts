import "./polyfill.ts";
import { EventEmitter } from "node:events";
import type { GossipSub } from "@libp2p/gossipsub";
import type { Libp2p, PeerId } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { Sync } from "../sync/sync.ts";
import type { SyncFault } from "../sync/types.ts";
import { BoundedMap } from "../util/bounded.ts";
import { BLOCKTXN_PROTOCOL, CMPCT_PROTOCOL } from "./compact/codec.ts";
import { CompactRelay } from "./compact/relay.ts";
import { createNode, type NetContext, type Services } from "./context.ts";
import { CosignGossip, checkpointsTopic } from "./gossip/cosign.ts";
import { BlockGossip } from "./gossip/gossip.ts";
import { RecordGossip } from "./gossip/records.ts";
import {
  DEFAULT_LIMITS,
  type NetworkEvents,
  type NetworkLimits,
  type NetworkModules,
  type NetworkOptions,
  type PeerInfo,
} from "./options.ts";
import { MAX_REMEMBERED_PEERS, type PeerState, Peers } from "./peers/peers.ts";
import { addressBanKey, PeerScores, PROTOCOL_PENALTY } from "./peers/scores.ts";
import {
  BLOCKS_PROTOCOL,
  BLOCKS_SKIP_PROTOCOL,
  blocksTopic,
  MAX_BLOCKS_PER_RESPONSE,
  MAX_RESPONSE_BYTES,
  rawBlockHash,
  recordsTopic,
  STATUS_PROTOCOL,
} from "./protocols.ts";
import { BlockFetcher, BlockServer } from "./reqresp/blocks.ts";
import {
  fetchHeaders,
  HEADERS_PROTOCOL,
  HEADERS_SKIP_PROTOCOL,
  HeaderServer,
  HeadersUnconnectedError,
} from "./reqresp/headers.ts";

/** Streams per connection and direction for each compact protocol: one in use, and room to replace it. */
const COMPACT_STREAMS = 4;

/**
 * The peer-to-peer layer: libp2p (TCP, Noise, Yamux) with gossipsub for new blocks, request/response
 * protocols for status, block download and headers (docs/protocol.md), peer scoring with persisted bans, and
 * reconnection to configured peers. Every block it receives goes through the chain's processBlock or
 * processBlocks; the chain's verdict decides whether gossip forwards it and how much the sender is
 * penalised. Blocks this node connects that did not come from the network (mined here) are published.
 *
 * This class only composes the parts and owns their lifecycle: peers/ (table, handshake, scores, dialer),
 * gossip/ (blocks; records when the node has a mempool), reqresp/ (status, blocks, headers) and the sync loop
 * from src/sync.
 */
export class P2PNetwork extends EventEmitter<NetworkEvents> {
  /** This node's libp2p peer id. */
  readonly peerId: string;
  /** Gossip topic for blocks on this network. */
  readonly topic: string;
  /** Gossip topic for pending records (joined only with a mempool). */
  readonly recordsTopic: string;
  private readonly ctx: NetContext;
  private readonly peers: Peers;
  private readonly gossip: BlockGossip;
  /** Record gossip, when the node has a mempool. */
  private readonly records: RecordGossip | undefined;
  /** Checkpoint cosignature gossip, when the node has a witness. */
  private readonly cosign: CosignGossip | undefined;
  private readonly server: BlockServer;
  private readonly headerServer: HeaderServer;
  private readonly fetcher: BlockFetcher;
  private readonly sync: Sync<PeerState>;
  /** Compact block relay, unless `compactBlocks: false` (compact/relay.ts). */
  private readonly compact: CompactRelay | undefined;
  private readonly mempool: NetworkModules["mempool"];
  private statusTimer: NodeJS.Timeout | undefined;
  private state: "created" | "started" | "stopped" = "created";

  private constructor(
    private readonly node: Libp2p<Services>,
    opts: NetworkOptions,
    modules: NetworkModules,
    limits: NetworkLimits,
    private readonly scores: PeerScores,
    foreign: BoundedMap<string, string>,
  ) {
    super();
    this.peerId = node.peerId.toString();
    this.mempool = modules.mempool;
    this.topic = blocksTopic(opts.params);
    this.recordsTopic = recordsTopic(opts.params);
    const ctx: NetContext = {
      node,
      params: opts.params,
      chain: modules.chain,
      log: opts.logger,
      limits,
      events: this,
      topic: this.topic,
      started: () => this.state === "started",
    };
    this.ctx = ctx;
    this.fetcher = new BlockFetcher(node, limits, opts.params.maxBlockSize);
    this.peers = new Peers(ctx, scores, foreign, {
      disconnected: (id) => {
        this.fetcher.forget(id);
        this.compact?.forget(id);
        this.sync.forget(id);
      },
      ahead: () => this.sync.request(),
    });
    if (opts.compactBlocks !== false)
      this.compact = new CompactRelay(ctx, this.peers, this.fetcher, modules.mempool);
    this.gossip = new BlockGossip(ctx, this.peers, this.compact);
    if (modules.mempool) this.records = new RecordGossip(ctx, this.peers, modules.mempool, this.recordsTopic);
    if (modules.witness)
      this.cosign = new CosignGossip(ctx, this.peers, modules.witness, checkpointsTopic(opts.params));
    this.server = new BlockServer(modules.chain, limits, this.peers);
    this.headerServer = new HeaderServer(modules.chain, limits, this.peers);
    this.sync = new Sync<PeerState>({
      chain: modules.chain,
      peers: () => this.peers.joined(),
      batchSize: limits.maxBlocksPerResponse,
      pipeline: limits.syncPipeline,
      maxResponseBytes: limits.maxResponseBytes,
      logger: opts.logger,
      progressMinBlocks: limits.progressMinBlocks,
      progressIntervalMs: limits.progressIntervalMs,
      ...(limits.syncWindow ? { window: limits.syncWindow } : {}),
      fetchBlocks: async (p, locator, o) => {
        const raws = await this.fetcher.fetch(p, locator, o);
        // Blocks reaching the chain from the network must not be republished when they connect.
        for (const raw of raws) this.gossip.received(rawBlockHash(raw));
        return raws;
      },
      fetchHeaders: (p, locator, max, skip) =>
        fetchHeaders(this.node, p.peerId, locator, max, this.ctx.limits, skip),
      onProgress: (e) => this.emit("sync:progress", e),
      onFault: (p, fault) => this.penalizeSyncFault(p.id, fault),
      onOutcome: (o) => {
        const { peer, height, blocks, ms, blocksPerSec, served, waitMs } = o;
        this.emit("sync:done", { peer, height, blocks, ms, blocksPerSec, served, waitMs });
      },
    });
    for (const addr of opts.peers) this.peers.dialer.configure(addr);
  }

  /** Builds the libp2p node (not yet listening) and loads the persisted bans. */
  static async create(opts: NetworkOptions, modules: NetworkModules): Promise<P2PNetwork> {
    if (modules.chain.params.networkId !== opts.params.networkId)
      throw new RangeError("the chain and the network options are for different networks");
    const limits: NetworkLimits = { ...DEFAULT_LIMITS, ...opts.limits };
    limits.maxBlocksPerResponse = Math.min(Math.max(1, limits.maxBlocksPerResponse), MAX_BLOCKS_PER_RESPONSE);
    limits.maxResponseBytes = Math.min(limits.maxResponseBytes, MAX_RESPONSE_BYTES);
    const scores = new PeerScores({
      bans: modules.bans,
      banThreshold: limits.banThreshold,
      banMs: limits.banMs,
      logger: opts.logger,
    });
    await scores.load();
    // Bounded: peer identities are free, so a flood of foreign ones must not grow memory forever.
    const foreign = new BoundedMap<string, string>(MAX_REMEMBERED_PEERS);
    // The allow-list (private.ts) is checked where bans are: before a dial and once Noise has named the peer.
    const allow = opts.allowPeers && opts.allowPeers.length > 0 ? new Set(opts.allowPeers) : undefined;
    const refused = (id: PeerId): boolean => {
      const peer = id.toString();
      return (allow !== undefined && !allow.has(peer)) || scores.isBanned(peer) || foreign.has(peer);
    };
    const topics = {
      blocks: blocksTopic(opts.params),
      records: recordsTopic(opts.params),
      checkpoints: checkpointsTopic(opts.params),
    };
    const refusedAddress = (ip: string): boolean => scores.isBanned(addressBanKey(ip));
    const { node } = await createNode(opts, limits, topics, refused, refusedAddress);
    if (opts.networkKey || allow)
      opts.logger.info(
        { networkKey: opts.networkKey?.fingerprint ?? null, allowPeers: allow?.size ?? null },
        "closed network: only peers with this network key (and on the allow-list, when given) connect",
      );
    return new P2PNetwork(node, opts, modules, limits, scores, foreign);
  }

  // ---------------------------------------------------------------- lifecycle

  /** Starts listening, joins the block topic and dials the configured peers (in the background, with retries). */
  async start(): Promise<void> {
    if (this.state !== "created") throw new Error(`cannot start a network that is ${this.state}`);
    this.state = "started";
    const max = this.ctx.limits.maxStreamsPerConnection;
    const streams = { maxInboundStreams: max, maxOutboundStreams: max };
    await this.node.handle(STATUS_PROTOCOL, (s, c) => this.peers.serveStatus(s, c), { ...streams });
    await this.node.handle(BLOCKS_PROTOCOL, (s, c) => this.server.serve(s, c, 1), { ...streams });
    await this.node.handle(BLOCKS_SKIP_PROTOCOL, (s, c) => this.server.serve(s, c, 2), { ...streams });
    await this.node.handle(HEADERS_PROTOCOL, (s, c) => this.headerServer.serve(s, c, 1), { ...streams });
    await this.node.handle(HEADERS_SKIP_PROTOCOL, (s, c) => this.headerServer.serve(s, c, 2), { ...streams });
    if (this.compact) {
      const c = this.compact;
      // One long-lived stream per peer and direction (compact/lines.ts); a few more for one being replaced.
      const lines = { maxInboundStreams: COMPACT_STREAMS, maxOutboundStreams: COMPACT_STREAMS };
      await this.node.handle(CMPCT_PROTOCOL, (s, conn) => c.serve(s, conn), lines);
      await this.node.handle(BLOCKTXN_PROTOCOL, (s, conn) => c.server.serve(s, conn), lines);
      this.node.addEventListener("peer:identify", c.onIdentify);
      this.on("peer:joined", c.onJoined);
      this.on("block:received", c.onReceived);
    }
    this.node.addEventListener("peer:connect", this.peers.onConnect);
    this.node.addEventListener("peer:disconnect", this.peers.onDisconnect);
    this.node.addEventListener("peer:discovery", this.peers.onDiscovery);
    await this.node.start();
    const pubsub = this.node.services.pubsub;
    pubsub.addEventListener("gossipsub:message", this.gossip.onMessage);
    pubsub.subscribe(this.topic);
    this.ctx.chain.on("connected", this.gossip.onConnected);
    this.ctx.chain.on("side", this.gossip.onSide);
    if (this.records) {
      pubsub.addEventListener("gossipsub:message", this.records.onMessage);
      pubsub.subscribe(this.records.topic);
      pubsub.addEventListener("gossipsub:graft", this.records.onGraft);
      this.mempool?.on("added", this.records.onAdded);
    }
    this.cosign?.start();
    this.scheduleStatusRound();
    this.peers.dialer.dialAll();
    this.ctx.log.info({ peerId: this.peerId, addrs: this.multiaddrs(), topic: this.topic }, "p2p listening");
  }

  /**
   * The next status round, after the interval ±25 % at random: nodes started together (a devnet, the lab)
   * would otherwise ask each other at the same moments for ever, and a round that crosses a gossiped block
   * starts a needless one-block sync (Bitcoin Core randomizes its periodic messages for the same reason).
   */
  private scheduleStatusRound(): void {
    const ms = this.ctx.limits.statusIntervalMs * (0.75 + Math.random() / 2);
    this.statusTimer = setTimeout(() => {
      if (this.state !== "started") return;
      this.peers.refreshStatuses();
      this.scheduleStatusRound();
    }, ms);
    this.statusTimer.unref();
  }

  /** Stops dialing, syncing and gossip, then closes every connection. The chain stays open. */
  async stop(): Promise<void> {
    if (this.state !== "started") {
      this.state = "stopped";
      return;
    }
    this.state = "stopped";
    const synced = this.sync.stop();
    clearTimeout(this.statusTimer);
    this.peers.dialer.stop();
    this.ctx.chain.off("connected", this.gossip.onConnected);
    this.ctx.chain.off("side", this.gossip.onSide);
    this.gossip.stop();
    if (this.compact) {
      this.node.removeEventListener("peer:identify", this.compact.onIdentify);
      this.off("peer:joined", this.compact.onJoined);
      this.off("block:received", this.compact.onReceived);
    }
    this.cosign?.stop();
    this.node.services.pubsub.removeEventListener("gossipsub:message", this.gossip.onMessage);
    if (this.records) {
      this.mempool?.off("added", this.records.onAdded);
      this.node.services.pubsub.removeEventListener("gossipsub:message", this.records.onMessage);
      this.node.services.pubsub.removeEventListener("gossipsub:graft", this.records.onGraft);
    }
    await synced;
    await this.node.stop();
    this.ctx.log.info("p2p stopped");
  }

  // ---------------------------------------------------------------- public queries and commands

  /**
   * Connects to a peer given as a multiaddr, host:port or HTTP URL, waits for its status, and keeps it
   * connected (redial with backoff when it drops). Rejects with the reason when it cannot be resolved,
   * dialed or handshaken now (another network, no status); the address is then not kept.
   */
  async addPeer(addr: string): Promise<void> {
    if (this.state !== "started") throw new Error("the network is not started");
    await this.peers.addPeer(addr);
  }

  /** Peers that completed the status exchange. */
  getPeers(): PeerInfo[] {
    return [...this.peers.joined()].map((p) => this.peers.info(p));
  }

  /** Addresses this node listens on, each with /p2p/<peer id>. */
  multiaddrs(): string[] {
    return this.node.getMultiaddrs().map((m) => m.toString());
  }

  /** Current bans: peer id → expiry in ms since the epoch. */
  getBans(): Map<string, number> {
    return this.scores.listBans();
  }

  /** Bans a peer by hand (persisted), disconnecting it. */
  async ban(peerId: string, ms = this.ctx.limits.banMs, reason = "banned by operator"): Promise<void> {
    const until = await this.scores.ban(peerId, Date.now() + ms);
    await this.peers.disconnectBanned(peerId, until, reason);
  }

  /** Lifts a ban and clears the peer's score. */
  async unban(peerId: string): Promise<void> {
    await this.scores.unban(peerId);
  }

  /**
   * Asks a connected peer for up to `max` main-chain headers after `locator` (/jbc/headers/1): 80-byte
   * headers that connect to the locator and follow each other. An answer that breaks the protocol costs
   * the peer its penalty and rejects; checking the headers' rules is the caller's (src/light).
   */
  async fetchHeaders(peerId: string, locator: readonly Uint8Array[], max: number): Promise<Uint8Array[]> {
    try {
      return await fetchHeaders(this.node, peerIdFromString(peerId), locator, max, this.ctx.limits);
    } catch (err) {
      if (err instanceof HeadersUnconnectedError && err.first)
        await this.peers.penalize(peerId, PROTOCOL_PENALTY.UNCONNECTED, `headers: ${err.message}`);
      else await this.peers.penalizeError(peerId, err, "headers");
      throw err;
    }
  }

  /** Pending records this node published to no one yet (announced when a peer joins the records mesh). */
  get unbroadcastRecords(): number {
    return this.records?.unbroadcastCount ?? 0;
  }

  /** Compact block relay, for diagnostics and tests (undefined with `compactBlocks: false`). */
  get compactRelay(): CompactRelay | undefined {
    return this.compact;
  }

  /** Whether a sync is running. */
  get syncing(): boolean {
    return this.sync.running;
  }

  /** The libp2p node, for diagnostics and tests (publishing raw gossip); not part of the stable API. */
  get libp2p(): Libp2p<{ pubsub: GossipSub }> {
    return this.node;
  }

  /**
   * What a sync fault costs the peer: the chain's or the protocol's penalty, nothing for a transport error;
   * a staller is also hung up on, as Bitcoin Core disconnects the peer that stalls its block download.
   */
  private async penalizeSyncFault(id: string, fault: SyncFault): Promise<void> {
    switch (fault.kind) {
      case "mismatch":
        return this.peers.penalize(id, PROTOCOL_PENALTY.MALFORMED, "block body is not its header's");
      case "stalled":
        await this.peers.penalize(
          id,
          PROTOCOL_PENALTY.TIMEOUT,
          `stalled the block download at ${fault.height}`,
        );
        await this.node.hangUp(peerIdFromString(id)).catch(() => undefined);
        return;
      case "fetch-failed":
        if (fault.error instanceof HeadersUnconnectedError && fault.error.first)
          return this.peers.penalize(id, PROTOCOL_PENALTY.UNCONNECTED, `headers: ${fault.error.message}`);
        return this.peers.penalizeError(id, fault.error, "sync request");
      default:
        return this.peers.penalizeError(id, fault.error, "block download");
    }
  }
}
