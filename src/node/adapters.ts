import type { Chain } from "../chain/chain.ts";
import { authorRefusal } from "../consensus/authors.ts";
import type { Block } from "../consensus/block.ts";
import { HEADER_SIZE } from "../consensus/header.ts";
import { encodeRecord } from "../consensus/records.ts";
import type { Mempool } from "../mempool/index.ts";
import { chainHooks, Miner, type MinerOptions } from "../mining/miner.ts";
import { loadOrCreatePeerKey, P2PNetwork, type PeerInfo } from "../net/index.ts";
import type {
  MinerContext,
  MinerService,
  MinerStats,
  NetworkContext,
  NetworkService,
  PeerSummary,
  ServiceFactories,
} from "./services.ts";

/**
 * The real P2P network and miner, adapted to the node's service shapes (src/node/services.ts): the only
 * file that knows their constructors and event names.
 */
export function realServices(): ServiceFactories {
  return { network: createNetwork, miner: createMiner };
}

/**
 * A miner on `chain`'s tip whose found blocks go into the chain's processBlock (the node's and `jbc mine`'s).
 * With a mempool, every template takes its pending records in arrival order up to the block size and the
 * record cap, and the template is rebuilt when records arrive (throttled by the miner), so a record waits at
 * most for the next block.
 */
export function chainMiner(
  chain: Chain,
  opts: Omit<MinerOptions, "getContext" | "submit" | "onTip" | "records" | "onRecords">,
  mempool?: Mempool,
): Miner {
  // The node's own blocks are never refused for the queue's bound or a low-work floor: as Bitcoin Core's
  // generateblock, they are processed as if asked for (docs/protocol.md, "Blocks nobody asked for").
  const hooks = {
    ...chainHooks(chain),
    submit: (block: Block) => chain.processBlock(block, { requested: true }),
  };
  if (!mempool) return new Miner({ ...hooks, ...opts });
  const room = templateRoom(chain.params.maxBlockSize, opts.minerName);
  return new Miner({
    ...hooks,
    ...opts,
    // At most the records consensus allows a block, its miner record included (docs/consensus.md); a record
    // admitted under its author's grant may be past it by now (a revocation at a height): the template leaves
    // out what the next block may not carry (consensus/authors.ts).
    records: () => {
      const next = chain.tip.height + 1;
      const authors = chain.params.authors;
      return mempool
        .take(room)
        .map((e) => e.record)
        .filter((r) => authorRefusal(authors, r, next) === undefined)
        .slice(0, chain.params.maxBlockRecords - 1);
    },
    onRecords: (listener) => {
      mempool.on("added", listener);
      return () => mempool.off("added", listener);
    },
  });
}

/**
 * Bytes of a block left for pending records: the block size minus the header, the largest record-count
 * CompactSize (5 bytes) and the miner record (the largest extra-nonce and height take no more bytes).
 */
export function templateRoom(maxBlockSize: number, minerName: string): number {
  const miner = encodeRecord({ type: "miner", height: 0, extraNonce: 0n, miner: minerName });
  return maxBlockSize - HEADER_SIZE - 5 - miner.length;
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
      compactBlocks: ctx.relay !== "full",
      ...(ctx.closed?.networkKey ? { networkKey: ctx.closed.networkKey } : {}),
      ...(ctx.closed?.allowPeers ? { allowPeers: ctx.closed.allowPeers } : {}),
    },
    {
      chain: ctx.chain,
      bans: ctx.store,
      ...(ctx.mempool ? { mempool: ctx.mempool } : {}),
      ...(ctx.witness ? { witness: ctx.witness } : {}),
    },
  );
  const { hooks } = ctx;
  net.on("peer:joined", (p) => hooks.onPeer("joined", p.peerId));
  net.on("peer:left", (p) => hooks.onPeer("left", p.peerId));
  net.on("peer:banned", (e) => hooks.onPeer("banned", e.peerId, e.reason));
  net.on("gossip", (e) => hooks.onGossip?.(e));
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
 * so a stopped miner costs nothing. Running, hash rate (its last `stats` report) and blocks found are
 * read from the miner itself.
 */
async function createMiner(ctx: MinerContext): Promise<MinerService> {
  const { chain } = ctx;
  const miner = chainMiner(
    chain,
    {
      minerName: ctx.name,
      ...(ctx.threads > 0 ? { threads: ctx.threads } : {}),
      logger: ctx.logger,
      // The node relays each report to API clients as a `mining` event.
      statsIntervalMs: 2000,
    },
    ctx.mempool,
  );
  const stats = (): MinerStats => ({
    running: miner.running,
    hashRate: miner.lastStats?.total ?? 0,
    threads: miner.threads ?? (ctx.threads > 0 ? ctx.threads : 0),
    blocksFound: miner.blocksFound,
  });
  miner.on("stats", () => ctx.hooks.onStats(stats()));
  miner.on("template", (e) => ctx.hooks.onTemplate?.(e));
  miner.on("block", (found) => {
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
    start: () => serial(() => miner.start()),
    stop: () => serial(() => miner.stop()),
    close: () => serial(() => miner.stop()),
  };
}
