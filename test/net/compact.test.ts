/**
 * Compact block relay between real libp2p nodes on 127.0.0.1, each with its own chain (LevelDB) and a real
 * Mempool: a block whose records are pending everywhere crosses as a compact block; records a node lacks
 * come by one getblocktxn; high-bandwidth mode follows who gave a new tip first; a node with compact blocks
 * off still gets full blocks by gossip.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { Block } from "../../src/consensus/block.ts";
import { regtest } from "../../src/consensus/params.ts";
import { Mempool } from "../../src/mempool/index.ts";
import type { PeerInfo } from "../../src/net/index.ts";
import { buildChain, dataRecords, startNode, type TestNode, waitFor } from "../helpers/net.ts";

const running = new Set<TestNode>();
after(async () => {
  await Promise.all([...running].map((n) => n.stop()));
});

interface Node {
  n: TestNode;
  pool: Mempool;
}

async function node(peers: string[] = [], compactBlocks = true): Promise<Node> {
  const pool = new Mempool({ params: regtest, isConfirmed: () => false });
  const n = await startNode(regtest, { peers, mempool: pool, compactBlocks });
  running.add(n);
  return { n, pool };
}

const addr = (x: Node): string => x.n.net.multiaddrs()[0]!;
const peerOf = (x: Node, id: string): PeerInfo | undefined => x.n.net.getPeers().find((p) => p.peerId === id);

async function admit(pool: Mempool, block: Block, which: (i: number) => boolean = () => true): Promise<void> {
  for (const [i, rec] of block.records.entries())
    if (i > 0 && which(i)) await pool.admit(rec, { kind: "api" });
}

/** Waits until `x` knows `y` speaks compact blocks (identify) and both have joined. */
async function linked(x: Node, y: Node): Promise<void> {
  await waitFor(
    () =>
      x.n.net.compactRelay?.speaks(y.n.net.peerId) === true &&
      peerOf(x, y.n.net.peerId) !== undefined &&
      peerOf(y, x.n.net.peerId) !== undefined,
    5_000,
    "compact peers joined",
  );
}

/** Counts the full blocks a node publishes by gossip. */
function fullPublished(x: Node): () => number {
  let n = 0;
  x.n.net.on("gossip", (e) => {
    if (e.topic === "blocks" && e.direction === "out") n++;
  });
  return () => n;
}

describe("compact blocks", () => {
  it("relays a block whose records are pending everywhere without full gossip, then in high-bandwidth mode", async () => {
    const a = await node();
    const b = await node([addr(a)]);
    await linked(a, b);
    await linked(b, a);
    const chain = buildChain(regtest, 2, regtest.genesis, { records: (h) => dataRecords(h, 200, 100) });
    for (const blk of chain) {
      await admit(a.pool, blk);
      await admit(b.pool, blk);
    }
    const published = fullPublished(a);
    await a.n.tc.chain.processBlock(chain[0]!);
    await waitFor(() => b.n.tc.chain.tip.height === 1, 10_000, "first block at b");
    // b got a new tip first from a: it asks a for high-bandwidth mode.
    assert.deepEqual(b.n.net.compactRelay?.highBandwidth, [a.n.net.peerId]);
    await a.n.tc.chain.processBlock(chain[1]!);
    await waitFor(() => b.n.tc.chain.tip.height === 2, 10_000, "second block at b");
    assert.equal(published(), 0, "no full block gossiped between compact peers");
    assert.equal(peerOf(b, a.n.net.peerId)?.score, 0);
  });

  it("asks the sender for the records the pool lacks in one getblocktxn", async () => {
    const a = await node();
    const b = await node([addr(a)]);
    await linked(b, a);
    const [blk] = buildChain(regtest, 1, regtest.genesis, { records: (h) => dataRecords(h, 100, 80) });
    await admit(a.pool, blk!);
    await admit(b.pool, blk!, (i) => i % 2 === 0);
    await a.n.tc.chain.processBlock(blk!);
    await waitFor(() => b.n.tc.chain.tip.height === 1, 10_000, "block at b");
    assert.equal(b.n.tc.chain.tip.hash, a.n.tc.chain.tip.hash);
    assert.equal(peerOf(b, a.n.net.peerId)?.score, 0);
  });

  it("rebuilds a block with no pending record at all (every record asked for)", async () => {
    const a = await node();
    const b = await node([addr(a)]);
    await linked(b, a);
    const [blk] = buildChain(regtest, 1, regtest.genesis, { records: (h) => dataRecords(h, 30, 80) });
    await a.n.tc.chain.processBlock(blk!);
    await waitFor(() => b.n.tc.chain.tip.height === 1, 10_000, "block at b");
  });

  it("a node with compact blocks off gets full blocks by gossip, and its own reach compact nodes", async () => {
    const a = await node();
    const legacy = await node([addr(a)], false);
    await waitFor(() => peerOf(a, legacy.n.net.peerId) !== undefined, 5_000, "join");
    await waitFor(
      () => a.n.net.libp2p.services.pubsub.getSubscribers(a.n.net.topic).length >= 1,
      5_000,
      "legacy subscribed",
    );
    assert.equal(a.n.net.compactRelay?.speaks(legacy.n.net.peerId), false);
    const chain = buildChain(regtest, 2, regtest.genesis, { records: (h) => dataRecords(h, 10, 80) });
    await a.n.tc.chain.processBlock(chain[0]!);
    await waitFor(() => legacy.n.tc.chain.tip.height === 1, 10_000, "full block at the legacy node");
    await legacy.n.tc.chain.processBlock(chain[1]!);
    await waitFor(() => a.n.tc.chain.tip.height === 2, 10_000, "legacy block at the compact node");
  });
});
