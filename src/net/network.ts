import "./polyfill.ts";
import { EventEmitter } from "node:events";
import { isIP } from "node:net";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import {
  type GossipSub,
  type GossipSubComponents,
  type GossipsubMessage,
  gossipsub,
  TopicValidatorResult,
} from "@libp2p/gossipsub";
import { type Identify, identify } from "@libp2p/identify";
import type { Connection, Libp2p, PeerId, PrivateKey, Stream } from "@libp2p/interface";
import { mdns } from "@libp2p/mdns";
import { peerIdFromString } from "@libp2p/peer-id";
import { tcp } from "@libp2p/tcp";
import { createLibp2p } from "libp2p";
import type { Chain } from "../chain/chain.ts";
import type { ChainEntry } from "../chain/types.ts";
import { type Block, decodeBlock, encodeBlock } from "../consensus/block.ts";
import { bytesEqual, DecodeError } from "../consensus/bytes.ts";
import { BlockError } from "../consensus/errors.ts";
import { sha256, sha256d } from "../consensus/hash.ts";
import { HEADER_SIZE, hashToHex, hexToHash } from "../consensus/header.ts";
import type { NetworkParams } from "../consensus/params.ts";
import { BoundedMap } from "../util/bounded.ts";
import type { Logger } from "../util/logger.ts";
import { type BanStore, PeerScores, PROTOCOL_PENALTY, TokenBucket } from "./peers.ts";
import {
  BLOCKS_PROTOCOL,
  blocksTopic,
  decodeBlocksRequest,
  decodeStatus,
  encodeBlocksRequest,
  encodeFrames,
  encodeStatus,
  FRAME_HEADER,
  FrameReader,
  MAX_BLOCKS_PER_RESPONSE,
  MAX_BLOCKS_REQUEST_SIZE,
  MAX_LOCATOR_HASHES,
  MAX_RESPONSE_BYTES,
  ProtocolError,
  STATUS_PROTOCOL,
  STATUS_SIZE,
  type Status,
  sendAll,
} from "./protocols.ts";
import { resolvePeerAddress } from "./resolve.ts";

/** Tunable limits; every field has a default (see DEFAULT_LIMITS). */
export interface NetworkLimits {
  /** Most simultaneous connections (libp2p's connection manager prunes above it). */
  maxPeers: number;
  /** Blocks asked for per sync request and most served per response (≤ 500). */
  maxBlocksPerResponse: number;
  /** Most block bytes served per response (≤ 4 MiB). */
  maxResponseBytes: number;
  /** Block requests a peer may make per second (token bucket refill rate). */
  blockRequestsPerSec: number;
  /** Token bucket size: requests a peer may make in a burst. */
  blockRequestBurst: number;
  /** Block requests served to one peer at the same time. */
  maxConcurrentRequests: number;
  /** Time for a whole block request/response, in ms. */
  requestTimeoutMs: number;
  /** Time for a whole status exchange, in ms. */
  statusTimeoutMs: number;
  /** Time to establish a connection (dial, encryption, muxer), in ms. */
  dialTimeoutMs: number;
  /** Timeout of the HTTP lookup of a peer given as a URL, in ms. */
  resolveTimeoutMs: number;
  /** Inbound streams per protocol per connection. */
  maxStreamsPerConnection: number;
  /** Misbehaviour score that bans a peer. */
  banThreshold: number;
  /** Ban length in ms. */
  banMs: number;
  /** Dial attempts per outage of a configured peer before giving up. */
  redialAttempts: number;
  /** First redial delay in ms; doubles per failed attempt. */
  redialBaseMs: number;
  /** Longest redial delay in ms. */
  redialMaxMs: number;
  /** Status re-exchange with every peer, in ms (catches tips missed by gossip). */
  statusIntervalMs: number;
  /** Gossipsub heartbeat in ms: mesh repair and gossip emission. */
  gossipHeartbeatMs: number;
  /** Gossipsub mesh degree (D); Dlo = D - 2, Dhi = 2 D. */
  gossipD: number;
  /** A sync of more blocks than this reports progress. */
  progressMinBlocks: number;
  /** Shortest interval between two sync:progress events, in ms. */
  progressIntervalMs: number;
}

/** Defaults, chosen for a small public network; tests and benchmarks override some. */
export const DEFAULT_LIMITS: Readonly<NetworkLimits> = {
  maxPeers: 50,
  maxBlocksPerResponse: MAX_BLOCKS_PER_RESPONSE,
  maxResponseBytes: MAX_RESPONSE_BYTES,
  // 50 requests of 500 blocks a second is 25,000 blocks/s: above what processBlock sustains, so an honest
  // syncing peer never meets the limit, while a flood of small requests does.
  blockRequestsPerSec: 50,
  blockRequestBurst: 50,
  maxConcurrentRequests: 2,
  requestTimeoutMs: 20_000,
  statusTimeoutMs: 5_000,
  dialTimeoutMs: 10_000,
  resolveTimeoutMs: 5_000,
  maxStreamsPerConnection: 4,
  banThreshold: 100,
  banMs: 60 * 60 * 1000,
  redialAttempts: 20,
  redialBaseMs: 500,
  redialMaxMs: 30_000,
  statusIntervalMs: 30_000,
  gossipHeartbeatMs: 200,
  gossipD: 6,
  progressMinBlocks: 300,
  progressIntervalMs: 1_000,
};

/** Options of P2PNetwork.create. */
export interface NetworkOptions {
  params: NetworkParams;
  /** Where to listen: an IP address (or "localhost") and a TCP port; port 0 picks a free one. */
  listen: { host: string; port: number };
  /** Peers to connect to and keep connected: multiaddrs, host:port, or nodes' HTTP URLs. */
  peers: string[];
  /** mDNS discovery on the LAN (default false). */
  mdns?: boolean;
  logger: Logger;
  limits?: Partial<NetworkLimits>;
  /** The node's libp2p identity; a new one per start when omitted. */
  privateKey?: PrivateKey;
}

