import type { EventEmitter } from "node:events";
import { isIP } from "node:net";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import {
  type GossipSub,
  type GossipSubComponents,
  gossipsub,
  type Message,
  type TopicValidatorResult,
} from "@libp2p/gossipsub";
import { type Identify, identify } from "@libp2p/identify";
import type { Libp2p, PeerId } from "@libp2p/interface";
import { mdns } from "@libp2p/mdns";
import { preSharedKey } from "@libp2p/pnet";
import { tcp } from "@libp2p/tcp";
import { createLibp2p } from "libp2p";
import type { BlockSink, BlockSource, ChainEventSource, ChainReader } from "../chain/interfaces.ts";
import { sha256, sha256d } from "../consensus/hash.ts";
import type { NetworkParams } from "../consensus/params.ts";
import type { Logger } from "../util/logger.ts";
import type { NetworkEvents, NetworkLimits, NetworkOptions } from "./options.ts";
import { InboundGate, multiaddrIp } from "./peers/inbound.ts";
import { peerAddressIp } from "./resolve.ts";

/**
 * A gossip message's publication: the publisher's peer id and its sequence number (what gossipsub's own
 * default id is made of under StrictSign, which every message here is; an unsigned one, refused anyway,
 * falls back to its data's hash).
 */
export function publicationId(msg: Message): Uint8Array {
  if (msg.type !== "signed") return sha256d(msg.data);
  const from = msg.from.toMultihash().bytes;
  const id = new Uint8Array(from.length + 8);
  id.set(from);
  new DataView(id.buffer).setBigUint64(from.length, msg.sequenceNumber);
  return id;
}

/** The runtime gossipsub object has these; its exported interface does not list them. */
export interface ValidatingGossipSub extends GossipSub {
  reportMessageValidationResult(
    msgId: string,
    propagationSource: string,
    acceptance: TopicValidatorResult,
  ): void;
  getMeshPeers(topic: string): string[];
}

/**
 * Heartbeats a gossip message stays in gossipsub's message cache (its default is 5). A verdict reported
 * within that window still forwards the message, so an orphan's verdict can wait for its parent
 * (gossip/gossip.ts); 10 keeps 1.8 s of that wait at the 200 ms heartbeat.
 */
export const GOSSIP_HISTORY = 10;

/** How long a gossip verdict may wait and still forward the message: one heartbeat short of the cache. */
export function gossipHoldMs(limits: NetworkLimits): number {
  return (GOSSIP_HISTORY - 1) * limits.gossipHeartbeatMs;
}

export type Services = { identify: Identify; pubsub: ValidatingGossipSub };

/** What every part of the P2P layer shares: the libp2p node, the chain, limits, logger and events. */
export interface NetContext {
  node: Libp2p<Services>;
  params: NetworkParams;
  chain: ChainReader & BlockSource & BlockSink & ChainEventSource;
  log: Logger;
  limits: NetworkLimits;
  /** The facade's emitter: the parts emit the public events on it. */
  events: EventEmitter<NetworkEvents>;
  /** Gossip topic for blocks on this network. */
  topic: string;
  /** Whether the network is started (and not yet stopped). */
  started(): boolean;
}

function listenMultiaddr(host: string, port: number): string {
  const h = host === "localhost" ? "127.0.0.1" : host;
  const v = isIP(h);
  if (v === 0) throw new RangeError(`listen host must be an IP address or "localhost", got "${host}"`);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new RangeError(`invalid listen port ${port}`);
  return `/ip${v}/${h}/tcp/${port}`;
}

/**
 * With a network key, every connection, inbound and outbound, is wrapped in its cipher before Noise
 * (private.ts); the nonce exchange gets 5 s, not pnet's default 1 s, which is short on a 200 ms link.
 */
function protector(opts: NetworkOptions): { connectionProtector?: ReturnType<typeof preSharedKey> } {
  if (!opts.networkKey) return {};
  return { connectionProtector: preSharedKey({ psk: opts.networkKey.swarmKey, timeout: 5_000 }) };
}

