/**
 * Attack: an outsider joins a team's closed network (docs/security.md, Peers). Real libp2p nodes over TCP
 * on loopback: two team nodes share the network key; the outsider (no key) holds a longer chain, dials both,
 * is dialed, and publishes its blocks on the team's gossip topic. It never connects, its gossip reaches no
 * one, and the team's chain and peer tables are untouched.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { encodeBlock } from "../../src/consensus/block.ts";
import { regtest } from "../../src/consensus/params.ts";
import { NetworkKey } from "../../src/net/index.ts";
import {
  buildChain,
  importBlocks,
  startNode,
  type TestNode,
  waitFor,
  waitForSubscriber,
} from "../helpers/net.ts";

const running: TestNode[] = [];
after(async () => {
  await Promise.all(running.map((n) => n.stop()));
});

describe("attack: an outsider without the network key", () => {
  it("cannot connect to a closed network or gossip to it", async () => {
    const key = new NetworkKey(crypto.getRandomValues(new Uint8Array(32)), "team.key");
    const a = await startNode(regtest, { networkKey: key });
    running.push(a);
    const b = await startNode(regtest, { networkKey: key, peers: [a.net.multiaddrs()[0]!] });
    running.push(b);
    await waitFor(() => a.net.getPeers().length === 1, 10_000, "the team to connect");
    await waitForSubscriber(a);
    await importBlocks(a.tc.chain, buildChain(regtest, 2));
    await waitFor(() => b.tc.chain.tip.height === 2, 10_000, "b to get the team's blocks");

    const outsider = await startNode(regtest, { peers: [a.net.multiaddrs()[0]!, b.net.multiaddrs()[0]!] });
    running.push(outsider);
    const longer = buildChain(regtest, 5, regtest.genesis, { miner: "outsider" });
    await importBlocks(outsider.tc.chain, longer);
    await assert.rejects(outsider.net.addPeer(a.net.multiaddrs()[0]!));
    await assert.rejects(a.net.addPeer(outsider.net.multiaddrs()[0]!));
    const received: string[] = [];
    for (const n of [a, b]) n.net.on("block:received", (e) => received.push(e.hash));
    const pubsub = outsider.net.libp2p.services.pubsub;
    for (const block of longer) {
      const r = await pubsub.publish(outsider.net.topic, encodeBlock(block));
      assert.equal(r.recipients.length, 0, "no one hears the outsider's gossip");
    }
    await sleep(1_500);
    assert.deepEqual(received, []);
    for (const n of [a, b]) {
      assert.deepEqual(
        n.net.getPeers().map((p) => p.peerId),
        [n === a ? b.net.peerId : a.net.peerId],
        "each team node has only its teammate",
      );
      assert.equal(n.tc.chain.tip.height, 2, "the team's chain is untouched");
    }
    assert.equal(outsider.net.getPeers().length, 0);
  });
});
