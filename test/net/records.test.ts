/**
 * Record gossip between real libp2p nodes on 127.0.0.1, each with its own chain (LevelDB) and a real
 * Mempool: records admitted over the API at one node reach the others' pools by gossip, through their
 * mempool.admit; a peer gossiping bad signatures, miner records or garbage is penalised and banned.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { regtest } from "../../src/consensus/params.ts";
import { encodeRecord, signRecord } from "../../src/consensus/records.ts";
import { buildBlock } from "../../src/consensus/template.ts";
import { Mempool } from "../../src/mempool/index.ts";
import { type PeerInfo, PROTOCOL_PENALTY, recordsTopic } from "../../src/net/index.ts";
import { startNode, type TestNode, waitFor } from "../helpers/net.ts";

const running = new Set<TestNode>();
after(async () => {
  await Promise.all([...running].map((n) => n.stop()));
});

async function node(peers: string[] = []): Promise<{ n: TestNode; pool: Mempool }> {
  // Nothing is confirmed on these chains (they stay at genesis), so the index answer is "no".
  const pool = new Mempool({ params: regtest, isConfirmed: () => false });
  const n = await startNode(regtest, { peers, mempool: pool });
  running.add(n);
  return { n, pool };
}

const addr = (n: TestNode): string => n.net.multiaddrs()[0]!;
const peerOf = (n: TestNode, id: string): PeerInfo | undefined =>
  n.net.getPeers().find((p) => p.peerId === id);
const utf8 = new TextEncoder();

/** Waits until `n` has gossipsub peers on the records topic (a publish then reaches them). */
async function subscribed(n: TestNode, count: number): Promise<void> {
  await waitFor(
    () => n.net.libp2p.services.pubsub.getSubscribers(n.net.recordsTopic).length >= count,
    5_000,
    "records topic subscription",
  );
}

