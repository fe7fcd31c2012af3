import type { Chain } from "../chain/chain.ts";
import type { NetworkParams } from "../consensus/params.ts";
import type { Mempool } from "../mempool/index.ts";
import type { CosignSink, GossipEvent } from "../net/options.ts";
import type { NetworkKey } from "../net/private.ts";
import type { LevelStore } from "../store/level.ts";
import type { Logger } from "../util/logger.ts";

/**
 * The shapes the node needs from the P2P layer and the miner. src/node/adapters.ts adapts the real ones
 * (src/net, src/mining) to these in one place, so the API and the shutdown logic depend only on them, and
 * tests can hand the node other factories.
 */

export interface PeerSummary {
  id: string;
  addrs: string[];
  info?: Record<string, unknown>;
}

export interface NetworkService {
  readonly peerId: string;
  multiaddrs(): string[];
  peers(): PeerSummary[];
  /** Dials a multiaddr. */
  addPeer(addr: string): Promise<void>;
  stop(): Promise<void>;
}

export interface NetworkHooks {
  onPeer(event: "joined" | "left" | "banned", peer: string, reason?: string): void;
  /** A gossip message judged or published (for metrics). */
  onGossip?(event: GossipEvent): void;
  onSync(progress: {
    syncing: boolean;
    peer?: string;
    height?: number;
    target?: number;
    blocksPerSec?: number;
  }): void;
}

/** The node's P2P options (NodeOptions.p2p). */
export interface P2POptions {
  host?: string;
  port?: number;
  peers?: string[];
  mdns?: boolean;
  /** The pre-shared network key: only nodes holding it connect (src/net/private.ts). */
  networkKey?: NetworkKey;
  /** Peer ids allowed to connect; any when omitted. */
  allowPeers?: string[];
  /**
   * How this node relays blocks: "compact" (default; BIP 152-style announcements to peers that speak them)
   * or "full" (whole blocks by gossip only, as before compact blocks: for measuring one against the other).
   */
  relay?: "compact" | "full";
}

export interface NetworkContext {
  params: NetworkParams;
  chain: Chain;
  store: LevelStore;
  logger: Logger;
  listen: { host: string; port: number };
  /** Peers to dial at start: multiaddrs, `host:port`, or a node's HTTP URL (P2PNetwork resolves those). */
  peers: string[];
  mdns: boolean;
  /** Block relay policy (P2POptions.relay; default "compact"). */
  relay?: "compact" | "full";
  /** A closed network's key and allow-list (src/net/private.ts), when set. */
  closed?: Pick<P2POptions, "networkKey" | "allowPeers">;
  /** Where the node keeps its libp2p key, so its peer id survives restarts. */
  peerKeyPath: string;
  hooks: NetworkHooks;
  /** Pending records, gossiped on the records topic. */
  mempool?: Mempool;
  /** The node's witness: its cosignatures go on the checkpoints topic (src/net/gossip/cosign.ts). */
  witness?: CosignSink | undefined;
}

export interface MinerStats {
  running: boolean;
  hashRate: number;
  threads: number;
  blocksFound: number;
}

export interface MinerService {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  stats(): MinerStats;
  /** Stops and releases the workers for good. */
  close(): Promise<void>;
}

export interface MinerHooks {
  /** A block this miner found was processed (accepted on main or side, or refused with a code). */
  onFound(event: { hash: string; height: number; status: string }): void;
  onStats(stats: MinerStats): void;
  /** A template was handed to the workers (for metrics). */
  onTemplate?(event: { height: number; records: number }): void;
}

export interface MinerContext {
  params: NetworkParams;
  chain: Chain;
  logger: Logger;
  name: string;
  threads: number;
  hooks: MinerHooks;
  /** Pending records the templates take (in arrival order, up to the block size). */
  mempool?: Mempool;
}

/** Factories that build the optional services; the node calls them in its start order. */
export interface ServiceFactories {
  network?: (ctx: NetworkContext) => Promise<NetworkService>;
  miner?: (ctx: MinerContext) => Promise<MinerService>;
}
