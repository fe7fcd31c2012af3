/**
 * Attack: a flood of maximum-size block submissions (docs/security.md). `POST /api/blocks` needs no token,
 * and a 1 MB body of 199,980 records costs the sender nothing to make (a header that misses its target is
 * found in two tries; the merkle root need not be right, proof of work is checked first) but costs the
 * node its decoding and, while the chain takes one block at a time, a decoded block of about 25 times its
 * size per request waiting. Here a `jbc node` process gets 12 such bodies at once: at most 4 are taken in
 * (the rest answered 503 BUSY with Retry-After at once), every one taken in is refused for its proof of
 * work, `/api/health` keeps answering, and an honest block gets in right after.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { encodeBlock } from "../../src/consensus/block.ts";
import { regtest } from "../../src/consensus/params.ts";
import { makeChild } from "../helpers/blocks.ts";
import { tempDir } from "../helpers/chain.ts";
import { HEALTH_P99_BOUND_MS, junkMaxBlocks, percentile, probeHealth } from "../helpers/dos.ts";
import { killAll, type NodeProcess, spawnNode } from "../helpers/spawn.ts";

const tmp = tempDir("jbc-submit-flood-");
let node: NodeProcess;

before(async () => {
  node = await spawnNode({ name: "victim", datadir: tmp, args: ["--no-p2p"] });
});

after(async () => {
  await node?.stop();
  await killAll();
  rmSync(tmp, { recursive: true, force: true });
});

describe("attack: maximum-size block submissions all at once", () => {
  it("past 4 in flight the answer is 503 BUSY with Retry-After; the node answers and takes an honest block", async () => {
    const bodies = junkMaxBlocks(regtest, 12).map((b) => encodeBlock(b));
    assert.ok(bodies.every((b) => b.length === 999_999));
    const probe = probeHealth(node.url);
    const answers = await Promise.all(
      bodies.map(async (body) => {
        const res = await fetch(`${node.url}/api/blocks`, {
          method: "POST",
          headers: { "content-type": "application/octet-stream" },
          body,
          signal: AbortSignal.timeout(120_000),
        });
        const json = (await res.json()) as { error?: { code: string } };
        return { status: res.status, code: json.error?.code, retryAfter: res.headers.get("retry-after") };
      }),
    );
    const health = await probe.stop();
    const busy = answers.filter((a) => a.status === 503);
    assert.ok(busy.length >= 1, `no 503 among ${JSON.stringify(answers)}`);
    for (const a of busy) assert.deepEqual([a.code, a.retryAfter], ["BUSY", "1"]);
    // The chain saw the others, and refused each for its proof of work.
    for (const a of answers.filter((x) => x.status !== 503))
      assert.deepEqual([a.status, a.code], [422, "HIGH_HASH"]);
    const p99 = percentile(health, 99);
    assert.ok(p99 <= HEALTH_P99_BOUND_MS, `/api/health p99 ${Math.round(p99)} ms`);
    // The slots are free again: an honest block is taken at once.
    const honest = makeChild(regtest.genesis, regtest, { miner: "honest" });
    assert.equal((await node.api.submitBlock(encodeBlock(honest))).status, "main");
  });
});