describe("record gossip", () => {
  it("spreads a record admitted over the API at one node to every node's mempool, in a line A - B - C", async () => {
    const a = await node();
    const b = await node([addr(a.n)]);
    const c = await node([addr(b.n)]);
    assert.equal(a.n.net.recordsTopic, recordsTopic(regtest));
    assert.match(a.n.net.recordsTopic, /^\/jbc\/regtest\/[0-9a-f]{16}\/records\/1$/);
    await subscribed(a.n, 1);
    await subscribed(c.n, 1);
    const signed = signRecord(utf8.encode("signed by one"), new Uint8Array(32).fill(7));
    const r1 = await a.pool.admit(encodeRecord({ type: "data", data: utf8.encode("from A") }), {
      kind: "api",
    });
    const r2 = await a.pool.admit(signed, { kind: "api" });
    assert.ok(r1.ok && r2.ok);
    await waitFor(() => c.pool.has(r1.entry.id) && c.pool.has(r2.entry.id), 10_000, "records at C");
    assert.ok(b.pool.has(r1.entry.id), "relayed through B");
    const atC = c.pool.get(r1.entry.id)!;
    assert.deepEqual(atC.source, { kind: "peer", peer: b.n.net.peerId });
    // Records that came from a peer are not published again by the node that admitted them (gossipsub
    // relays them), and the whole exchange costs nobody any score.
    assert.equal(peerOf(b.n, a.n.net.peerId)?.score, 0);
    assert.equal(peerOf(c.n, b.n.net.peerId)?.score, 0);
    // Admitted elsewhere, not over the API: a record loaded from disk is not published.
    const disk = await b.pool.admit(encodeRecord({ type: "data", data: utf8.encode("from disk") }), {
      kind: "disk",
    });
    assert.ok(disk.ok);
    const probe = await b.pool.admit(encodeRecord({ type: "data", data: utf8.encode("probe") }), {
      kind: "api",
    });
    assert.ok(probe.ok);
    await waitFor(() => a.pool.has(probe.entry.id), 10_000, "probe at A");
    assert.equal(a.pool.has(disk.entry.id), false, "a record loaded from disk is not gossiped");
  });

  it("penalises and bans a peer that gossips bad signatures, as one sending bad blocks", async () => {
    const r = await node();
    const s = await node([addr(r.n)]);
    await subscribed(s.n, 1);
    const publish = (bytes: Uint8Array): Promise<unknown> =>
      s.n.net.libp2p.services.pubsub.publish(s.n.net.recordsTopic, bytes);
    // A good record first: accepted, no penalty.
    const good = encodeRecord({ type: "data", data: utf8.encode("good") });
    await publish(good);
    await waitFor(() => r.pool.size === 1, 5_000, "good record admitted");
    assert.equal(peerOf(r.n, s.n.net.peerId)?.score, 0);
    const banned: string[] = [];
    r.n.net.on("peer:banned", (e) => banned.push(e.peerId));
    const judged: Array<{ verdict?: string; code?: string }> = [];
    r.n.net.on("gossip", (e) => {
      if (e.topic === "records" && e.direction === "in") judged.push(e);
    });
    const forged = signRecord(utf8.encode("forged"), new Uint8Array(32).fill(9));
    forged.signature = forged.signature.slice();
    forged.signature[0]! ^= 1;
    await publish(encodeRecord(forged));
    await waitFor(() => banned.length === 1, 5_000, "ban for a bad signature");
    assert.equal(banned[0], s.n.net.peerId);
    assert.equal(r.pool.size, 1, "the forged record was not admitted");
    assert.deepEqual(judged, [
      { topic: "records", direction: "in", verdict: "reject", code: "BAD_SIGNATURE" },
    ]);
    await waitFor(() => r.n.net.libp2p.getConnections().length === 0, 5_000, "banned peer disconnected");
    assert.ok(r.n.net.getBans().has(s.n.net.peerId), "the ban is recorded");
  });

  it("prices garbage and oversized messages on the records topic", async () => {
    const r = await node();
    const s = await node([addr(r.n)]);
    await subscribed(s.n, 1);
    const publish = (bytes: Uint8Array): Promise<unknown> =>
      s.n.net.libp2p.services.pubsub.publish(s.n.net.recordsTopic, bytes);
    const score = (): number => peerOf(r.n, s.n.net.peerId)?.score ?? -1;
    await publish(new Uint8Array(regtest.maxRecordSize + 1).fill(1));
    await waitFor(() => score() === PROTOCOL_PENALTY.OVERSIZED, 5_000, "OVERSIZED penalty");
    const banned: string[] = [];
    r.n.net.on("peer:banned", (e) => banned.push(e.peerId));
    await publish(utf8.encode("\xff not a record"));
    await waitFor(() => banned.length === 1, 5_000, "ban for a malformed record");
    assert.equal(r.pool.size, 0);
  });

  it("announces a record a reorg returned, which a peer that never had it then admits", async () => {
    // The partition in the lab (docs/lab.md "partition"): A confirmed a record on the losing side, the
    // winning side (B) never had it. A saw it moments ago (published over its API with no peer to
    // reach), which is what kept gossipsub from publishing it again when ids were record ids.
    const a = await node();
    const rec = { type: "data", data: utf8.encode("confirmed on the losing side") } as const;
    const admitted = await a.pool.admit(rec, { kind: "api" });
    assert.ok(admitted.ok);
    a.pool.removeForBlock([admitted.entry.id]);
    const b = await node([addr(a.n)]);
    await subscribed(a.n, 1);
    await subscribed(b.n, 1);
    const lost = buildBlock({
      prevHash: new Uint8Array(32),
      height: 1,
      bits: 0x207fffff,
      time: 0,
      miner: "a",
      records: [rec],
    });
    assert.deepEqual(a.pool.reorg({ disconnected: [lost], connected: [] }), [admitted.entry.id]);
    await waitFor(() => b.pool.has(admitted.entry.id), 5_000, "the returned record at B");
    assert.deepEqual(b.pool.get(admitted.entry.id)!.source, { kind: "peer", peer: a.n.net.peerId });
    // A repeat (B announcing the record A has pending) is dropped by A's pool, at no cost to B.
    await b.n.net.libp2p.services.pubsub.publish(b.n.net.recordsTopic, encodeRecord(rec));
    const probe = await b.pool.admit(encodeRecord({ type: "data", data: utf8.encode("probe") }), {
      kind: "api",
    });
    assert.ok(probe.ok);
    await waitFor(() => a.pool.has(probe.entry.id), 5_000, "probe at A");
    assert.equal(a.pool.size, 2);
    assert.equal(peerOf(a.n, b.n.net.peerId)?.score, 0);
  });

  it("announces a record submitted while no peer was there once a peer joins the records mesh", async () => {
    // Bitcoin Core's unbroadcast set: a publish that reached nobody is tried again, here when a peer
    // joins the records mesh, so a record submitted to a node that has no peers yet still spreads.
    const a = await node();
    const lonely = await a.pool.admit(encodeRecord({ type: "data", data: utf8.encode("no one to tell") }), {
      kind: "api",
    });
    assert.ok(lonely.ok);
    const gone = await a.pool.admit(encodeRecord({ type: "data", data: utf8.encode("mined meanwhile") }), {
      kind: "api",
    });
    assert.ok(gone.ok);
    await waitFor(() => a.n.net.unbroadcastRecords === 2, 5_000, "both kept for later");
    a.pool.removeForBlock([gone.entry.id]); // confirmed before any peer came: nothing to announce
    const b = await node([addr(a.n)]);
    await waitFor(() => b.pool.has(lonely.entry.id), 10_000, "the record at the peer that joined later");
    assert.deepEqual(b.pool.get(lonely.entry.id)!.source, { kind: "peer", peer: a.n.net.peerId });
    assert.equal(b.pool.has(gone.entry.id), false, "a record no longer pending is not announced");
    await waitFor(() => a.n.net.unbroadcastRecords === 0, 5_000, "the set is empty once announced");
  });
});
