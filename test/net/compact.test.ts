/**
 * Compact block relay between real libp2p nodes on 127.0.0.1, each with its own chain (LevelDB) and a real
 * Mempool: a block whose records are pending everywhere crosses as a compact block; records a node lacks
 * come by one getblocktxn; high-bandwidth mode is asked of the first 3 compact peers as they join, then
 * follows who gave a new tip first; a node with compact blocks off still gets full blocks by gossip.
 * (Round trips across a delay: compact-delay.test.ts.)
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
  it("relays blocks whose records are pending everywhere in high-bandwidth mode, without full gossip", async () => {
    const a = await node();
    const b = await node([addr(a)]);
    await linked(a, b);
    await linked(b, a);
    // Each asks the other for high-bandwidth mode as it joins (fewer than 3 compact peers), before any block.
    await waitFor(() => a.n.net.compactRelay?.pushingTo.has(b.n.net.peerId) === true, 5_000, "b asked a");
    assert.deepEqual(b.n.net.compactRelay?.highBandwidth, [a.n.net.peerId]);
    const chain = buildChain(regtest, 2, regtest.genesis, { records: (h) => dataRecords(h, 200, 100) });
    for (const blk of chain) {
      await admit(a.pool, blk);
      await admit(b.pool, blk);
    }
    const published = fullPublished(a);
    await a.n.tc.chain.processBlock(chain[0]!);
    await waitFor(() => b.n.tc.chain.tip.height === 1, 10_000, "first block at b");
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

  it("asks its first 3 compact peers for high-bandwidth mode, then the one that last gave it a tip first", async () => {
    const peers = [await node(), await node(), await node(), await node()];
    const x = await node([addr(peers[0]!)]);
    await linked(x, peers[0]!);
    for (const p of peers.slice(1)) {
      await x.n.net.addPeer(addr(p));
      await linked(x, p);
    }
    const ids = peers.map((p) => p.n.net.peerId);
    const hb = (): readonly string[] => x.n.net.compactRelay?.highBandwidth ?? [];
    const asked = (p: Node): boolean => p.n.net.compactRelay?.pushingTo.has(x.n.net.peerId) === true;
    await waitFor(() => peers.slice(0, 3).every(asked), 5_000, "the first 3 asked");
    assert.deepEqual(hb(), ids.slice(0, 3));
    assert.equal(asked(peers[3]!), false, "a fourth is not asked while 3 are");
    // The fourth gives x a new tip first: it moves to the front, and the last of the three is told to stop.
    const [blk] = buildChain(regtest, 1);
    await peers[3]!.n.tc.chain.processBlock(blk!);
    await waitFor(() => x.n.tc.chain.tip.height === 1, 10_000, "block at x");
    await waitFor(() => asked(peers[3]!) && !asked(peers[2]!), 5_000, "modes changed");
    assert.deepEqual(hb(), [ids[3], ids[0], ids[1]]);
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
