/**
 * processBlocks: the batched path a sync takes. Same rules and outcomes as processBlock, fewer writes.
 *
 *   genesis -> a1 .. a300                     one run, committed in batches
 *   genesis -> a1 .. a9 -> x10! -> x11        x10 has a bad signature: a1..a9 commit, x10 is refused
 *   genesis -> a1 .. a5 -> x6! -> x7          x6 refused in a batch is still refused after a restart
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ChainEntry } from "../../src/chain/types.ts";
import { verifyChain } from "../../src/chain/verify.ts";
import { encodeBlock } from "../../src/consensus/block.ts";
import { BlockError } from "../../src/consensus/errors.ts";
import { regtest } from "../../src/consensus/params.ts";
import { signRecord } from "../../src/consensus/records.ts";
import { blockHash, makeChain, makeChild } from "../helpers/blocks.ts";
import { openHarness } from "../helpers/chain.ts";

const chain = makeChain(regtest, 1200, { miner: "a" });
const items = chain.slice(1).map((block) => ({ block, raw: encodeBlock(block) }));

describe("processBlocks", () => {
  it("commits a long run of extensions and ends where processBlock one by one ends", async () => {
    const batched = await openHarness(regtest);
    const single = await openHarness(regtest);
    try {
      const connected: ChainEntry[] = [];
      let tipEvents = 0;
      batched.chain.on("connected", (e: ChainEntry) => connected.push(e));
      batched.chain.on("tip", () => tipEvents++);
      const results = await batched.chain.processBlocks(items);
      assert.equal(results.length, 1200);
      assert.ok(
        results.every((r, i) => !(r instanceof BlockError) && r.status === "main" && r.height === i + 1),
      );
      assert.equal(connected.length, 1200);
      assert.ok(tipEvents >= 3 && tipEvents < 1200, `one tip event per committed run (${tipEvents})`);

      for (const { block, raw } of items) await single.chain.processBlock(block, raw);
      assert.equal(batched.chain.tip.hash, single.chain.tip.hash);
      assert.deepEqual(await batched.store.mainHashes(0, 1300), await single.store.mainHashes(0, 1300));
      assert.deepEqual((await verifyChain(batched.store, regtest)).problems, []);

      await batched.restart();
      assert.equal(batched.chain.tip.hash, blockHash(chain[1200]!));
      // Known blocks take the ordinary path: duplicates.
      const again = await batched.chain.processBlocks(items.slice(0, 3));
      assert.deepEqual(
        again.map((r) => (r instanceof BlockError ? r.code : r.status)),
        ["duplicate", "duplicate", "duplicate"],
      );
    } finally {
      await batched.dispose();
      await single.dispose();
    }
  });

  it("stops at the first bad block: the blocks before it are committed, the error is the last result", async () => {
    const h = await openHarness(regtest);
    try {
      const good = chain.slice(1, 10);
      const forged = { ...signRecord(new TextEncoder().encode("hi"), new Uint8Array(32).fill(3)) };
      forged.data = new TextEncoder().encode("ho");
      const x10 = makeChild(chain[9]!, regtest, { miner: "x", records: [forged] });
      const x11 = makeChild(x10, regtest, { miner: "x" });
      const results = await h.chain.processBlocks([...good, x10, x11].map((block) => ({ block })));
      assert.equal(results.length, 10);
      const last = results[9];
      assert.ok(last instanceof BlockError);
      assert.equal(last.code, "BAD_SIGNATURE");
      assert.equal(h.chain.tip.hash, blockHash(chain[9]!));
      const child = await h.chain.processBlocks([{ block: x11 }]);
      assert.ok(child[0] instanceof BlockError && child[0].code === "INVALID_PARENT");
    } finally {
      await h.dispose();
    }
  });

  it("a block refused during a batched sync is still known invalid after a restart", async () => {
    const h = await openHarness(regtest);
    try {
      const forged = { ...signRecord(new TextEncoder().encode("hi"), new Uint8Array(32).fill(4)) };
      forged.data = new TextEncoder().encode("ho");
      const x6 = makeChild(chain[5]!, regtest, { miner: "x", records: [forged] });
      const x7 = makeChild(x6, regtest, { miner: "x" });
      const results = await h.chain.processBlocks([...chain.slice(1, 6), x6].map((block) => ({ block })));
      const last = results[5];
      assert.ok(last instanceof BlockError && last.code === "BAD_SIGNATURE");

      await h.restart();
      assert.equal(h.chain.tip.hash, blockHash(chain[5]!));
      const entry = h.chain.getEntry(blockHash(x6));
      assert.equal(entry?.status, "invalid", "the refusal is in the store, not only in memory");
      assert.equal(entry?.invalid?.code, "BAD_SIGNATURE");
      const checks = h.chain.stats.sanityChecks;
      const again = await h.chain.processBlocks([{ block: x6 }, { block: x7 }]);
      assert.ok(again[0] instanceof BlockError && again[0].code === "BAD_SIGNATURE");
      assert.equal(h.chain.stats.sanityChecks, checks, "a known-invalid block is not validated again");
      const child = await h.chain.processBlocks([{ block: x7 }]);
      assert.ok(child[0] instanceof BlockError && child[0].code === "INVALID_PARENT");
      assert.deepEqual((await verifyChain(h.store, regtest)).problems, []);
    } finally {
      await h.dispose();
    }
  });

  it("a run that forks off an earlier block takes the ordinary path and reorgs", async () => {
    const h = await openHarness(regtest);
    try {
      await h.chain.processBlocks(items.slice(0, 20));
      const fork = makeChain(regtest, 12, { from: chain[10]!, miner: "f" }).slice(1);
      const results = await h.chain.processBlocks(fork.map((block) => ({ block })));
      const statuses = results.map((r) => (r instanceof BlockError ? r.code : r.status));
      assert.deepEqual(statuses, [...Array(10).fill("side"), "main", "main"]);
      const switched = results[10];
      assert.ok(
        switched && !(switched instanceof BlockError) && switched.status === "main" && switched.reorg,
      );
      assert.equal(switched.reorg.depth, 10);
      assert.equal(h.chain.tip.hash, blockHash(fork[11]!));
    } finally {
      await h.dispose();
    }
  });
});