/**
 * The libp2p node (not yet started): TCP, Noise, Yamux, identify, gossipsub with asynchronous validation
 * on the block topic and the records topic, optional mDNS. `refused` is asked before every dial and every
 * encrypted connection (banned and foreign peers), `refusedAddress` before every dial and every inbound
 * socket (banned addresses); the InboundGate admits inbound sockets (src/net/peers/inbound.ts).
 */
export async function createNode(
  opts: NetworkOptions,
  limits: NetworkLimits,
  topics: { blocks: string; records: string; checkpoints?: string },
  refused: (id: PeerId) => boolean,
  refusedAddress: (ip: string) => boolean = () => false,
): Promise<{ node: Libp2p<Services>; gate: InboundGate }> {
  const D = Math.max(2, limits.gossipD);
  // Configured peers' addresses skip the inbound limits (the allow-list); hostnames are not resolved here.
  const allowed = new Set(opts.peers.map(peerAddressIp).filter((ip): ip is string => ip !== undefined));
  let node: Libp2p<Services> | undefined;
  const gate = new InboundGate({
    maxPendingPerAddress: limits.maxPendingPerAddress,
    // Small test networks keep at least half their slots open to inbound peers.
    maxInbound: limits.maxPeers - Math.min(limits.outboundSlots, Math.floor(limits.maxPeers / 2)),
    inboundCount: () => node?.getConnections().filter((c) => c.direction === "inbound").length ?? 0,
    allowed: (ip) => allowed.has(ip),
    banned: refusedAddress,
  });
  node = await createLibp2p<Services>({
    start: false,
    ...(opts.privateKey ? { privateKey: opts.privateKey } : {}),
    addresses: { listen: [listenMultiaddr(opts.listen.host, opts.listen.port)] },
    transports: [tcp()],
    ...protector(opts),
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: {
      denyDialPeer: refused,
      denyDialMultiaddr: (ma) => {
        const ip = multiaddrIp(ma);
        return ip !== undefined && refusedAddress(ip);
      },
      denyInboundEncryptedConnection: refused,
      denyOutboundEncryptedConnection: refused,
      denyInboundConnection: gate.deny,
      denyInboundUpgradedConnection: gate.upgraded,
    },
    connectionManager: {
      maxConnections: limits.maxPeers,
      dialTimeout: limits.dialTimeoutMs,
      maxIncomingPendingConnections: limits.maxPendingInbound,
      inboundUpgradeTimeout: limits.inboundUpgradeTimeoutMs,
      allow: [...allowed].map((ip) => (ip.includes(":") ? `/ip6/${ip}` : `/ip4/${ip}`)),
    },
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
          allowedTopics: [topics.blocks, topics.records, ...(topics.checkpoints ? [topics.checkpoints] : [])],
          heartbeatInterval: limits.gossipHeartbeatMs,
          mcacheLength: GOSSIP_HISTORY,
          D,
          Dlo: Math.max(1, D - 2),
          Dhi: 2 * D,
          Dout: Math.min(2, Math.floor(D / 2)),
          // One id per block body, whoever publishes it, so the same block is judged once per node. A
          // record message's id is its publication (publisher and sequence number), not the record: a
          // node must be able to announce a record again (a reorg returned it, and the other side of a
          // partition never had it), and gossipsub refuses to publish an id it saw within its 2-minute
          // seen window. The mempool drops the repeats (ALREADY_PENDING, Ignore).
          msgIdFn: (msg) => (msg.topic === topics.records ? publicationId(msg) : sha256(msg.data)),
          // Room for the signature and framing around a maximum-size block; bigger RPCs are dropped
          // by gossipsub, a block-sized message above maxBlockSize reaches us and is penalised.
          maxInboundDataLength: opts.params.maxBlockSize + 64 * 1024,
        })(components) as ValidatingGossipSub,
    },
  });
  return { node, gate };
}
