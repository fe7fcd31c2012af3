import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { StreamEvent } from "../../src/api/client.ts";
import { Chain } from "../../src/chain/chain.ts";
import { encodeBlock } from "../../src/consensus/block.ts";
import { regtest } from "../../src/consensus/params.ts";
import { chainDir } from "../../src/node/paths.ts";
import { LevelStore } from "../../src/store/level.ts";
import { blockHash, makeChain } from "../helpers/blocks.ts";
import { tempDir } from "../helpers/chain.ts";
import { converged, killAll, type NodeProcess, spawnNode } from "../helpers/spawn.ts";
import { waitFor } from "../helpers/wait.ts";

/**
 * Whole nodes as separate processes started through the CLI (`jbc node`, regtest, one mining thread),
 * talking P2P on 127.0.0.1 and driven through their HTTP API.
 *
 * Regtest needs about two hashes a block, so the clock is what limits mining: a block's time must beat the
 * median of the last 11 and stay within 15 s of now, which allows a burst of about a hundred blocks, then
 * about six a second. Nodes that all mine at that cap hold equal-work chains, and equal work keeps the
 * block seen first, so tests that need one chain to win give one node the lead on purpose.
 */

const tmp = tempDir("jbc-e2e-");

after(async () => {
  await killAll();
  rmSync(tmp, { recursive: true, force: true });
});

async function height(n: NodeProcess): Promise<number> {
  return (await n.api.status()).tip.height;
}

/** Mines on `n` alone until it is `lead` blocks above the highest of `others` at the start, then stops. */
async function mineLead(n: NodeProcess, others: NodeProcess[], lead: number): Promise<void> {
  const top = Math.max(...(await Promise.all([n, ...others].map(height))));
  await n.api.startMining();
  try {
    await waitFor(async () => (await height(n)) >= top + lead, {
      timeoutMs: 30_000,
      what: `${n.name} to lead by ${lead}`,
    });
  } finally {
    await n.api.stopMining();
  }
}

