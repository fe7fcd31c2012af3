/**
 * Attack: side-branch spam below the tip's work (docs/security.md, "Side-branch spam"). The chain stored
 * every side block whose context was valid, and gossip accepted and relayed blocks stored as side: on
 * devnet, 300 full 975 KB siblings from near genesis (at the proof-of-work limit from the fork's third
 * block) grew a victim's data directory by 283 MB, honest tip unchanged, and `POST /api/blocks` needs no
 * token. Now a block nobody asked for keeps its body only while its branch has a chance (more work than the
 * tip, or within one block of it), its header otherwise (bounded per source and per fork point), a source
 * past its share of held headers is charged, and gossip forwards only what is on the main chain
 * (docs/protocol.md, "Blocks nobody asked for"). Real nodes on loopback, real LevelDB; the attacker in a
 * process of its own (test/helpers/attacker.ts), so that the victim's heap is measured alone.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ApiClientError } from "../../src/api/client.ts";
import { encodeBlock } from "../../src/consensus/block.ts";
import { regtest } from "../../src/consensus/params.ts";
import type { ValidatingGossipSub } from "../../src/net/context.ts";
import { rawBlockHash } from "../../src/net/protocols.ts";
import { type AttackPlan, attackBlocks, honestChain, startAttacker } from "../helpers/attacker.ts";
import { blockHash } from "../helpers/blocks.ts";
import { tempDir } from "../helpers/chain.ts";
import { dirBytes, liveHeap, MB } from "../helpers/measure.ts";
import { importBlocks, startNode, type TestNode, waitFor } from "../helpers/net.ts";
import { killAll, spawnNode } from "../helpers/spawn.ts";

const HONEST = 10;
const honest = honestChain(HONEST + 1);
const running = new Set<TestNode>();
const stops: Array<() => void> = [];
const tmp = tempDir("jbc-side-spam-");

after(async () => {
  for (const stop of stops) stop();
  await Promise.all([...running].map((n) => n.stop()));
  await killAll();
  rmSync(tmp, { recursive: true, force: true });
});

/** A node holding the honest chain up to HONEST. */
async function node(): Promise<TestNode> {
  const n = await startNode(regtest);
  running.add(n);
  await importBlocks(n.tc.chain, honest.slice(1, HONEST + 1));
  return n;
}
const addr = (n: TestNode): string => n.net.multiaddrs()[0]!;

describe("attack: side-branch spam below the tip's work", () => {
  it("over gossip: full siblings near genesis cost the victim headers only; none relayed; the spammer is banned", async () => {
    const victim = await node();
    const observer = await node();
    await observer.net.addPeer(addr(victim));
    const pubsub = victim.net.libp2p.services.pubsub as ValidatingGossipSub;
    await waitFor(
      () => pubsub.getMeshPeers(victim.net.topic).includes(observer.net.peerId),
      10_000,
      "the observer in the victim's mesh",
    );
    const relayed = new Set<string>();
    observer.net.libp2p.services.pubsub.addEventListener("gossipsub:message", (e) => {
      relayed.add(rawBlockHash(e.detail.msg.data));
    });
    const banned: string[] = [];
    victim.net.on("peer:banned", (e) => banned.push(e.peerId));
    let judged = 0;
    victim.tc.chain.on("processed", () => judged++);

    // 40 full siblings of block 2 (975 KB each: 39 MB), then 160 small ones; a control block first. Paced,
    // so most are judged; a loaded victim is slower than the pace, and what meets the queue's bound per
    // source is ignored, not charged: 160 leaves room for that before the 74th judged block bans.
    const plan: AttackPlan = {
      kind: "siblings",
      count: 40,
      small: 160,
      honest: HONEST,
      control: true,
      paceMs: 20,
    };
    const attacker = await startAttacker(addr(victim), plan);
    stops.push(() => attacker.stop());
    const disk0 = dirBytes(victim.tc.dir);
    const heap0 = liveHeap();
    await attacker.publish();
    await waitFor(
      () => banned.includes(attacker.peerId) || judged >= attacker.hashes.length,
      120_000,
      "the victim to judge the spam",
    );
    await new Promise((r) => setTimeout(r, 500)); // messages in flight when the ban fell
    const diskGrowth = dirBytes(victim.tc.dir) - disk0;
    const heapGrowth = liveHeap() - heap0;

    const [control, ...spam] = attacker.hashes;
    assert.equal(control, blockHash(honest[HONEST + 1]!));
    assert.equal(victim.tc.chain.tip.hash, control, "the victim took the honest block");
    await waitFor(() => relayed.has(control!), 10_000, "the control block relayed to the observer");
    assert.ok(diskGrowth <= 10 * MB, `disk grew ${(diskGrowth / MB).toFixed(1)} MB`);
    assert.ok(heapGrowth <= 32 * MB, `heap grew ${(heapGrowth / MB).toFixed(1)} MB`);
    const leaked = spam.filter((h) => relayed.has(h));
    assert.deepEqual(leaked, [], "no side block is relayed");
    for (const h of spam) assert.equal(await victim.tc.chain.getRawBlock(h), undefined);
    // Past its share of held headers, each block costs the spammer 10 points: banned; the honest peer is not.
    assert.ok(banned.includes(attacker.peerId), "the spammer is banned");
    assert.ok(!banned.includes(observer.net.peerId));
    const observerSeen = victim.net.getPeers().find((p) => p.peerId === observer.net.peerId);
    assert.equal(observerSeen?.score, 0);
  });

  it("over HTTP: full siblings posted to a jbc node are answered, and not stored", async () => {
    const datadir = join(tmp, "http");
    const victim = await spawnNode({ name: "victim", datadir, args: ["--no-p2p"] });
    for (const b of honest.slice(1, HONEST + 1)) await victim.api.submitBlock(encodeBlock(b));
    const chainDir = join(datadir, "chain");
    const disk0 = dirBytes(chainDir);
    const raws = attackBlocks({ kind: "siblings", count: 20, honest: HONEST });
    for (const raw of raws) {
      const r = await victim.api.submitBlock(raw);
      assert.equal(r.status, "side");
    }
    const growth = dirBytes(chainDir) - disk0;
    assert.ok(
      growth <= 10 * MB,
      `disk grew ${(growth / MB).toFixed(1)} MB for ${raws.length} posted siblings`,
    );
    await assert.rejects(victim.api.block(rawBlockHash(raws[0]!)), (err: unknown) => {
      return err instanceof ApiClientError && err.status === 404;
    });
    assert.equal((await victim.api.status()).tip.height, HONEST);
    await victim.stop();
  });
});