/** What the network needs from the rest of the node. */
export interface NetworkModules {
  chain: Chain;
  /** Persisted ban list (the LevelStore). */
  bans: BanStore;
}

/** A connected peer that completed the status exchange. */
export interface PeerInfo {
  peerId: string;
  /** Remote multiaddr of the connection. */
  address: string;
  direction: "inbound" | "outbound";
  /** Misbehaviour score: 0 is clean, the ban threshold (100) bans. */
  score: number;
  /** The peer's tip, from its last status or the best block it relayed. */
  height: number;
  tipHash: string;
  /** Total work of the peer's chain. */
  work: bigint;
  /** When the connection opened, in ms since the epoch. */
  connectedSince: number;
}

/** Payload of `sync:progress`: how far a running sync has come. */
export interface SyncProgress {
  peer: string;
  height: number;
  target: number;
  blocksPerSec: number;
}

/** Payload of `sync:done`: a finished sync from one peer. */
export interface SyncDone {
  peer: string;
  height: number;
  /** Height gained. */
  blocks: number;
  ms: number;
  blocksPerSec: number;
}

/** Typed events of P2PNetwork. */
export interface NetworkEvents {
  /** A peer connected and passed the status exchange. */
  "peer:joined": [peer: PeerInfo];
  /** A joined peer disconnected. */
  "peer:left": [peer: PeerInfo];
  /** A peer reached the ban threshold, or was banned by hand. */
  "peer:banned": [event: { peerId: string; until: number; reason: string }];
  /** At most once per progressIntervalMs during a long sync. */
  "sync:progress": [event: SyncProgress];
  /** A sync from a peer ended after gaining height. */
  "sync:done": [event: SyncDone];
  /** A block received by gossip was new to the chain (main, side or orphan). */
  "block:received": [event: { hash: string; from: string }];
}

type Services = { identify: Identify; pubsub: ValidatingGossipSub };

/** The runtime gossipsub object has these; its exported interface does not list them. */
interface ValidatingGossipSub extends GossipSub {
  reportMessageValidationResult(
    msgId: string,
    propagationSource: string,
    acceptance: TopicValidatorResult,
  ): void;
  getMeshPeers(topic: string): string[];
}

interface PeerState {
  id: string;
  peerId: PeerId;
  address: string;
  direction: "inbound" | "outbound";
  since: number;
  joined: boolean;
  status: Status | undefined;
  /** Work the peer claimed when a sync from it last ended short of it: not retried until it claims more. */
  stalledAt: bigint | undefined;
  statusInFlight: boolean;
  lastStatusAt: number;
}

/** A peer the user asked for: dialed at start, redialed with backoff when it drops. */
interface ConfiguredPeer {
  addr: string;
  peerId: string | undefined;
  attempts: number;
  timer: NodeJS.Timeout | undefined;
  dialing: boolean;
  gaveUp: boolean;
}

/** Insertion-ordered set that forgets its oldest members beyond `max`. */
class RecentSet {
  private readonly set = new Set<string>();
  constructor(private readonly max: number) {}
  add(k: string): void {
    this.set.delete(k);
    this.set.add(k);
    if (this.set.size > this.max) this.set.delete(this.set.values().next().value!);
  }
  has(k: string): boolean {
    return this.set.has(k);
  }
}

function listenMultiaddr(host: string, port: number): string {
  const h = host === "localhost" ? "127.0.0.1" : host;
  const v = isIP(h);
  if (v === 0) throw new RangeError(`listen host must be an IP address or "localhost", got "${host}"`);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new RangeError(`invalid listen port ${port}`);
  return `/ip${v}/${h}/tcp/${port}`;
}

function describeNetwork(s: Status): string {
  return `network id 0x${s.networkId.toString(16)}, genesis ${hashToHex(s.genesis)}`;
}

/** Display hash of a serialized block, from its header bytes. */
function rawBlockHash(raw: Uint8Array): string {
  return hashToHex(sha256d(raw.subarray(0, HEADER_SIZE)));
}