describe("nodes as processes", { timeout: 150_000 }, () => {
  const nodes: NodeProcess[] = [];

  test("three mining nodes converge on one tip, and each has blocks on the main chain", async () => {
    const a = await spawnNode({ name: "a", datadir: join(tmp, "a"), mine: true });
    const b = await spawnNode({ name: "b", datadir: join(tmp, "b"), mine: true, peers: [a.url] });
    const c = await spawnNode({ name: "c", datadir: join(tmp, "c"), mine: true, peers: [a.url, b.url] });
    nodes.push(a, b, c);
    await waitFor(
      async () => (await Promise.all(nodes.map((n) => n.api.status()))).every((s) => s.peers >= 2),
      {
        what: "a full mesh",
      },
    );
    // All three mine at once for a while: forks, reorgs and gossip under load.
    await waitFor(
      async () =>
        (await Promise.all(nodes.map((n) => n.api.status()))).every(
          (s) => s.tip.height >= 40 && s.mining.blocksFound >= 3,
        ),
      { timeoutMs: 30_000, what: "every node past height 40 with blocks of its own" },
    );
    for (const n of nodes) {
      const m = (await n.api.stopMining()).mining;
      assert.equal(m.running, false);
      assert.ok(m.blocksFound > 0, `${n.name} found blocks`);
    }
    // Each node in turn takes the lead; the others follow it before the next one starts.
    for (const n of nodes) {
      await mineLead(
        n,
        nodes.filter((x) => x !== n),
        2,
      );
      await converged(nodes);
    }
    const tip = await converged(nodes);
    const chainJson = await a.api.call("legacyChain");
    assert.equal(chainJson.length, tip.height + 1);
    assert.equal(chainJson[tip.height]!.hash, tip.hash);
    const won = new Map<string, number>();
    for (const blk of chainJson) won.set(blk.miner ?? "", (won.get(blk.miner ?? "") ?? 0) + 1);
    for (const n of nodes)
      assert.ok((won.get(n.name) ?? 0) > 0, `${n.name} won blocks: ${JSON.stringify([...won])}`);
    // The others' copies of the chain are the same blocks.
    for (const n of [b, c]) assert.deepEqual((await n.api.block(tip.height)).hash, tip.hash);
  });

  test("a node cut off mines its own branch, then reorgs to the heavier chain when it reconnects", async () => {
    const [a, b, c] = nodes as [NodeProcess, NodeProcess, NodeProcess];
    // Partition: restart c without peers; a and b never dialed it, so it is alone.
    assert.equal(await c.stop(), 0);
    const cut = await spawnNode({ name: "c", datadir: c.datadir });
    nodes[2] = cut;
    assert.equal((await cut.api.status()).peers, 0);
    const base = await height(cut);
    await cut.api.startMining();
    await waitFor(async () => (await height(cut)) >= base + 5, { what: "c's own branch" });
    await cut.api.stopMining();
    const cutTip = (await cut.api.status()).tip;
    // Meanwhile the majority mines more work.
    await mineLead(a, [cut], 5);
    const majority = await converged([a, b]);
    assert.ok(majority.height > cutTip.height);

    const events: StreamEvent[] = [];
    const ac = new AbortController();
    const stream = cut.api.events((e) => events.push(e), ac.signal);
    await waitFor(() => events.some((e) => e.event === "hello"), { what: "c's event stream" });
    await cut.api.addPeer(a.url);
    const tip = await converged([a, b, cut]);
    assert.equal(tip.hash, majority.hash);
    const reorg = await waitFor(() => events.find((e) => e.event === "reorg"), { what: "c's reorg event" });
    const r = reorg.data as { depth: number; left: string[]; joined: string[] };
    assert.ok(r.depth >= 5, `reorg depth ${r.depth}`);
    assert.ok(r.left.includes(cutTip.hash), "c's old tip left the main chain");
    // c's blocks are still known, as a side branch.
    const old = await cut.api.block(cutTip.hash);
    assert.equal(old.branch, "side");
    ac.abort();
    await stream;
  });

  test("a node started after 1,000 blocks exist syncs them, and catches up after a restart", async () => {
    // Build 1,000 blocks straight into d's store before d starts.
    const blocks = makeChain(regtest, 1000, { spacing: 1, miner: "history" });
    const dDir = join(tmp, "d");
    const store = await LevelStore.open(chainDir(dDir), regtest);
    const chain = await Chain.open({ params: regtest, store });
    for (let i = 1; i < blocks.length; i++) await chain.processBlock(blocks[i]!);
    assert.equal(chain.height, 1000);
    await chain.close();
    await store.close();

    const d = await spawnNode({ name: "d", datadir: dDir });
    const e = await spawnNode({ name: "e", datadir: join(tmp, "e"), peers: [d.url] });
    nodes.push(d, e);
    const t0 = Date.now();
    const tip = await converged([d, e], 60_000);
    assert.equal(tip.height, 1000);
    assert.equal(tip.hash, blockHash(blocks[1000]!));
    const syncMs = Date.now() - t0;
    assert.ok(syncMs < 60_000, `synced in ${syncMs} ms`);

    // e stops; d gets 100 more blocks; e restarts on its data directory and catches up.
    const { peerId } = await e.api.p2p();
    assert.equal(await e.stop(), 0);
    const more = makeChain(regtest, 100, { from: blocks[1000]!, spacing: 1, miner: "later" });
    for (let i = 1; i < more.length; i++) {
      const r = await d.api.submitBlock(encodeBlock(more[i]!));
      assert.equal(r.status, "main");
    }
    const e2 = await spawnNode({ name: "e", datadir: e.datadir, peers: [d.url] });
    nodes[nodes.indexOf(e)] = e2;
    assert.ok((await height(e2)) >= 1000, "e kept its chain across the restart");
    assert.equal((await e2.api.p2p()).peerId, peerId, "e kept its libp2p identity across the restart");
    const tip2 = await converged([d, e2], 60_000);
    assert.equal(tip2.height, 1100);
    assert.equal(tip2.hash, blockHash(more[100]!));
  });
});
