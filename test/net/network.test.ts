/**
 * P2PNetwork against real libp2p nodes on 127.0.0.1 (ephemeral ports), each with its own Chain and
 * LevelStore in a temporary directory on regtest.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { type AddressInfo, createServer as createTcpServer } from "node:net";
import { after, describe, it } from "node:test";
import { peerIdFromString } from "@libp2p/peer-id";
import { encodeBlock } from "../../src/consensus/block.ts";
import { hexToHash } from "../../src/consensus/header.ts";
import { defineNetwork, regtest } from "../../src/consensus/params.ts";
import { buildBlock } from "../../src/consensus/template.ts";
import { BLOCKS_PROTOCOL, type PeerInfo, PROTOCOL_PENALTY } from "../../src/net/index.ts";
import { BLOCKS_SKIP_PROTOCOL, encodeBlocksRequest, encodeFrames } from "../../src/net/protocols.ts";
import {
  buildChain,
  hashOf,
  importBlocks,
  type NodeOptions,
  solve,
  solveHigh,
  startNode,
  type TestNode,
  waitFor,
  waitForSubscriber,
} from "../helpers/net.ts";

const running = new Set<TestNode>();

async function node(opts: Parameters<typeof startNode>[1] = {}, params = regtest): Promise<TestNode> {
  const n = await startNode(params, opts);
  running.add(n);
  return n;
}

async function stop(n: TestNode, keep = false): Promise<void> {
  running.delete(n);
  await n.stop({ keep });
}

after(async () => {
  await Promise.all([...running].map((n) => n.stop()));
});

const addr = (n: TestNode): string => n.net.multiaddrs()[0]!;
const peerOf = (n: TestNode, id: string): PeerInfo | undefined =>
  n.net.getPeers().find((p) => p.peerId === id);

async function freePort(): Promise<number> {
  const srv = createTcpServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe("P2PNetwork", () => {
  it("connects two nodes that exchange status (tip height, hash, work)", async () => {
    const a = await node();
    await importBlocks(a.tc.chain, buildChain(regtest, 3));
    const joined: PeerInfo[] = [];
    const b = await node({ peers: [addr(a)] });
    b.net.on("peer:joined", (p) => joined.push(p));
    await waitFor(
      () => peerOf(b, a.net.peerId) !== undefined && peerOf(a, b.net.peerId) !== undefined,
      5_000,
      "join",
    );
    const seenByB = peerOf(b, a.net.peerId)!;
    assert.equal(seenByB.direction, "outbound");
    assert.equal(seenByB.height, 3);
    assert.equal(seenByB.tipHash, a.tc.chain.tip.hash);
    assert.equal(seenByB.work, a.tc.chain.tip.chainWork);
    assert.equal(seenByB.score, 0);
    assert.match(seenByB.address, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+/);
    const seenByA = peerOf(a, b.net.peerId)!;
    assert.equal(seenByA.direction, "inbound");
    assert.equal(seenByA.tipHash.length, 64);
    // B is behind, so the status exchange starts a sync.
    await waitFor(() => b.tc.chain.tip.hash === a.tc.chain.tip.hash, 5_000, "sync of 3 blocks");
    await stop(b);
    await waitFor(() => a.net.getPeers().length === 0, 5_000, "peer:left");
    await stop(a);
  });

  it("spreads a block processed on one node to its peer by gossip", async () => {
    const a = await node();
    const b = await node({ peers: [addr(a)] });
    await waitForSubscriber(b);
    await waitForSubscriber(a);
    const received: Array<{ hash: string; from: string }> = [];
    b.net.on("block:received", (e) => received.push(e));
    const [block] = buildChain(regtest, 1);
    const r = await a.tc.chain.processBlock(block!, encodeBlock(block!));
    assert.equal(r.status, "main");
    await waitFor(() => b.tc.chain.tip.hash === hashOf(block!), 5_000, "gossiped block");
    assert.deepEqual(received, [{ hash: hashOf(block!), from: a.net.peerId }]);
    await stop(b);
    await stop(a);
  });

  it("syncs 1,000 blocks to a fresh node", async () => {
    const a = await node();
    const blocks = buildChain(regtest, 1_000);
    await importBlocks(a.tc.chain, blocks);
    const b = await node({ peers: [addr(a)], limits: { progressIntervalMs: 0, progressMinBlocks: 100 } });
    const progress: number[] = [];
    b.net.on("sync:progress", (e) => progress.push(e.height));
    let done: { blocks: number } | undefined;
    b.net.on("sync:done", (e) => {
      done = e;
    });
    await waitFor(() => done !== undefined, 20_000, "sync:done");
    assert.equal(b.tc.chain.height, 1_000);
    assert.equal(b.tc.chain.tip.hash, hashOf(blocks.at(-1)!));
    assert.equal(done!.blocks, 1_000);
    // Batches of 500: progress after the first batch at least, heights increasing.
    assert.ok(progress.length >= 1, "sync:progress emitted");
    assert.deepEqual(
      progress,
      [...progress].sort((x, y) => x - y),
    );
    assert.equal(peerOf(b, a.net.peerId)!.score, 0);
    await stop(b);
    await stop(a);
  });

  it("syncs from a peer that serves only /jbc/blocks/1, one request at a time", async () => {
    const a = await node();
    const blocks = buildChain(regtest, 1_200);
    await importBlocks(a.tc.chain, blocks);
    await a.net.libp2p.unhandle(BLOCKS_SKIP_PROTOCOL);
    const b = await node({ peers: [addr(a)] });
    await waitFor(() => b.tc.chain.height === 1_200, 20_000, "sync by /1");
    assert.equal(b.tc.chain.tip.hash, hashOf(blocks.at(-1)!));
    assert.equal(peerOf(b, a.net.peerId)!.score, 0);
    assert.equal(peerOf(a, b.net.peerId)!.score, 0);
    await Promise.all([stop(b), stop(a)]);
  });

  it("paces its own block requests under the peer's rate limit", async () => {
    // 300 blocks in batches of 50 is 6 requests against a bucket of 3 refilled at 10/s: the syncing node
    // must wait for tokens instead of being refused and penalised.
    const limits = { maxBlocksPerResponse: 50, blockRequestBurst: 3, blockRequestsPerSec: 10 };
    const a = await node({ limits });
    await importBlocks(a.tc.chain, buildChain(regtest, 300));
    const b = await node({ peers: [addr(a)], limits });
    await waitFor(() => b.tc.chain.height === 300, 10_000, "paced sync");
    assert.equal(peerOf(a, b.net.peerId)?.score, 0, "never over the limit");
    await Promise.all([stop(b), stop(a)]);
  });

  it("syncs from the sender of an orphan block", async () => {
    // Z holds blocks 1-2 and A syncs them from Z: blocks from the network are not republished, so B
    // (connected to A only, status already exchanged at height 0) never hears of them.
    const blocks = buildChain(regtest, 3);
    const z = await node();
    const a = await node();
    const b = await node({ peers: [addr(a)] });
    await waitFor(() => peerOf(b, a.net.peerId) !== undefined, 5_000, "B joins A");
    await importBlocks(z.tc.chain, blocks.slice(0, 2));
    await a.net.addPeer(addr(z));
    await waitFor(() => a.tc.chain.height === 2, 5_000, "A syncs from Z");
    assert.equal(b.tc.chain.height, 0);
    await waitForSubscriber(a);
    // Block 3 mined on A reaches B as an orphan; B must fetch 1-2 from A.
    await a.tc.chain.processBlock(blocks[2]!, encodeBlock(blocks[2]!));
    await waitFor(() => b.tc.chain.height === 3, 5_000, "B catches up after the orphan");
    assert.equal(peerOf(b, a.net.peerId)!.score, 0);
    await Promise.all([stop(b), stop(a), stop(z)]);
  });

  /**
   * A line X – B – C with no status rounds (30 min): X publishes block 2, then block 1, by raw gossip
   * (X's own chain stays at genesis, so nobody can fetch from it). B gets 2 as an orphan; C hears of
   * a block only if B forwards it or announces it.
   */
  async function orphanLine(limits: NodeOptions["limits"], gapMs: number) {
    const [b1, b2] = buildChain(regtest, 2);
    const x = await node({ limits });
    const c = await node({ limits });
    const b = await node({ peers: [addr(x), addr(c)], limits });
    await waitFor(() => b.net.getPeers().length === 2, 5_000, "B joins X and C");
    await waitForSubscriber(x);
    await waitForSubscriber(c);
    const publish = (blk: typeof b1): Promise<unknown> =>
      x.net.libp2p.services.pubsub.publish(x.net.topic, encodeBlock(blk!));
    await publish(b2);
    await waitFor(() => b.tc.chain.orphanCount === 1, 5_000, "block 2 held as an orphan on B");
    await new Promise((r) => setTimeout(r, gapMs));
    await publish(b1);
    await waitFor(() => b.tc.chain.height === 2, 5_000, "B connects 1 and then its orphan 2");
    return { b, c, x, tip: hashOf(b2!) };
  }

  it("forwards an orphan by gossip once its parent arrives", async () => {
    const limits = { statusIntervalMs: 1_800_000 };
    const { b, c, x, tip } = await orphanLine(limits, 300);
    // Before the fix B answered Ignore for the orphan at once: C got block 1 only and stayed there.
    await waitFor(() => c.tc.chain.tip.hash === tip, 3_000, "C gets block 2 from B by gossip");
    assert.equal(peerOf(c, b.net.peerId)!.score, 0);
    await Promise.all([stop(b), stop(c), stop(x)]);
  });

  it("announces an orphan that connects after gossipsub gave up on it", async () => {
    // Heartbeat 50 ms: the verdict waits 450 ms at most; the parent comes 1.5 s later.
    const limits = { statusIntervalMs: 1_800_000, gossipHeartbeatMs: 50 };
    const { b, c, x, tip } = await orphanLine(limits, 1_500);
    await waitFor(() => c.tc.chain.tip.hash === tip, 3_000, "C syncs block 2 from B after B's status");
    await Promise.all([stop(b), stop(c), stop(x)]);
  });

  it("forwards a gossiped block it already has from a sync", async () => {
    // B gets block 1 by syncing from Z, then by gossip from X: C (behind B only) must get it from B.
    const limits = { statusIntervalMs: 1_800_000 };
    const [b1] = buildChain(regtest, 1);
    const z = await node({ limits });
    await importBlocks(z.tc.chain, [b1!]);
    const x = await node({ limits });
    const c = await node({ limits });
    const b = await node({ peers: [addr(x), addr(c)], limits });
    await waitFor(() => b.net.getPeers().length === 2, 5_000, "B joins X and C");
    await waitForSubscriber(x);
    await waitForSubscriber(c);
    await b.net.addPeer(addr(z));
    await waitFor(() => b.tc.chain.height === 1, 5_000, "B syncs block 1 from Z");
    await x.net.libp2p.services.pubsub.publish(x.net.topic, encodeBlock(b1!));
    // Before, the duplicate was Ignore: C stayed at genesis until a status round.
    await waitFor(() => c.tc.chain.height === 1, 3_000, "C gets block 1 from B by gossip");
    await Promise.all([stop(b), stop(c), stop(x), stop(z)]);
  });

  it("disconnects a node on another network and does not redial it", async () => {
    const other = defineNetwork({ ...regtest, networkId: 0x1234 });
    const a = await node();
    const joined: string[] = [];
    a.net.on("peer:joined", (p) => joined.push(p.peerId));
    // X dials A in the background once started: wait for that connection to be made and then dropped.
    let dropped = false;
    a.net.libp2p.addEventListener("peer:disconnect", () => {
      dropped = true;
    });
    const x = await node({ peers: [addr(a)], limits: { redialBaseMs: 50 } }, other);
    await waitFor(
      () =>
        dropped && x.net.libp2p.getConnections().length === 0 && a.net.libp2p.getConnections().length === 0,
      10_000,
      "connect, then disconnect",
    );
    // Give a redial the time to happen, had it been scheduled.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(a.net.libp2p.getConnections().length, 0);
    assert.deepEqual(joined, []);
    assert.deepEqual(x.net.getPeers(), []);
    await assert.rejects(x.net.addPeer(addr(a)));
    // addPeer reports the mismatch to a caller that asks for such a peer.
    const y = await node({}, other);
    await assert.rejects(y.net.addPeer(addr(a)), /another network \(network id 0x6a626372/);
    assert.deepEqual(y.net.getPeers(), []);
    await Promise.all([stop(y), stop(x), stop(a)]);
  });

  it("rejects an invalid gossiped block, penalises and bans the sender, and keeps the ban across a restart", async () => {
    const r = await node();
    const s = await node({ peers: [addr(r)] });
    await waitForSubscriber(s);
    const tip = r.tc.chain.tip.hash;
    const publish = (bytes: Uint8Array): Promise<unknown> =>
      s.net.libp2p.services.pubsub.publish(s.net.topic, bytes);
    const base = {
      prevHash: r.tc.chain.tip.hashBytes,
      height: 1,
      bits: regtest.genesis.header.bits,
      miner: "evil",
    };

    // Too far in the future: not the sender's fault, ignored without penalty.
    const future = solve(buildBlock({ ...base, time: Math.floor(Date.now() / 1000) + 3_600 }));
    const invalid: string[] = [];
    r.tc.chain.on("invalid", (e) => invalid.push(e.code));
    await publish(encodeBlock(future));
    await waitFor(() => invalid.includes("TIME_TOO_NEW"), 5_000, "TIME_TOO_NEW verdict");
    assert.equal(peerOf(r, s.net.peerId)!.score, 0);

    // Proof of work above the target: penalty 100, so a ban.
    const banned: Array<{ peerId: string; until: number }> = [];
    r.net.on("peer:banned", (e) => banned.push(e));
    const high = solveHigh(buildBlock({ ...base, time: regtest.genesis.header.time + 1 }));
    await publish(encodeBlock(high));
    await waitFor(() => banned.length === 1, 5_000, "ban");
    assert.equal(banned[0]!.peerId, s.net.peerId);
    assert.ok(banned[0]!.until > Date.now() + 59 * 60 * 1000, "banned for about an hour");
    assert.deepEqual(invalid, ["TIME_TOO_NEW", "HIGH_HASH"]);
    assert.equal(r.tc.chain.tip.hash, tip, "the tip did not move");
    await waitFor(() => r.net.libp2p.getConnections().length === 0, 5_000, "banned peer disconnected");
    assert.ok(r.net.getBans().has(s.net.peerId));

    // Restart the receiver on the same store: the ban is loaded and the banned peer is refused.
    const dir = r.tc.dir;
    await stop(r, true);
    const r2 = await node({ dir });
    assert.ok(r2.net.getBans().has(s.net.peerId), "ban survived the restart");
    await assert.rejects(r2.net.addPeer(addr(s)), "the receiver does not dial a banned peer");
    // The banned peer's dial may complete its own side of the handshake before the receiver drops it.
    await s.net.addPeer(addr(r2)).catch(() => {});
    await new Promise((res) => setTimeout(res, 300));
    assert.deepEqual(r2.net.getPeers(), []);
    assert.equal(r2.net.libp2p.getConnections().length, 0, "the receiver refused the banned peer");
    await Promise.all([stop(s), stop(r2)]);
  });

  it("penalises a gossip message that is not a block", async () => {
    const r = await node();
    const s = await node({ peers: [addr(r)] });
    await waitForSubscriber(s);
    const banned: string[] = [];
    r.net.on("peer:banned", (e) => banned.push(e.peerId));
    await s.net.libp2p.services.pubsub.publish(s.net.topic, new TextEncoder().encode("not a block"));
    await waitFor(() => banned.length === 1, 5_000, "ban for a malformed block");
    assert.equal(banned[0], s.net.peerId);
    await Promise.all([stop(s), stop(r)]);
  });

  it("penalises malformed, oversized and too frequent block requests", async () => {
    // A token every 1,000 s: nothing refills the bucket while the test runs, however slow the machine.
    const r = await node({ limits: { blockRequestBurst: 2, blockRequestsPerSec: 0.001 } });
    const s1 = await node({ peers: [addr(r)] });
    // s2 must not redial by itself after the hang-up below: the test redials it when it has seen it leave.
    const s2 = await node({ peers: [addr(r)], limits: { redialBaseMs: 600_000 } });
    await waitFor(() => r.net.getPeers().length === 2, 5_000, "both peers joined");
    const rid = peerIdFromString(r.net.peerId);
    // Sends one raw frame (or raw bytes) on a new block-request stream and reads until it closes.
    const ask = async (from: TestNode, bytes: Uint8Array): Promise<void> => {
      try {
        const stream = await from.net.libp2p.dialProtocol(rid, BLOCKS_PROTOCOL);
        stream.send(bytes);
        await stream.close();
        for await (const _ of stream);
      } catch {
        // The server resets streams it refuses.
      }
    };
    const valid = encodeFrames([encodeBlocksRequest({ locator: [hexToHash(regtest.genesisHash)], max: 10 })]);
    const score = (n: TestNode): number => peerOf(r, n.net.peerId)?.score ?? -1;

    await ask(s1, encodeFrames([new Uint8Array([0, 1, 2])]));
    await waitFor(() => score(s1) === PROTOCOL_PENALTY.MALFORMED, 5_000, "MALFORMED penalty");
    const banned: string[] = [];
    r.net.on("peer:banned", (e) => banned.push(e.peerId));
    const oversized = new Uint8Array(8);
    new DataView(oversized.buffer).setUint32(0, 1_000_000, true);
    await ask(s1, oversized);
    await waitFor(() => banned.length === 1, 5_000, "ban after MALFORMED + OVERSIZED");
    assert.equal(banned[0], s1.net.peerId);

    await ask(s2, valid);
    await ask(s2, valid);
    assert.equal(score(s2), 0, "within the burst");
    await ask(s2, valid);
    await waitFor(() => score(s2) === PROTOCOL_PENALTY.RATE_LIMIT, 5_000, "RATE_LIMIT penalty");
    // Hanging up and dialling again does not refill the bucket.
    await s2.net.libp2p.hangUp(rid);
    await waitFor(() => peerOf(r, s2.net.peerId) === undefined, 5_000, "s2 left");
    await s2.net.addPeer(addr(r));
    await ask(s2, valid);
    await waitFor(
      () => score(s2) === 2 * PROTOCOL_PENALTY.RATE_LIMIT,
      5_000,
      "RATE_LIMIT again after redial",
    );
    await Promise.all([stop(s1), stop(s2), stop(r)]);
  });

  it("accepts peers as host:port and as a node's HTTP URL", async () => {
    const a = await node();
    const b = await node();
    const c = await node();
    // host:port: dialed without knowing the peer id.
    const port = Number(addr(a).split("/")[4]);
    await b.net.addPeer(`127.0.0.1:${port}`);
    await waitFor(() => peerOf(b, a.net.peerId) !== undefined, 5_000, "host:port peer");
    // HTTP URL: GET /api/p2p answers with the peer id and multiaddrs (as src/api serves it).
    const server: Server = createServer((req, res) => {
      if (req.url !== "/api/p2p") {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ peerId: a.net.peerId, multiaddrs: a.net.multiaddrs() }));
    });
    await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
    const http = `http://localhost:${(server.address() as AddressInfo).port}`;
    await c.net.addPeer(http);
    await waitFor(() => peerOf(c, a.net.peerId) !== undefined, 5_000, "HTTP URL peer");
    await assert.rejects(c.net.addPeer(`${http}/nowhere`), /HTTP 404/);
    server.close();
    await Promise.all([stop(c), stop(b), stop(a)]);
  });

  it("keeps dialing a configured peer that is down at start, and redials it when it drops", async () => {
    const port = await freePort();
    const limits = { redialBaseMs: 100, redialMaxMs: 400, redialAttempts: 1_000 };
    const b = await node({ peers: [`127.0.0.1:${port}`], limits });
    await new Promise((r) => setTimeout(r, 300));
    const a = await startNode(regtest, { port });
    running.add(a);
    await waitFor(() => peerOf(b, a.net.peerId) !== undefined, 5_000, "dial after the peer came up");
    const dir = a.tc.dir;
    await stop(a, true);
    await waitFor(() => b.net.getPeers().length === 0, 5_000, "peer left");
    const a2 = await startNode(regtest, { port, dir });
    running.add(a2);
    await waitFor(() => peerOf(b, a2.net.peerId) !== undefined, 5_000, "redial after the drop");
    await Promise.all([stop(b), stop(a2)]);
  });

  it("never gives up on an unreachable configured peer: past redialAttempts it retries every redialMaxMs", async () => {
    // A partition longer than the attempts (found by the lab: docs/lab.md) must still heal.
    const port = await freePort();
    const limits = { redialBaseMs: 20, redialMaxMs: 200, redialAttempts: 2 };
    const b = await node({ peers: [`127.0.0.1:${port}`], limits });
    await new Promise((r) => setTimeout(r, 800)); // well past 2 attempts
    const a = await startNode(regtest, { port });
    running.add(a);
    await waitFor(() => peerOf(b, a.net.peerId) !== undefined, 5_000, "dial after the attempts ran out");
    await Promise.all([stop(b), stop(a)]);
  });
});
