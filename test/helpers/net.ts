/**
 * Helpers for network tests and the network benchmark: a regtest chain builder on test/helpers/blocks.ts
 * (real encoding, merkle and proof of work, no stubs), a Chain on a LevelStore in a temporary directory, and a
 * P2PNetwork bound to 127.0.0.1 on an ephemeral port.
 */

import { rm } from "node:fs/promises";
import { after } from "node:test";
import { Chain } from "../../src/chain/chain.ts";
import { type Block, encodeBlock } from "../../src/consensus/block.ts";
import { encodeHeader } from "../../src/consensus/header.ts";
import type { NetworkParams } from "../../src/consensus/params.ts";
import type { BlockRecord } from "../../src/consensus/records.ts";
import type { Mempool } from "../../src/mempool/index.ts";
import { type NetworkKey, type NetworkLimits, P2PNetwork } from "../../src/net/index.ts";
import type { CosignSink } from "../../src/net/options.ts";
import { LevelStore } from "../../src/store/level.ts";
import { type Logger, silentLogger } from "../../src/util/logger.ts";
import { makeChain } from "./blocks.ts";
import { tempDir } from "./chain.ts";
import { waitFor as poll } from "./wait.ts";

// Block building is shared with the chain and consensus tests (test/helpers/blocks.ts); these names
// are the ones the network tests and bench/net.ts use.
export {
  blockHash as hashOf,
  blockHeight as heightOf,
  mineBlock as solve,
  mineHighHash as solveHigh,
} from "./blocks.ts";

export interface BuildOptions {
  miner?: string;
  /** Records after the miner record, per height. */
  records?: (height: number) => BlockRecord[];
}

/**
 * `count` mined blocks on top of `parent` (genesis by default), each one second after its parent, at
 * genesis bits: blocks.ts `makeChain` with the network tests' defaults, without the parent.
 */
export function buildChain(
  params: NetworkParams,
  count: number,
  parent = params.genesis,
  opts: BuildOptions = {},
): Block[] {
  return makeChain(params, count, {
    from: parent,
    spacing: 1,
    bits: params.genesis.header.bits,
    ...opts,
  }).slice(1);
}

/** `n` data records of `size` bytes each, distinct per height (so no two blocks share records). */
export function dataRecords(height: number, n: number, size: number): BlockRecord[] {
  const out: BlockRecord[] = [];
  for (let i = 0; i < n; i++) {
    const data = new Uint8Array(size);
    const view = new DataView(data.buffer);
    view.setUint32(0, height, true);
    view.setUint32(4, i, true);
    for (let j = 8; j < size; j++) data[j] = (height * 31 + i * 7 + j) & 0xff;
    out.push({ type: "data", data });
  }
  return out;
}

/** Raw header bytes (for tests that tamper with a block on the wire). */
export const headerBytes = (b: Block): Uint8Array => encodeHeader(b.header);

export { encodeBlock };

/** A Chain on its own LevelStore in a fresh temporary directory. `close` shuts both and deletes the directory. */
export interface TempChain {
  chain: Chain;
  store: LevelStore;
  dir: string;
  /** Closes chain and store; the directory stays (for restart tests) until `remove`. */
  close(): Promise<void>;
  remove(): Promise<void>;
}

/** Opens a chain in `dir` (a new temporary directory by default). */
export async function openChain(params: NetworkParams, dir?: string): Promise<TempChain> {
  const path = dir ?? tempDir("jbc-net-");
  const store = await LevelStore.open(path, params);
  const chain = await Chain.open({ params, store });
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await chain.close();
    await store.close();
  };
  return {
    chain,
    store,
    dir: path,
    close,
    remove: async () => {
      await close();
      await rm(path, { recursive: true, force: true });
    },
  };
}

