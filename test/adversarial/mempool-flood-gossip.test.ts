/**
 * Attack: one gossip peer floods the records topic (docs/security.md, "One source owning the mempool").
 * Before per-peer rates and shares, a peer could publish valid records as fast as it liked: every message
 * cost the victim a decode, an index lookup and (for signed records) a signature check, and the victim's
 * pool filled with the flooder's records, after which an honest peer's records were ignored
 * (MEMPOOL_FULL) and never reached the victim's miner. Here three real libp2p nodes (each on its own
 * LevelDB chain) run on loopback: the flooder publishes 3,000 records of 1 KB straight onto the topic,
 * while the honest peer's node submits 20. The victim judges no more of the flooder's messages than its
 * rate allows, takes every honest record, keeps the flooder to what is left of its pool, and penalises
 * nobody (records above the rate are ignored, not punished: an honest node relays as fast as its own
 * clients submit).
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { regtest } from "../../src/consensus/params.ts";
import { encodeRecord } from "../../src/consensus/records.ts";
import { Mempool, type MempoolEntry, type RecordSource } from "../../src/mempool/index.ts";
import type { NetworkLimits, PeerInfo } from "../../src/net/index.ts";
import { startNode, type TestNode, waitFor } from "../helpers/net.ts";

const running = new Set<TestNode>();
after(async () => {
  await Promise.all([...running].map((n) => n.stop()));
});

const POOL = 256 * 1024;
const RATE = 200;
const BURST_SEC = 2;
const limits: Partial<NetworkLimits> = {
  recordGossipPerSec: RATE,
  recordGossipBytesPerSec: 1024 * 1024,
  recordGossipBurstSec: BURST_SEC,
};

async function node(pool: Mempool, peers: string[] = []): Promise<TestNode> {
  const n = await startNode(regtest, { mempool: pool, peers, limits });
  running.add(n);
  return n;
}
const addr = (n: TestNode): string => n.net.multiaddrs()[0]!;
const peerOf = (n: TestNode, id: string): PeerInfo | undefined =>
  n.net.getPeers().find((p) => p.peerId === id);
/** A data record of 1,000 bytes' data, distinct per tag and index. */
const record = (tag: string, i: number): Uint8Array => {
  const data = new Uint8Array(1_000).fill(0x62);
  data.set(new TextEncoder().encode(`${tag}:${i}:`));
  return encodeRecord({ type: "data", data });
};

describe("attack: one gossip peer floods the records topic", () => {
  it("the victim judges the flooder at its rate, takes every honest record and penalises nobody", async (t) => {
    const pool = new Mempool({ params: regtest, isConfirmed: () => false, maxBytes: POOL });
    const victim = await node(pool);
    const flooder = await node(new Mempool({ params: regtest, isConfirmed: () => false }), [addr(victim)]);
    const honestPool = new Mempool({ params: regtest, isConfirmed: () => false });
    const honest = await node(honestPool, [addr(victim)]);
    for (const n of [flooder, honest])
      await waitFor(
        () => n.net.libp2p.services.pubsub.getSubscribers(n.net.recordsTopic).length >= 1,
        10_000,
        "records subscription",
      );
    const fromFlooder = (s: RecordSource): boolean => s.kind === "peer" && s.peer === flooder.net.peerId;
    let judged = 0;
    let first = 0;
    pool.on("added", (e: MempoolEntry) => {
      if (!fromFlooder(e.source)) return;
      judged++;
      first ||= performance.now();
    });
    pool.on("refused", (_code, _kind, source) => {
      if (source && fromFlooder(source)) judged++;
    });

    // 3,000 records (3 MB, twelve pools' worth) as fast as the flooder can publish them.
    const publish = (bytes: Uint8Array) =>
      flooder.net.libp2p.services.pubsub.publish(flooder.net.recordsTopic, bytes);
    const t0 = performance.now();
    for (let i = 0; i < 3_000; i++) await publish(record("flood", i));
    await waitFor(() => pool.bytes > POOL - 2_000, 20_000, "the flood filling the pool");
    // The honest node's clients submit 20 records while the flood is being judged.
    const honestIds: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await honestPool.admit(record("honest", i), { kind: "api", client: "10.0.0.7" });
      assert.ok(r.ok);
      honestIds.push(r.entry.id);
    }
    // 60 s: on a machine loaded ten times over, the victim works through the flood's queue first; the rate
    // below is judged against the time this really took.
    await waitFor(() => honestIds.every((id) => pool.has(id)), 60_000, "every honest record at the victim");
    const seconds = (performance.now() - Math.min(first || t0, t0)) / 1000;

    // The rate: a burst, then RATE a second (the slack: messages judged while this line runs).
    const allowed = RATE * BURST_SEC + RATE * seconds + 50;
    t.diagnostic(
      `flood messages judged: ${judged} in ${seconds.toFixed(1)} s (allowed ${allowed.toFixed(0)})`,
    );
    assert.ok(
      judged <= allowed,
      `${judged} flood messages judged in ${seconds.toFixed(1)} s (at most ${allowed})`,
    );
    // The share: the flooder keeps what the honest peer does not need, and the pool its bound.
    assert.ok(pool.bytes <= POOL);
    assert.ok(
      pool.held({ kind: "peer", peer: flooder.net.peerId }).bytes <= POOL - 20 * 1_003,
      "the flooder made room for the honest records",
    );
    // Nobody is punished for a rate: ignored, not rejected.
    assert.equal(peerOf(victim, flooder.net.peerId)?.score, 0);
    assert.equal(peerOf(victim, honest.net.peerId)?.score, 0);
    assert.equal(victim.net.getBans().size, 0);
  });
});