/** Aborts `stream` if `fn` has not finished within `ms`; the error is then a TIMEOUT ProtocolError. */
async function withDeadline<T>(stream: Stream, ms: number, fn: () => Promise<T>): Promise<T> {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    stream.abort(new ProtocolError("TIMEOUT", `no complete exchange within ${ms} ms`));
  }, ms);
  try {
    return await fn();
  } catch (err) {
    if (timedOut) throw new ProtocolError("TIMEOUT", `no complete exchange within ${ms} ms`);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** How long a foreign peer that asked for our status may stay connected to read the answer, in ms. */
const FOREIGN_GRACE_MS = 1_000;

/** Most peer identities remembered as foreign (another network); older ones are forgotten first. */
const MAX_REMEMBERED_PEERS = 10_000;

const errMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * The peer-to-peer layer: libp2p (TCP, Noise, Yamux) with gossipsub for new blocks, request/response
 * protocols for status and block download (docs/protocol.md), peer scoring with persisted bans, and
 * reconnection to configured peers. Every block it receives goes through `chain.processBlock`; the chain's
 * verdict decides whether gossip forwards it and how much the sender is penalised. Blocks this node
 * connects that did not come from the network (mined here) are published.
 */
export class P2PNetwork extends EventEmitter<NetworkEvents> {
  /** This node's libp2p peer id. */
  readonly peerId: string;
  /** Gossip topic for blocks on this network. */
  readonly topic: string;
  private readonly params: NetworkParams;
  private readonly chain: Chain;
  private readonly log: Logger;
  private readonly limits: NetworkLimits;
  private readonly genesis: Uint8Array;
  private readonly peers = new Map<string, PeerState>();
  private readonly configured = new Map<string, ConfiguredPeer>();
  /** Blocks that reached the chain from the network: connecting them must not republish them. */
  private readonly fromNetwork = new RecentSet(100_000);
  private readonly served = new Map<string, { bucket: TokenBucket; inFlight: number }>();
  private readonly pacing = new Map<string, TokenBucket>();
  /** addPeer calls waiting for a peer's first status: called with nothing when it joins, or with why not. */
  private readonly handshakes = new Map<string, Set<(err?: Error) => void>>();
  private syncRun: Promise<void> | undefined;
  private syncAgain = false;
  private readonly stopSignal = new AbortController();
  private statusTimer: NodeJS.Timeout | undefined;
  private state: "created" | "started" | "stopped" = "created";

  private constructor(
    private readonly node: Libp2p<Services>,
    opts: NetworkOptions,
    modules: NetworkModules,
    limits: NetworkLimits,
    private readonly scores: PeerScores,
    /** Peers on another network, with what they said they are. */
    private readonly foreign: BoundedMap<string, string>,
  ) {
    super();
    this.params = opts.params;
    this.chain = modules.chain;
    this.log = opts.logger;
    this.limits = limits;
    this.peerId = node.peerId.toString();
    this.topic = blocksTopic(opts.params);
    this.genesis = hexToHash(opts.params.genesisHash);
    for (const addr of opts.peers) this.configure(addr);
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
    const refused = (id: PeerId): boolean => scores.isBanned(id.toString()) || foreign.has(id.toString());
    const topic = blocksTopic(opts.params);
    const D = Math.max(2, limits.gossipD);
    const node = await createLibp2p<Services>({
      start: false,
      ...(opts.privateKey ? { privateKey: opts.privateKey } : {}),
      addresses: { listen: [listenMultiaddr(opts.listen.host, opts.listen.port)] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: {
        denyDialPeer: refused,
        denyInboundEncryptedConnection: refused,
        denyOutboundEncryptedConnection: refused,
      },
      connectionManager: { maxConnections: limits.maxPeers, dialTimeout: limits.dialTimeoutMs },
      peerDiscovery: opts.mdns ? [mdns()] : [],
      services: {
        identify: identify(),
        pubsub: (components: GossipSubComponents) =>
          gossipsub({
            emitSelf: false,
            globalSignaturePolicy: "StrictSign",
            // Forward nothing until processBlock has judged it (reportMessageValidationResult).
            asyncValidation: true,
            allowPublishToZeroTopicPeers: true,
            ignoreDuplicatePublishError: true,
            fallbackToFloodsub: false,
            floodPublish: true,
            allowedTopics: [topic],
            heartbeatInterval: limits.gossipHeartbeatMs,
            D,
            Dlo: Math.max(1, D - 2),
            Dhi: 2 * D,
            Dout: Math.min(2, Math.floor(D / 2)),
            // One id per block body, whoever publishes it, so the same block is judged once per node.
            msgIdFn: (msg) => sha256(msg.data),
            // Room for the signature and framing around a maximum-size block; bigger RPCs are dropped
            // by gossipsub, a block-sized message above maxBlockSize reaches us and is penalised.
            maxInboundDataLength: opts.params.maxBlockSize + 64 * 1024,
          })(components) as ValidatingGossipSub,
      },
    });
    return new P2PNetwork(node, opts, modules, limits, scores, foreign);
  }

  // ---------------------------------------------------------------- lifecycle

  /** Starts listening, joins the block topic and dials the configured peers (in the background, with retries). */
  async start(): Promise<void> {
    if (this.state !== "created") throw new Error(`cannot start a network that is ${this.state}`);
    this.state = "started";
    const max = this.limits.maxStreamsPerConnection;
    await this.node.handle(STATUS_PROTOCOL, (s, c) => this.serveStatus(s, c), {
      maxInboundStreams: max,
      maxOutboundStreams: max,
    });
    await this.node.handle(BLOCKS_PROTOCOL, (s, c) => this.serveBlocks(s, c), {
      maxInboundStreams: max,
      maxOutboundStreams: max,
    });
    this.node.addEventListener("peer:connect", this.onConnect);
    this.node.addEventListener("peer:disconnect", this.onDisconnect);
    this.node.addEventListener("peer:discovery", this.onDiscovery);
    await this.node.start();
    const pubsub = this.node.services.pubsub;
    pubsub.addEventListener("gossipsub:message", this.onGossip);
    pubsub.subscribe(this.topic);
    this.chain.on("connected", this.onConnected);
    this.statusTimer = setInterval(() => this.refreshStatuses(), this.limits.statusIntervalMs);
    this.statusTimer.unref();
    for (const p of this.configured.values()) void this.dialConfigured(p);
    this.log.info({ peerId: this.peerId, addrs: this.multiaddrs(), topic: this.topic }, "p2p listening");
  }

  /** Stops dialing, syncing and gossip, then closes every connection. The chain stays open. */
  async stop(): Promise<void> {
    if (this.state !== "started") {
      this.state = "stopped";
      return;
    }
    this.state = "stopped";
    this.stopSignal.abort();
    clearInterval(this.statusTimer);
    for (const p of this.configured.values()) clearTimeout(p.timer);
    this.chain.off("connected", this.onConnected);
    this.node.services.pubsub.removeEventListener("gossipsub:message", this.onGossip);
    await this.syncRun;
    await this.node.stop();
    this.log.info("p2p stopped");
  }

  // ---------------------------------------------------------------- public queries and commands

  /**
   * Connects to a peer given as a multiaddr, host:port or HTTP URL, waits for its status, and keeps it
   * connected (redial with backoff when it drops). Rejects with the reason when it cannot be resolved,
   * dialed or handshaken now (another network, no status); the address is then not kept.
   */
  async addPeer(addr: string): Promise<void> {
    if (this.state !== "started") throw new Error("the network is not started");
    const existing = this.configured.get(addr);
    if (existing && !existing.gaveUp) {
      if (existing.peerId && this.peers.has(existing.peerId)) return;
    }
    const conn = await this.dialAddress(addr);
    await this.waitForJoin(conn.remotePeer.toString());
    const p = this.configure(addr);
    p.peerId = conn.remotePeer.toString();
    p.attempts = 0;
    p.gaveUp = false;
  }

  /** Peers that completed the status exchange. */
  getPeers(): PeerInfo[] {
    const out: PeerInfo[] = [];
    for (const p of this.peers.values()) if (p.joined) out.push(this.info(p));
    return out;
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
  async ban(peerId: string, ms = this.limits.banMs, reason = "banned by operator"): Promise<void> {
    const until = await this.scores.ban(peerId, Date.now() + ms);
    await this.banned(peerId, until, reason);
  }

  /** Lifts a ban and clears the peer's score. */
  async unban(peerId: string): Promise<void> {
    await this.scores.unban(peerId);
  }

  /** Whether a sync is running. */
  get syncing(): boolean {
    return this.syncRun !== undefined;
  }

  /** The libp2p node, for diagnostics and tests (publishing raw gossip); not part of the stable API. */
  get libp2p(): Libp2p<{ pubsub: GossipSub }> {
    return this.node;
  }

  // ---------------------------------------------------------------- connections

  private info(p: PeerState): PeerInfo {
    return {
      peerId: p.id,
      address: p.address,
      direction: p.direction,
      score: this.scores.score(p.id),
      height: p.status?.height ?? 0,
      tipHash: p.status ? hashToHex(p.status.tip) : "",
      work: p.status?.work ?? 0n,
      connectedSince: p.since,
    };
  }

  private peerState(peerId: PeerId, conn?: Connection): PeerState {
    const id = peerId.toString();
    let p = this.peers.get(id);
    if (!p) {
      const c = conn ?? this.node.getConnections(peerId)[0];
      p = {
        id,
        peerId,
        address: c?.remoteAddr.toString() ?? "",
        direction: c?.direction ?? "inbound",
        since: c?.timeline.open ?? Date.now(),
        joined: false,
        status: undefined,
        stalledAt: undefined,
        statusInFlight: false,
        lastStatusAt: 0,
      };
      this.peers.set(id, p);
    }
    return p;
  }

  private readonly onConnect = (evt: CustomEvent<PeerId>): void => {
    if (this.state !== "started") return;
    const p = this.peerState(evt.detail);
    this.log.debug({ peer: p.id, address: p.address, direction: p.direction }, "peer connected");
    void this.requestStatus(p, true);
  };

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString();
    const p = this.peers.get(id);
    this.peers.delete(id);
    // `served` (its rate bucket toward us) is kept, so redialling does not refill it; it is bounded below.
    this.pacing.delete(id);
    this.settleHandshake(id, new Error(`peer ${id} disconnected before completing the status exchange`));
    if (p?.joined) {
      this.log.info({ peer: id }, "peer left");
      this.emit("peer:left", this.info(p));
    }
    if (this.state !== "started") return;
    for (const c of this.configured.values()) {
      if (c.peerId === id && !c.gaveUp) {
        c.attempts = 0;
        this.scheduleRedial(c);
      }
    }
  };

  private readonly onDiscovery = (evt: CustomEvent<{ id: PeerId }>): void => {
    const id = evt.detail.id;
    if (this.state !== "started" || this.peers.has(id.toString()) || this.peers.size >= this.limits.maxPeers)
      return;
    this.node.dial(id, { signal: AbortSignal.timeout(this.limits.dialTimeoutMs) }).catch((err: unknown) => {
      this.log.debug({ peer: id.toString(), err: errMessage(err) }, "cannot dial discovered peer");
    });
  };

  private configure(addr: string): ConfiguredPeer {
    let p = this.configured.get(addr);
    if (!p) {
      p = { addr, peerId: undefined, attempts: 0, timer: undefined, dialing: false, gaveUp: false };
      this.configured.set(addr, p);
    }
    return p;
  }

  /** Resolves an address and dials its multiaddrs in order until one connects. */
  private async dialAddress(addr: string): Promise<Connection> {
    const addrs = await resolvePeerAddress(addr, { timeoutMs: this.limits.resolveTimeoutMs });
    let last: unknown;
    for (const ma of addrs) {
      try {
        // Only a timeout: stopping the node aborts pending dials itself, and tying every dial to a
        // long-lived signal with AbortSignal.any would pile listeners onto it.
        return await this.node.dial(ma, { signal: AbortSignal.timeout(this.limits.dialTimeoutMs) });
      } catch (err) {
        last = err;
      }
    }
    throw new Error(`cannot connect to ${addr}: ${errMessage(last)}`, { cause: last });
  }

  private async dialConfigured(p: ConfiguredPeer): Promise<void> {
    if (this.state !== "started" || p.dialing || p.gaveUp) return;
    if (p.peerId && this.peers.has(p.peerId)) return;
    p.dialing = true;
    try {
      const conn = await this.dialAddress(p.addr);
      p.peerId = conn.remotePeer.toString();
      p.attempts = 0;
    } catch (err) {
      if (this.state !== "started") return;
      p.attempts++;
      if (p.peerId && (this.foreign.has(p.peerId) || this.scores.isBanned(p.peerId))) {
        p.gaveUp = true;
        this.log.warn({ peer: p.addr }, "not redialing a banned or foreign peer");
      } else if (p.attempts >= this.limits.redialAttempts) {
        p.gaveUp = true;
        this.log.warn({ peer: p.addr, attempts: p.attempts, err: errMessage(err) }, "giving up on peer");
      } else {
        this.log.debug(
          { peer: p.addr, attempt: p.attempts, err: errMessage(err) },
          "dial failed, will retry",
        );
        this.scheduleRedial(p);
      }
    } finally {
      p.dialing = false;
    }
  }

  private scheduleRedial(p: ConfiguredPeer): void {
    if (this.state !== "started" || p.gaveUp) return;
    if (p.peerId && (this.foreign.has(p.peerId) || this.scores.isBanned(p.peerId))) {
      p.gaveUp = true;
      return;
    }
    clearTimeout(p.timer);
    const delay = Math.min(this.limits.redialMaxMs, this.limits.redialBaseMs * 2 ** p.attempts);
    // Jitter so peers that dropped together do not redial in lockstep.
    p.timer = setTimeout(() => void this.dialConfigured(p), delay * (0.75 + Math.random() * 0.5));
    p.timer.unref();
  }

  // ---------------------------------------------------------------- scoring

  /** Adds a penalty; bans and disconnects at the threshold. */
  private async penalize(id: string, points: number, reason: string): Promise<void> {
    if (points <= 0) return;
    const r = await this.scores.penalize(id, points);
    this.log.info({ peer: id, points, score: r.score, reason }, "peer penalised");
    if (r.bannedUntil !== undefined) await this.banned(id, r.bannedUntil, reason);
  }

  private async banned(id: string, until: number, reason: string): Promise<void> {
    this.log.warn({ peer: id, until: new Date(until).toISOString(), reason }, "peer banned");
    for (const c of this.configured.values()) if (c.peerId === id) c.gaveUp = true;
    this.emit("peer:banned", { peerId: id, until, reason });
    if (this.state === "started") {
      await this.node.hangUp(peerIdFromString(id)).catch((err: unknown) => {
        this.log.debug({ peer: id, err: errMessage(err) }, "hang-up failed");
      });
    }
  }

  /** Maps a failed exchange to a penalty: protocol errors and bad blocks cost, transport errors do not. */
  private async offence(id: string, err: unknown, what: string): Promise<void> {
    if (err instanceof ProtocolError)
      return this.penalize(id, PROTOCOL_PENALTY[err.offence], `${what}: ${err.message}`);
    if (err instanceof BlockError)
      return this.penalize(id, err.penalty, `${what}: ${err.code} ${err.message}`);
    if (err instanceof DecodeError)
      return this.penalize(id, PROTOCOL_PENALTY.BAD_BLOCK_ENCODING, `${what}: ${err.message}`);
    this.log.debug(
      { peer: id, err: errMessage(err), stack: err instanceof Error ? err.stack : "" },
      `${what} failed`,
    );
  }

  // ---------------------------------------------------------------- status

  private localStatus(): Status {
    const tip = this.chain.tip;
    return {
      networkId: this.params.networkId,
      genesis: this.genesis,
      height: tip.height,
      tip: tip.hashBytes,
      work: tip.chainWork,
    };
  }

  /** Resolves when `id` has joined (passed the status exchange); rejects with the reason it did not. */
  private waitForJoin(id: string): Promise<void> {
    if (this.peers.get(id)?.joined) return Promise.resolve();
    const foreign = this.foreign.get(id);
    if (foreign) return Promise.reject(new Error(`peer ${id} is on another network (${foreign})`));
    return new Promise((resolve, reject) => {
      let waiters = this.handshakes.get(id);
      if (!waiters) {
        waiters = new Set();
        this.handshakes.set(id, waiters);
      }
      const settle = (err?: Error): void => {
        clearTimeout(timer);
        waiters.delete(settle);
        if (waiters.size === 0 && this.handshakes.get(id) === waiters) this.handshakes.delete(id);
        if (err) reject(err);
        else resolve();
      };
      const ms = this.limits.statusTimeoutMs + 1_000;
      const timer = setTimeout(() => settle(new Error(`no status from peer ${id} within ${ms} ms`)), ms);
      waiters.add(settle);
    });
  }

  private settleHandshake(id: string, err?: Error): void {
    const waiters = this.handshakes.get(id);
    if (!waiters) return;
    this.handshakes.delete(id);
    for (const w of [...waiters]) w(err);
  }

  private isForeign(s: Status): boolean {
    return s.networkId !== this.params.networkId || !bytesEqual(s.genesis, this.genesis);
  }

  /** Remembers a peer as foreign: no redial, and addPeer callers learn why. Idempotent. */
  private markForeign(p: PeerState, s: Status): void {
    if (this.foreign.has(p.id)) return;
    this.log.warn(
      { peer: p.id, networkId: `0x${s.networkId.toString(16)}`, genesis: hashToHex(s.genesis) },
      "peer is on another network: disconnecting",
    );
    const network = describeNetwork(s);
    this.foreign.set(p.id, network);
    for (const c of this.configured.values()) if (c.peerId === p.id) c.gaveUp = true;
    this.settleHandshake(p.id, new Error(`peer ${p.id} is on another network (${network})`));
  }

  /** Handles a peer's status (from either direction of the exchange). */
  private onStatus(p: PeerState, s: Status): void {
    if (this.isForeign(s)) {
      this.markForeign(p, s);
      void this.node.hangUp(p.peerId).catch(() => {});
      return;
    }
    p.status = s;
    p.lastStatusAt = Date.now();
    if (!p.joined && this.peers.get(p.id) === p) {
      p.joined = true;
      this.log.info({ peer: p.id, address: p.address, height: s.height }, "peer joined");
      this.emit("peer:joined", this.info(p));
      this.settleHandshake(p.id);
    }
    if (s.work > this.chain.tip.chainWork) this.requestSync();
  }

  /** Asks a peer for its status. On first contact a failure disconnects it (not a jbc peer, or broken). */
  private async requestStatus(p: PeerState, firstContact = false): Promise<void> {
    if (p.statusInFlight) return;
    p.statusInFlight = true;
    try {
      const s = await this.fetchStatus(p);
      this.onStatus(p, s);
    } catch (err) {
      if (this.state !== "started") return;
      await this.offence(p.id, err, "status request");
      if (firstContact && !p.joined && this.peers.get(p.id) === p) {
        this.log.debug({ peer: p.id, err: errMessage(err) }, "status exchange failed: disconnecting");
        await this.node.hangUp(p.peerId).catch(() => {});
      }
    } finally {
      p.statusInFlight = false;
    }
  }

  private async fetchStatus(p: PeerState): Promise<Status> {
    const ms = this.limits.statusTimeoutMs;
    const stream = await this.node.dialProtocol(p.peerId, STATUS_PROTOCOL, {
      signal: AbortSignal.timeout(ms),
    });
    return withDeadline(stream, ms, async () => {
      await sendAll(stream, encodeFrames([encodeStatus(this.localStatus())]));
      await stream.close();
      const payload = await new FrameReader(stream).next(STATUS_SIZE);
      if (!payload) throw new ProtocolError("MALFORMED", "status stream closed without a status");
      return decodeStatus(payload);
    });
  }

  private async serveStatus(stream: Stream, conn: Connection): Promise<void> {
    const p = this.peerState(conn.remotePeer, conn);
    try {
      const theirs = await withDeadline(stream, this.limits.statusTimeoutMs, async () => {
        const payload = await new FrameReader(stream).next(STATUS_SIZE);
        if (!payload) throw new ProtocolError("MALFORMED", "status stream closed without a status");
        const s = decodeStatus(payload);
        // A foreign peer is marked before we answer: the peer hangs up as soon as it reads our answer,
        // and that disconnect must not be reported as an unfinished handshake.
        if (this.isForeign(s)) this.markForeign(p, s);
        // Answer even a foreign status, so the other side learns the mismatch too.
        await sendAll(stream, encodeFrames([encodeStatus(this.localStatus())]));
        await stream.close();
        return s;
      });
      // For a foreign peer the hang-up is left to our own status request (sent on connect), which ends
      // only after the peer has read our status: hanging up here could cut our answer off before it
      // arrives. If that request fails, requestStatus hangs up anyway; a late hang-up covers the rest.
      if (!this.isForeign(theirs)) this.onStatus(p, theirs);
      else setTimeout(() => void this.node.hangUp(p.peerId).catch(() => {}), FOREIGN_GRACE_MS).unref();
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)));
      await this.offence(p.id, err, "status request from peer");
    }
  }

  private refreshStatuses(): void {
    const now = Date.now();
    for (const p of this.peers.values()) {
      if (p.joined && now - p.lastStatusAt >= this.limits.statusIntervalMs / 2) void this.requestStatus(p);
    }
  }

  // ---------------------------------------------------------------- gossip

  private readonly onGossip = (evt: CustomEvent<GossipsubMessage>): void => {
    const { msgId, propagationSource, msg } = evt.detail;
    if (msg.topic !== this.topic) return;
    void this.judgeGossip(msgId, propagationSource.toString(), msg.data);
  };

  /** Runs a gossiped block through processBlock once, then tells gossipsub whether to forward it. */
  private async judgeGossip(msgId: string, from: string, data: Uint8Array): Promise<void> {
    let verdict = TopicValidatorResult.Ignore;
    let penalty = 0;
    let reason = "";
    let orphan = false;
    try {
      if (data.length > this.params.maxBlockSize) {
        penalty = PROTOCOL_PENALTY.OVERSIZED;
        reason = `gossip message of ${data.length} bytes exceeds ${this.params.maxBlockSize}`;
        verdict = TopicValidatorResult.Reject;
      } else {
        const block = decodeBlock(data);
        const hash = rawBlockHash(data);
        this.fromNetwork.add(hash);
        const r = await this.chain.processBlock(block, data);
        if (r.status === "main" || r.status === "side") {
          verdict = TopicValidatorResult.Accept;
          this.sawTip(from, r.hash);
        }
        if (r.status === "orphan") orphan = true;
        if (r.status !== "duplicate") this.emit("block:received", { hash: r.hash, from });
      }
    } catch (err) {
      if (err instanceof BlockError) {
        penalty = err.penalty;
        reason = `gossip block ${err.hash ?? ""}: ${err.code} ${err.message}`;
        // A block that is only early (TIME_TOO_NEW) is not the sender's fault: ignore, do not forward.
        verdict = err.penalty > 0 ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore;
      } else if (err instanceof DecodeError) {
        penalty = PROTOCOL_PENALTY.BAD_BLOCK_ENCODING;
        reason = `gossip message is not a block: ${err.message}`;
        verdict = TopicValidatorResult.Reject;
      } else {
        this.log.debug({ peer: from, err: errMessage(err) }, "gossip block not processed");
      }
    }
    if (this.state !== "started") return;
    this.node.services.pubsub.reportMessageValidationResult(msgId, from, verdict);
    if (penalty > 0) await this.penalize(from, penalty, reason);
    if (orphan) {
      // The sender has the parent we miss: ask where its tip is (one request at a time per peer), and
      // onStatus syncs from it if it is ahead.
      const p = this.peers.get(from);
      if (p) void this.requestStatus(p);
    }
  }

  /** A peer relayed a block we accepted: it has at least that chain. */
  private sawTip(id: string, hash: string): void {
    const p = this.peers.get(id);
    const e = this.chain.getEntry(hash);
    if (!p?.status || !e || e.chainWork <= p.status.work) return;
    p.status = { ...p.status, height: e.height, tip: e.hashBytes, work: e.chainWork };
  }

  private readonly onConnected = (entry: ChainEntry, block: Block): void => {
    if (this.state !== "started" || this.fromNetwork.has(entry.hash)) return;
    this.fromNetwork.add(entry.hash);
    const raw = encodeBlock(block);
    this.node.services.pubsub.publish(this.topic, raw).then(
      (r) =>
        this.log.debug(
          { hash: entry.hash, height: entry.height, recipients: r.recipients.length },
          "block published",
        ),
      (err: unknown) => this.log.warn({ hash: entry.hash, err: errMessage(err) }, "cannot publish block"),
    );
  };

  // ---------------------------------------------------------------- block download: server

  private async serveBlocks(stream: Stream, conn: Connection): Promise<void> {
    const id = conn.remotePeer.toString();
    let s = this.served.get(id);
    if (!s) {
      s = {
        bucket: new TokenBucket(this.limits.blockRequestBurst, this.limits.blockRequestsPerSec),
        inFlight: 0,
      };
      this.served.set(id, s);
      if (this.served.size > MAX_REMEMBERED_PEERS) this.served.delete(this.served.keys().next().value!);
    }
    if (!s.bucket.take() || s.inFlight >= this.limits.maxConcurrentRequests) {
      stream.abort(new Error("rate limit exceeded"));
      await this.penalize(id, PROTOCOL_PENALTY.RATE_LIMIT, "block requests above the rate limit");
      return;
    }
    s.inFlight++;
    try {
      await withDeadline(stream, this.limits.requestTimeoutMs, async () => {
        const reader = new FrameReader(stream);
        const payload = await reader.next(MAX_BLOCKS_REQUEST_SIZE);
        if (!payload) throw new ProtocolError("MALFORMED", "block request stream closed without a request");
        const req = decodeBlocksRequest(payload);
        const raws = await this.blocksAfter(
          req.locator.map(hashToHex),
          Math.min(req.max, this.limits.maxBlocksPerResponse),
        );
        // Group frames into ~256 KiB sends: one syscall-sized write instead of one per block.
        let group: Uint8Array[] = [];
        let size = 0;
        for (const raw of raws) {
          group.push(raw);
          size += FRAME_HEADER + raw.length;
          if (size >= 256 * 1024) {
            await sendAll(stream, encodeFrames(group));
            group = [];
            size = 0;
          }
        }
        group.push(new Uint8Array(0)); // terminator
        await sendAll(stream, encodeFrames(group));
        await stream.close();
      });
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)));
      await this.offence(id, err, "block request from peer");
    } finally {
      s.inFlight--;
    }
  }

  /** Main-chain blocks after the locator's fork point, bounded by count and total bytes. */
  private async blocksAfter(locator: string[], max: number): Promise<Uint8Array[]> {
    const fork = this.chain.findFork(locator);
    let n = 0;
    let bytes = 0;
    for (let h = fork.height + 1; n < max; h++) {
      const e = this.chain.getEntryAt(h);
      if (!e || bytes + e.size > this.limits.maxResponseBytes) break;
      bytes += e.size;
      n++;
    }
    return n ? this.chain.getMainBlocks(fork.height + 1, n) : [];
  }

  // ---------------------------------------------------------------- block download: client

  /** Waits until our own bucket for `id` allows a request, so we never trip the peer's limit. */
  private async pace(id: string, signal: AbortSignal): Promise<void> {
    let b = this.pacing.get(id);
    if (!b) {
      // Two below the peer's burst leaves room for arrival jitter.
      b = new TokenBucket(Math.max(1, this.limits.blockRequestBurst - 2), this.limits.blockRequestsPerSec);
      this.pacing.set(id, b);
    }
    for (;;) {
      const ms = b.waitMs();
      if (ms === 0 && b.take()) return;
      signal.throwIfAborted();
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          clearTimeout(t);
          reject(signal.reason);
        };
        const t = setTimeout(
          () => {
            signal.removeEventListener("abort", onAbort);
            resolve();
          },
          Math.max(1, ms),
        );
        signal.addEventListener("abort", onAbort, { once: true });
      });
    }
  }

  /** One block request: up to `max` serialized blocks after the locator's fork point on the peer's chain. */
  private async fetchBlocks(
    p: PeerState,
    locator: Uint8Array[],
    max: number,
    signal: AbortSignal,
  ): Promise<Uint8Array[]> {
    await this.pace(p.id, signal);
    const ms = this.limits.requestTimeoutMs;
    const stream = await this.node.dialProtocol(p.peerId, BLOCKS_PROTOCOL, {
      signal: AbortSignal.any([signal, AbortSignal.timeout(ms)]),
    });
    const onAbort = (): void => stream.abort(new Error("request cancelled"));
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      return await withDeadline(stream, ms, async () => {
        await sendAll(
          stream,
          encodeFrames([encodeBlocksRequest({ locator: locator.slice(0, MAX_LOCATOR_HASHES), max })]),
        );
        await stream.close();
        const reader = new FrameReader(stream);
        const out: Uint8Array[] = [];
        let bytes = 0;
        for (;;) {
          const f = await reader.next(this.params.maxBlockSize);
          if (f === null) throw new ProtocolError("MALFORMED", "block response ended without its terminator");
          if (f.length === 0) break;
          out.push(f);
          bytes += f.length;
          if (out.length > max) throw new ProtocolError("OVERSIZED", `more than the ${max} blocks asked for`);
          if (bytes > MAX_RESPONSE_BYTES)
            throw new ProtocolError("OVERSIZED", `response above ${MAX_RESPONSE_BYTES} bytes`);
        }
        return out;
      });
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  private locator(): Uint8Array[] {
    return this.chain
      .locator()
      .slice(0, MAX_LOCATOR_HASHES)
      .map((h) => hexToHash(h));
  }

  // ---------------------------------------------------------------- sync

  /** Starts a sync unless one is running (then it runs again when the current one ends). */
  private requestSync(): void {
    if (this.state !== "started") return;
    if (this.syncRun) {
      this.syncAgain = true;
      return;
    }
    this.syncRun = this.syncLoop()
      .catch((err: unknown) => this.log.warn({ err: errMessage(err) }, "sync failed"))
      .finally(() => {
        this.syncRun = undefined;
        if (this.syncAgain) {
          this.syncAgain = false;
          this.requestSync();
        }
      });
  }

  /** The joined peer with the most work above ours that has not stalled at its current claim. */
  private bestPeer(): PeerState | undefined {
    let best: PeerState | undefined;
    const ours = this.chain.tip.chainWork;
    for (const p of this.peers.values()) {
      const w = p.status?.work;
      if (!p.joined || w === undefined || w <= ours) continue;
      if (p.stalledAt !== undefined && w <= p.stalledAt) continue;
      if (!best || w > best.status!.work) best = p;
    }
    return best;
  }

  private async syncLoop(): Promise<void> {
    for (;;) {
      if (this.state !== "started") return;
      const p = this.bestPeer();
      if (!p) return;
      await this.syncFrom(p);
      if (this.chain.tip.chainWork < p.status!.work) p.stalledAt = p.status!.work;
    }
  }

  /**
   * Downloads from `p` until our tip has its work. Requests are pipelined: the next batch is asked for
   * (from the last hash of the current one) while the current one goes through processBlock.
   */
  private async syncFrom(p: PeerState): Promise<void> {
    const startHeight = this.chain.height;
    const t0 = performance.now();
    let lastReport = t0;
    const max = this.limits.maxBlocksPerResponse;
    const cancel = new AbortController();
    const signal = AbortSignal.any([cancel.signal, this.stopSignal.signal]);
    const request = (locator: Uint8Array[]): Promise<Uint8Array[]> => {
      const r = this.fetchBlocks(p, locator, max, signal);
      r.catch(() => {}); // awaited below, or abandoned when the sync stops early
      return r;
    };
    this.log.info({ peer: p.id, from: startHeight, to: p.status?.height }, "sync started");
    let next: Promise<Uint8Array[]> | undefined = request(this.locator());
    // Time spent waiting for the peer rather than validating: tells a slow link from a slow disk.
    let waitMs = 0;
    try {
      while (next) {
        const w0 = performance.now();
        const batch = await next;
        waitMs += performance.now() - w0;
        next = undefined;
        if (batch.length === 0) break;
        if (batch.length === max) {
          const last = hexToHash(rawBlockHash(batch[batch.length - 1]!));
          next = request([last, ...this.locator()]);
        }
        if (!(await this.importBatch(p, batch))) break;
        const now = performance.now();
        const target = Math.max(p.status?.height ?? 0, this.chain.height);
        if (
          target - startHeight > this.limits.progressMinBlocks &&
          now - lastReport >= this.limits.progressIntervalMs
        ) {
          lastReport = now;
          const bps = ((this.chain.height - startHeight) * 1000) / (now - t0);
          this.emit("sync:progress", {
            peer: p.id,
            height: this.chain.height,
            target,
            blocksPerSec: Math.round(bps),
          });
        }
      }
    } catch (err) {
      if (this.state === "started") await this.offence(p.id, err, "block download");
    } finally {
      cancel.abort();
    }
    const gained = this.chain.height - startHeight;
    if (gained > 0) {
      const ms = performance.now() - t0;
      const blocksPerSec = Math.round((gained * 1000) / ms);
      this.log.info(
        {
          peer: p.id,
          height: this.chain.height,
          blocks: gained,
          ms: Math.round(ms),
          blocksPerSec,
          waitMs: Math.round(waitMs),
        },
        "sync done",
      );
      this.emit("sync:done", { peer: p.id, height: this.chain.height, blocks: gained, ms, blocksPerSec });
    }
  }

  /**
   * Feeds a batch to the chain in height order through processBlocks, which commits consecutive tip
   * extensions in one store batch. The first bad block (or undecodable bytes) stops the batch and costs the
   * peer its penalty. False when the batch is unusable (the sync from `p` stops).
   */
  private async importBatch(p: PeerState, batch: Uint8Array[]): Promise<boolean> {
    const items: Array<{ block: Block; raw: Uint8Array }> = [];
    let decodeError: unknown;
    for (const raw of batch) {
      try {
        items.push({ block: decodeBlock(raw), raw });
      } catch (err) {
        decodeError = err;
        break;
      }
      this.fromNetwork.add(rawBlockHash(raw));
    }
    if (this.state !== "started") return false;
    const results = await this.chain.processBlocks(items);
    for (let i = 0; i < results.length; i++) {
      const r = results[i]!;
      if (r instanceof BlockError) {
        await this.offence(p.id, r, "block download");
        return false;
      }
      if (r.status === "orphan") {
        // Blocks must follow a hash of our locator, in height order: a first block we cannot place, or a
        // gap later, breaks the protocol.
        if (i > 0) await this.penalize(p.id, PROTOCOL_PENALTY.MALFORMED, "block response out of order");
        else await this.penalize(p.id, PROTOCOL_PENALTY.UNCONNECTED, "block response does not connect");
        return false;
      }
    }
    if (decodeError !== undefined) {
      await this.offence(p.id, decodeError, "block download");
      return false;
    }
    return true;
  }
}
