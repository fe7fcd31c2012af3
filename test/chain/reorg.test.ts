/**
 * Reorgs of depth 1, 10, 100 and 1,000, and back. After each, the node must hold exactly what a fresh
 * node given only the winning chain holds: same tip, same height index, same main-chain block bytes,
 * and a store that verifies.
 *
 *   genesis -> p1 .. p5 -> m1 .. m(d) -> m(d+1) -> m(d+2)     main first, wins again at the end
 *                      \-> s1 .. s(d+1)                       overtakes m(d): reorg of depth d
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { verifyChain } from "../../src/chain/verify.ts";
import type { Block } from "../../src/consensus/block.ts";
import { toHex } from "../../src/consensus/bytes.ts";
import { regtest } from "../../src/consensus/params.ts";
import { blockHash, makeChain } from "../helpers/blocks.ts";
import { type Harness, openHarness } from "../helpers/chain.ts";

interface Snapshot {
  tip: string;
  height: number;
  heightIndex: string[];
  bodies: string[];
  aboveTip: number;
}

async function snapshot(h: Harness): Promise<Snapshot> {
  const height = h.chain.height;
  const index = await h.store.mainHashes(0, height + 10);
  const bodies = await h.store.getBlocks(index);
  for (let i = 0; i <= height; i++) assert.equal(h.chain.getEntryAt(i)?.status, "valid");
  const v = await verifyChain(h.store, regtest);
  assert.deepEqual(v.problems, []);
  return {
    tip: h.chain.tip.hash,
    height,
    heightIndex: index.slice(0, height + 1).map(toHex),
    bodies: bodies.slice(0, height + 1).map((b) => toHex(b ?? new Uint8Array())),
    aboveTip: index.length - (height + 1),
  };
}

async function fresh(blocks: Block[]): Promise<Snapshot> {
  const h = await openHarness(regtest);
  try {
    for (const b of blocks) await h.chain.processBlock(b);
    return await snapshot(h);
  } finally {
    await h.dispose();
  }
}

for (const depth of [1, 10, 100, 1000]) {
  describe(`reorg of depth ${depth} and back`, () => {
    const prefix = makeChain(regtest, 5, { miner: "p" });
    const main = makeChain(regtest, depth + 2, { from: prefix[5]!, miner: "m" }).slice(1);
    const side = makeChain(regtest, depth + 1, { from: prefix[5]!, miner: "s" }).slice(1);
    const mainFirst = main.slice(0, depth);
    const mainRest = main.slice(depth);

    it(`switches to the heavier branch in one step, then back, matching fresh nodes`, async () => {
      const h = await openHarness(regtest);
      try {
        for (const b of [...prefix.slice(1), ...mainFirst]) await h.chain.processBlock(b);
        // Asked for, as a sync delivers a branch: a node keeps the bodies of a branch far below its tip
        // only when it asked for them (docs/protocol.md, "Blocks nobody asked for").
        for (const b of side.slice(0, -1)) {
          assert.equal((await h.chain.processBlock(b, { requested: true })).status, "side");
        }
        assert.equal(h.chain.tip.hash, blockHash(mainFirst[depth - 1]!));

        const r = await h.chain.processBlock(side[depth]!, { requested: true });
        assert.ok(r.status === "main" && r.reorg, "the last side block triggers the reorg");
        assert.equal(r.reorg.depth, depth);
        assert.equal(r.reorg.connected.length, depth + 1);
        assert.equal(r.reorg.fork.hash, blockHash(prefix[5]!));
        assert.deepEqual(await snapshot(h), await fresh([...prefix.slice(1), ...side]));

        // m(d+1) ties the side branch (stays side); m(d+2) out-works it: reorg of depth d + 1 back.
        assert.equal((await h.chain.processBlock(mainRest[0]!, { requested: true })).status, "side");
        const back = await h.chain.processBlock(mainRest[1]!, { requested: true });
        assert.ok(back.status === "main" && back.reorg);
        assert.equal(back.reorg.depth, depth + 1);
        assert.deepEqual(await snapshot(h), await fresh([...prefix.slice(1), ...main]));

        await h.restart();
        assert.equal(h.chain.tip.hash, blockHash(main[main.length - 1]!));
      } finally {
        await h.dispose();
      }
    });
  });
}
