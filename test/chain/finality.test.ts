/**
 * Finality (witnessed checkpoints): once the tree holds a final checkpoint, a heavier branch that forks
 * below it is refused block by block (FORK_BEFORE_CHECKPOINT), including a side branch the node knew
 * before; without it the same branch reorganises the node. The attack's blocks come as a sync delivers them
 * (asked for): offered unasked, a branch this far below the tip would be kept as headers only.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BlockError } from "../../src/consensus/errors.ts";
import { regtest } from "../../src/consensus/params.ts";
import { blockHash, makeChain } from "../helpers/blocks.ts";
import { openHarness } from "../helpers/chain.ts";

const ASKED = { requested: true } as const;

describe("final checkpoint", () => {
  const main = makeChain(regtest, 10, { miner: "team" });
  // Forks at height 3, heavier: 12 blocks above genesis.
  const attack = makeChain(regtest, 9, { miner: "attacker", from: main[3]! }).slice(1);

  it("without one, the heavier branch reorganises the node", async () => {
    const h = await openHarness(regtest);
    try {
      for (const b of main.slice(1)) await h.chain.processBlock(b);
      for (const b of attack) await h.chain.processBlock(b, ASKED);
      assert.equal(h.chain.tip.hash, blockHash(attack[attack.length - 1]!));
    } finally {
      await h.dispose();
    }
  });

  it("with one at height 6, the branch forking at 3 is refused and the tip stays", async () => {
    const h = await openHarness(regtest);
    try {
      for (const b of main.slice(1)) await h.chain.processBlock(b);
      // The first side blocks (heights 4 and 5) were known before finality: stored as side blocks.
      await h.chain.processBlock(attack[0]!, ASKED);
      await h.chain.processBlock(attack[1]!, ASKED);
      assert.equal(await h.chain.finalize({ height: 6, hash: blockHash(main[6]!) }), true);
      assert.equal(await h.chain.finalize({ height: 5, hash: blockHash(main[5]!) }), false, "never lowered");
      assert.equal(await h.chain.finalize({ height: 8, hash: blockHash(attack[4]!) }), false, "not main");
      assert.deepEqual(h.chain.finalCheckpoint, { height: 6, hash: blockHash(main[6]!) });
      // The first block above the side blocks is refused; its descendants follow a refused parent.
      const codes: string[] = [];
      for (const b of attack.slice(2)) {
        await assert.rejects(h.chain.processBlock(b, ASKED), (err: unknown) => {
          assert.ok(err instanceof BlockError);
          codes.push(err.code);
          return true;
        });
      }
      assert.equal(codes[0], "FORK_BEFORE_CHECKPOINT");
      assert.ok(
        codes.slice(1).every((c) => c === "INVALID_PARENT"),
        codes.join(),
      );
      assert.equal(h.chain.tip.hash, blockHash(main[10]!));
      // The team's chain still grows.
      const next = makeChain(regtest, 1, { miner: "team", from: main[10]! })[1]!;
      assert.equal((await h.chain.processBlock(next)).status, "main");
    } finally {
      await h.dispose();
    }
  });
});