/** Feeds blocks to a chain in order, failing on anything but "main". */
export async function importBlocks(chain: Chain, blocks: readonly Block[]): Promise<void> {
  for (const b of blocks) {
    const r = await chain.processBlock(b, encodeBlock(b));
    if (r.status !== "main") throw new Error(`block ${r.hash} was ${r.status}, expected main`);
  }
}

export interface TestNode {
  net: P2PNetwork;
  tc: TempChain;
  /** Stops the network, then closes (and by default removes) the chain. */
  stop(opts?: { keep?: boolean }): Promise<void>;
}

export interface NodeOptions {
  peers?: string[];
  limits?: Partial<NetworkLimits>;
  dir?: string;
  logger?: Logger;
  /** TCP port to listen on (default 0: ephemeral). */
  port?: number;
  /** A mempool: the network then joins the records topic. */
  mempool?: Mempool;
  /** The pre-shared network key (a closed network). */
  networkKey?: NetworkKey;
  /** Peer ids allowed to connect. */
  allowPeers?: string[];
  /** Compact block relay (default on). */
  compactBlocks?: boolean;
  /** Builds the node's witness on its chain: the network then joins the checkpoints topic. */
  witness?: (chain: Chain) => CosignSink;
}

/** A started P2PNetwork on 127.0.0.1, ephemeral port, with its own chain in a temporary directory. */
export async function startNode(params: NetworkParams, opts: NodeOptions = {}): Promise<TestNode> {
  const tc = await openChain(params, opts.dir);
  const net = await P2PNetwork.create(
    {
      params,
      listen: { host: "127.0.0.1", port: opts.port ?? 0 },
      peers: opts.peers ?? [],
      logger: opts.logger ?? silentLogger,
      ...(opts.limits ? { limits: opts.limits } : {}),
      ...(opts.networkKey ? { networkKey: opts.networkKey } : {}),
      ...(opts.allowPeers ? { allowPeers: opts.allowPeers } : {}),
      ...(opts.compactBlocks === false ? { compactBlocks: false } : {}),
    },
    {
      chain: tc.chain,
      bans: tc.store,
      ...(opts.mempool ? { mempool: opts.mempool } : {}),
      ...(opts.witness ? { witness: opts.witness(tc.chain) } : {}),
    },
  );
  await net.start();
  return {
    net,
    tc,
    stop: async (o = {}) => {
      await net.stop();
      if (o.keep) await tc.close();
      else await tc.remove();
    },
  };
}

/**
 * A `startNode` on `params` for one test file: every node it starts is stopped (and its chain removed) by
 * a file-level `after` hook it registers, even when a test failed.
 */
export function nodeStarter(params: NetworkParams): (opts?: NodeOptions) => Promise<TestNode> {
  const running = new Set<TestNode>();
  after(async () => {
    await Promise.all([...running].map((n) => n.stop()));
  });
  return async (opts = {}) => {
    const n = await startNode(params, opts);
    running.add(n);
    return n;
  };
}

/** The address `n` listens on, as another node's `peers` take it. */
export const addrOf = (n: TestNode): string => n.net.multiaddrs()[0]!;

/** wait.ts `waitFor` in the network tests' short form: polls `predicate` every 10 ms for up to `ms`. */
/** The score `b` holds for peer `a` (0 when `a` is not connected to `b`). */
export function scoreOf(b: TestNode, a: TestNode): number {
  return b.net.getPeers().find((p) => p.peerId === a.net.peerId)?.score ?? 0;
}

export async function waitFor(predicate: () => boolean, ms: number, what: string): Promise<void> {
  await poll(predicate, { timeoutMs: ms, intervalMs: 10, what });
}

/** Resolves once `n` has a gossipsub peer subscribed to its block topic (a block published then reaches it). */
export async function waitForSubscriber(n: TestNode, ms = 5_000): Promise<void> {
  await waitFor(
    () => n.net.libp2p.services.pubsub.getSubscribers(n.net.topic).length >= 1,
    ms,
    "subscription",
  );
}
