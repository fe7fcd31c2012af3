/**
 * Attack: a forged body for a real header (docs/security.md, "Forged block body"). A miner grinds its
 * extra-nonce until its block's root has a left child starting `01 3e`; then `left ‖ right` decodes as a
 * 62-byte data record, and a one-record body of it hashes to the real root. Before the 64-byte rule the
 * victim refused that body as BAD_MINER_RECORD, a cacheable code: it then refused the real block and its
 * child (INVALID_PARENT), stayed behind, and banned every honest peer that relayed them. Here the real block
 * and its child still connect, over HTTP and over P2P, and only the forger is penalised.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ApiClientError } from "../../src/api/client.ts";
import { encodeBlock } from "../../src/consensus/block.ts";
import { headerHash } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import type { PeerInfo } from "../../src/net/index.ts";
import { makeChain, makeChild } from "../helpers/blocks.ts";
import { tempDir } from "../helpers/chain.ts";
import { grindInnerNodeBlock, utf8 } from "../helpers/forgery.ts";
import { importBlocks, startNode, type TestNode, waitFor, waitForSubscriber } from "../helpers/net.ts";
import { killAll, spawnNode } from "../helpers/spawn.ts";

const tmp = tempDir("jbc-forged-body-");
const base = makeChain(regtest, 2);
const { real, forged } = grindInnerNodeBlock(regtest, base[2]!, 3, {
  type: "data",
  data: utf8.encode("a record the network confirmed"),
});
const child = makeChild(real, regtest, { miner: "honest" });
const running = new Set<TestNode>();

after(async () => {
  await Promise.all([...running].map((n) => n.stop()));
  await killAll();
  rmSync(tmp, { recursive: true, force: true });
});

async function node(peers: string[] = []): Promise<TestNode> {
  const n = await startNode(regtest, { peers });
  running.add(n);
  return n;
}
const addr = (n: TestNode): string => n.net.multiaddrs()[0]!;
const peerOf = (n: TestNode, id: string): PeerInfo | undefined =>
  n.net.getPeers().find((p) => p.peerId === id);

describe("attack: forged body for a real header", () => {
  it("the forged body really hashes to the real block's header", () => {
    assert.equal(headerHash(forged.header), headerHash(real.header));
    assert.equal(encodeBlock(forged).length, 80 + 1 + 64);
  });

  it("over HTTP: refused as RECORD_64_BYTES, not remembered; the real block and its child then connect", async () => {
    const victim = await spawnNode({ name: "victim", datadir: join(tmp, "http"), args: ["--no-p2p"] });
    for (const b of base.slice(1)) await victim.api.submitBlock(encodeBlock(b));
    await assert.rejects(victim.api.submitBlock(encodeBlock(forged)), (err: unknown) => {
      return err instanceof ApiClientError && err.code === "RECORD_64_BYTES";
    });
    // Sent twice, still the same answer: nothing cached the hash as invalid.
    await assert.rejects(victim.api.submitBlock(encodeBlock(forged)), /RECORD_64_BYTES|64 bytes/);
    assert.equal((await victim.api.submitBlock(encodeBlock(real))).status, "main");
    assert.equal((await victim.api.submitBlock(encodeBlock(child))).status, "main");
    const s = await victim.api.status();
    assert.equal(s.tip.hash, headerHash(child.header));
    assert.equal(s.tip.height, 4);
    await victim.stop();
  });

  it("over P2P: the victim follows the honest peer onto the real block and its child, and penalises only the forger", async () => {
    const victim = await node();
    const honest = await node();
    const forger = await node();
    for (const n of [victim, honest, forger]) await importBlocks(n.tc.chain, base.slice(1));
    await honest.net.addPeer(addr(victim));
    await forger.net.addPeer(addr(victim));
    await waitForSubscriber(forger);
    await waitForSubscriber(honest);
    const invalid: string[] = [];
    victim.tc.chain.on("invalid", (e) => invalid.push(e.code));
    const banned: string[] = [];
    victim.net.on("peer:banned", (e) => banned.push(e.peerId));

    // The forger gets its body in first.
    await forger.net.libp2p.services.pubsub.publish(forger.net.topic, encodeBlock(forged));
    await waitFor(() => invalid.includes("RECORD_64_BYTES"), 10_000, "the forged body's verdict");
    // Then the honest node connects the real block and its child, and gossips them.
    await importBlocks(honest.tc.chain, [real, child]);
    await waitFor(
      () => victim.tc.chain.tip.hash === headerHash(child.header),
      15_000,
      "the victim on the real chain",
    );
    assert.equal(victim.tc.chain.tip.height, 4);
    assert.ok(!invalid.includes("INVALID_PARENT"), `verdicts: ${invalid.join(", ")}`);
    assert.ok(!invalid.includes("BAD_MINER_RECORD"), `verdicts: ${invalid.join(", ")}`);
    // Only the forger pays.
    await waitFor(() => banned.includes(forger.net.peerId), 10_000, "the forger banned");
    assert.ok(!banned.includes(honest.net.peerId));
    assert.equal(peerOf(victim, honest.net.peerId)?.score, 0, "the honest peer's score is untouched");
    assert.ok(!victim.net.getBans().has(honest.net.peerId));
  });
});
