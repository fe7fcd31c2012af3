import { chainHooks, Miner } from "../mining/miner.ts";
import { loadOrCreatePeerKey, P2PNetwork, type PeerInfo } from "../net/index.ts";
import type {
  MinerContext,
  MinerService,
  MinerStats,
  NetworkContext,
  NetworkService,
  NodeModules,
  PeerSummary,
} from "./services.ts";

/**
 * The real P2P network and miner, adapted to the node's service shapes: the only file that knows their
 * constructors and event names.
 */
export function defaultModules(): NodeModules {
  return { network: createNetwork, miner: createMiner };
}

function peerSummary(p: PeerInfo): PeerSummary {
  return {
    id: p.peerId,
    addrs: [p.address],
    info: {
      direction: p.direction,
      score: p.score,
      height: p.height,
      tipHash: p.tipHash,
      work: p.work.toString(),
      connectedSince: p.connectedSince,
    },
  };
}

/** libp2p networking: gossip, sync and peer scoring. Peers may be multiaddrs, host:port or HTTP URLs. */
async function createNetwork(ctx: NetworkContext): Promise<NetworkService> {
  const privateKey = await loadOrCreatePeerKey(ctx.peerKeyPath);
  const net = await P2PNetwork.create(
    {
      params: ctx.params,
      listen: ctx.listen,
      peers: ctx.peers,
      mdns: ctx.mdns,
      logger: ctx.logger,
      privateKey,
    },
    { chain: ctx.chain, bans: ctx.store },
  );
  const { hooks } = ctx;
  net.on("peer:joined", (p) => hooks.onPeer("joined", p.peerId));
  net.on("peer:left", (p) => hooks.onPeer("left", p.peerId));
  net.on("peer:banned", (e) => hooks.onPeer("banned", e.peerId, e.reason));
  net.on("sync:progress", (e) => hooks.onSync({ syncing: true, ...e }));
  net.on("sync:done", (e) =>
    hooks.onSync({
      syncing: false,
      peer: e.peer,
      height: e.height,
      target: e.height,
      blocksPerSec: e.blocksPerSec,
    }),
  );
  await net.start();
  return {
    peerId: net.peerId,
    multiaddrs: () => net.multiaddrs(),
    peers: () => net.getPeers().map(peerSummary),
    addPeer: (addr) => net.addPeer(addr),
    stop: () => net.stop(),
  };
}

/**
 * The worker-pool miner. Its workers exist only while it mines: start() spawns them, stop() ends them,
 * so a stopped miner costs nothing. Hash rates come from its `stats` events (reading stats() directly
 * would reset the miner's own measurement interval).
 */
async function createMiner(ctx: MinerContext): Promise<MinerService> {
  const { chain } = ctx;
  const miner = new Miner({
    ...chainHooks(chain),
    minerName: ctx.name,
    ...(ctx.threads > 0 ? { threads: ctx.threads } : {}),
    logger: ctx.logger,
    // The node relays each report to API clients as a `mining` event.
    statsIntervalMs: 2000,
  });
  let running = false;
  let hashRate = 0;
  let blocksFound = 0;
  const stats = (): MinerStats => ({
    running,
    hashRate: running ? hashRate : 0,
    threads: miner.threads ?? (ctx.threads > 0 ? ctx.threads : 0),
    blocksFound,
  });
  miner.on("stats", (s) => {
    hashRate = s.total;
    ctx.hooks.onStats(stats());
  });
  miner.on("block", (found) => {
    blocksFound++;
    ctx.hooks.onFound({ hash: found.hash, height: found.height, status: found.result.status });
  });
  miner.on("error", (err) => ctx.logger.error({ err }, "miner failed"));
  let op: Promise<void> = Promise.resolve();
  // Start and stop may be called concurrently from HTTP requests: run them one after another.
  const serial = (fn: () => Promise<void>): Promise<void> => {
    op = op.then(fn, fn);
    return op;
  };
  return {
    name: ctx.name,
    stats,
    start: () =>
      serial(async () => {
        if (running) return;
        await miner.start();
        running = true;
      }),
    stop: () =>
      serial(async () => {
        running = false;
        hashRate = 0;
        await miner.stop();
      }),
    close: () =>
      serial(async () => {
        running = false;
        await miner.stop();
      }),
  };
}
