/** Options, limits, events and peer summaries of the P2P layer: the shapes src/node and src/api see. */

import type { PrivateKey } from "@libp2p/interface";
import type { BlockSink, BlockSource, ChainEventSource, ChainReader } from "../chain/interfaces.ts";
import type { NetworkParams } from "../consensus/params.ts";
import type { Mempool } from "../mempool/index.ts";
import type { SyncDone, SyncProgress } from "../sync/types.ts";
import type { Logger } from "../util/logger.ts";
import type { BanStore } from "./peers/scores.ts";
import type { NetworkKey } from "./private.ts";
import { MAX_BLOCKS_PER_RESPONSE, MAX_RESPONSE_BYTES } from "./protocols.ts";

export type { SyncDone, SyncProgress };

/** Tunable limits; every field has a default (see DEFAULT_LIMITS). */
export interface NetworkLimits {
  /** Most simultaneous connections (libp2p's connection manager prunes above it). */
  maxPeers: number;
  /** Of maxPeers, slots inbound connections may not take (kept for the node's own dials). */
  outboundSlots: number;
  /** Inbound connections in handshake at once, from everyone (libp2p's default is 10). */
  maxPendingInbound: number;
  /** Inbound connections in handshake at once from one address (configured peers are exempt). */
  maxPendingPerAddress: number;
  /** Time an inbound connection has to finish encryption and muxer negotiation, in ms. */
  inboundUpgradeTimeoutMs: number;
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
  /**
   * Block requests a sync keeps in flight to its peer (below the peer's maxConcurrentRequests, with a
   * margin for a request that arrives as the server finishes the one before).
   */
  syncPipeline: number;
  /**
   * The sync's body window (src/sync/window.ts): heights and bytes ahead of the importer, and how long the
   * lowest missing block may sit with one peer while another is idle before that peer counts as stalling.
   */
  syncWindow?: { maxBlocks?: number; maxBytes?: number; stallMs?: number };
  /** Time for a whole block request/response, in ms. */
  requestTimeoutMs: number;
  /** Time for a whole status exchange, in ms. */
  statusTimeoutMs: number;
  /** Time for a compact block's request (getcmpct, getblocktxn), in ms; past it the full block is fetched. */
  compactTimeoutMs: number;
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
  /** Dial attempts per outage of a configured peer with a doubling delay; then one per redialMaxMs, forever. */
  redialAttempts: number;
  /** First redial delay in ms; doubles per failed attempt. */
  redialBaseMs: number;
  /** Longest redial delay in ms. */
  redialMaxMs: number;
  /** Status re-exchange with every peer, in ms on average (±25 % at random each round; catches tips missed by gossip). */
  statusIntervalMs: number;
  /** Gossipsub heartbeat in ms: mesh repair and gossip emission. */
  gossipHeartbeatMs: number;
  /** Gossipsub mesh degree (D); Dlo = D - 2, Dhi = 2 D. */
  gossipD: number;
  /** A sync of more blocks than this reports progress. */
  progressMinBlocks: number;
  /** Shortest interval between two sync:progress events, in ms. */
  progressIntervalMs: number;
  /** Gossiped records one peer may have judged per second; beyond it they are ignored (gossip/records.ts). */
  recordGossipPerSec: number;
  /** Gossiped record bytes one peer may have judged per second. */
  recordGossipBytesPerSec: number;
  /** Seconds of those rates a peer may spend at once (the buckets' size). */
  recordGossipBurstSec: number;
}

/** Defaults, chosen for a small public network; tests and benchmarks override some. */
export const DEFAULT_LIMITS: Readonly<NetworkLimits> = {
  maxPeers: 50,
  // Bitcoin Core keeps 8 full-relay + 2 block-relay-only outbound slots out of reach of inbound peers.
  outboundSlots: 8,
  maxPendingInbound: 32,
  // An honest peer handshakes once; more at a time from one address is someone holding slots.
  maxPendingPerAddress: 2,
  // Noise XX and yamux take about 3 round trips: under a second even at 200 ms one-way.
  inboundUpgradeTimeoutMs: 5_000,
  maxBlocksPerResponse: MAX_BLOCKS_PER_RESPONSE,
  maxResponseBytes: MAX_RESPONSE_BYTES,
  // 50 requests of 500 blocks a second is 25,000 blocks/s: above what processBlock sustains, so an honest
  // syncing peer never meets the limit, while a flood of small requests does.
  blockRequestsPerSec: 50,
  blockRequestBurst: 50,
  maxConcurrentRequests: 4,
  // Three batches in flight keep a link busy while one batch's transfer takes at least half a round trip
  // (500 blocks of 1 KB at 10 Mbit/s: 0.44 s, against 0.2 s at 100 ms one-way).
  syncPipeline: 3,
  requestTimeoutMs: 20_000,
  statusTimeoutMs: 5_000,
  // A getblocktxn is one round trip and at most a block's records: 5 s is 12 round trips at 200 ms one-way.
  compactTimeoutMs: 5_000,
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
  // Records: a peer relays what its own clients and peers send, so honest bursts are real; these stay
  // above a node's own admission rate for signed records (about 1,000-4,000/s, docs/benchmarks.md) and
  // 5x devnet's confirmation rate in bytes (1 MB per 5 s), yet one peer cannot fill a 64 MiB pool in
  // under a minute or take every core with signature checks. docs/protocol.md "Gossip: records".
  recordGossipPerSec: 1_000,
  recordGossipBytesPerSec: 1024 * 1024,
  recordGossipBurstSec: 4,
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
  /**
   * The pre-shared network key (private.ts): every connection is protected by it, so only nodes holding
   * the same key connect. Without it the network is open.
   */
  networkKey?: NetworkKey;
  /** Peer ids allowed to connect (either way); others are refused by the connection gater. All when omitted. */
  allowPeers?: readonly string[];
  /**
   * Relay blocks as compact blocks to peers that speak them (default true); false relays full blocks by
   * gossip only, as nodes before compact blocks did (docs/protocol.md "Compact blocks").
   */
  compactBlocks?: boolean;
}

/** What the network needs from the rest of the node. */
export interface NetworkModules {
  chain: ChainReader & BlockSource & BlockSink & ChainEventSource;
  /** Persisted ban list (the LevelStore). */
  bans: BanStore;
  /** Pending records: with it the network joins the records topic (gossip/records.ts). */
  mempool?: Mempool;
  /** The node's witness: with it the network joins the checkpoints topic (gossip/cosign.ts). */
  witness?: CosignSink;
}

/** What judges a cosignature (src/witness/witness.ts Witness) and hands out this node's own. */
export interface CosignSink {
  receive(
    data: Uint8Array,
  ): { verdict: "accept" | "ignore" } | { verdict: "reject"; penalty: number; reason: string };
  on(event: "publish", fn: (message: Uint8Array) => void): unknown;
  off(event: "publish", fn: (message: Uint8Array) => void): unknown;
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
  /**
   * A gossip message judged (`in`: its verdict, and the code of a rejection) or published (`out`), for
   * monitoring.
   */
  gossip: [event: GossipEvent];
}

export interface GossipEvent {
  /** "cmpct": compact block announcements (pushed streams, not a gossipsub topic; docs/protocol.md). */
  topic: "blocks" | "records" | "cmpct";
  direction: "in" | "out";
  /** For `in`: what gossipsub was told. */
  verdict?: "accept" | "ignore" | "reject";
  /** For a rejection: the BlockError or MempoolError code, or the protocol offence. */
  code?: string;
}
