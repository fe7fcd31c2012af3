/**
 * Attack: a maximum-size block of signed records stalls the node (docs/security.md, "A maximum-size block
 * holds the event loop"). `POST /api/blocks` needs no token; a block of 4,095 signed records under fresh
 * keys is the costliest block consensus accepts (about 1.1 s of signature checks on a quiet machine, more
 * under load, besides its merkle tree, record ids and store batch). Before the chain's checks ran in time
 * slices, processBlock did all of it in one synchronous stretch, and `/api/health` waited that long: its
 * longest wait was most of the POST's time. Here a `jbc node` process on real LevelDB takes such a block
 * while a prober times `/api/health`: the block becomes the tip and the longest health wait is a small part
 * of the POST's time (a ratio, so that a loaded machine, which slows both, passes as a quiet one does).
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { encodeBlock } from "../../src/consensus/block.ts";
import { headerHash } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import { makeChild } from "../helpers/blocks.ts";
import { tempDir } from "../helpers/chain.ts";
import { HEALTH_P99_BOUND_MS, percentile, probeHealth, signedRecords } from "../helpers/dos.ts";
import { killAll, type NodeProcess, spawnNode } from "../helpers/spawn.ts";

const tmp = tempDir("jbc-max-block-stall-");
let node: NodeProcess;

before(async () => {
  node = await spawnNode({ name: "victim", datadir: tmp, args: ["--no-p2p"], startTimeoutMs: 120_000 });
});

after(async () => {
  await node?.stop();
  await killAll();
  rmSync(tmp, { recursive: true, force: true });
});

describe("attack: a maximum-size block of signed records posted to the node", () => {
  it("becomes the tip while /api/health keeps answering: its longest wait is under a third of the POST's time", async (t) => {
    // A small block first: the route, the decoder and the chain's code paths are warm.
    const warm = makeChild(regtest.genesis, regtest, { miner: "warm" });
    assert.equal((await node.api.submitBlock(encodeBlock(warm))).status, "main");
    const block = makeChild(warm, regtest, { miner: "attacker", records: signedRecords(4_095, 0) });
    const raw = encodeBlock(block);
    assert.ok(raw.length > 900_000 && raw.length <= regtest.maxBlockSize, `${raw.length} bytes`);

    const probe = probeHealth(node.url, 10);
    await new Promise((r) => setTimeout(r, 200)); // the prober's connections open before the block comes
    const t0 = performance.now();
    const res = await fetch(`${node.url}/api/blocks`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: raw,
      signal: AbortSignal.timeout(120_000),
    });
    const answer = (await res.json()) as { status?: string; error?: { code: string } };
    const postMs = performance.now() - t0;
    const health = await probe.stop();

    assert.equal(res.status, 200, JSON.stringify(answer));
    assert.equal(answer.status, "main");
    assert.equal((await node.api.status()).tip.hash, headerHash(block.header));
    const longest = Math.max(...health);
    const p99 = percentile(health, 99);
    const figures = `POST ${Math.round(postMs)} ms, health max ${Math.round(longest)} ms, p99 ${Math.round(p99)} ms, ${health.length} probes`;
    t.diagnostic(figures);
    // Before the slices, the longest wait was the checks' whole stretch: most of the POST (about 0.9 of it).
    assert.ok(longest < postMs / 3, figures);
    assert.ok(p99 <= HEALTH_P99_BOUND_MS, figures);
  });
});
