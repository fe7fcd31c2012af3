import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { OrphanPool } from "../../src/chain/orphans.ts";
import { regtest } from "../../src/consensus/params.ts";
import { blockHash, makeChain } from "../helpers/blocks.ts";
import { openHarness } from "../helpers/chain.ts";

const blocks = makeChain(regtest, 12, { miner: "o" }).slice(1);
const orphan = (i: number, size = 100) => ({
  hash: blockHash(blocks[i]!),
  prevHash: blockHash(i === 0 ? regtest.genesis : blocks[i - 1]!),
  block: blocks[i]!,
  size,
});

describe("orphan pool", () => {
  it("holds at most maxCount orphans, evicting the oldest first", () => {
    const pool = new OrphanPool({ maxCount: 3, maxBytes: 1e9, expiryMs: 1e9 });
    for (let i = 0; i < 3; i++) assert.deepEqual(pool.add(orphan(i)), []);
    assert.deepEqual(pool.add(orphan(3)), [orphan(0).hash]);
    assert.equal(pool.count, 3);
    assert.equal(pool.has(orphan(0).hash), false);
    assert.equal(pool.has(orphan(3).hash), true);
  });

  it("holds at most maxBytes, evicting the oldest first", () => {
    const pool = new OrphanPool({ maxCount: 100, maxBytes: 1000, expiryMs: 1e9 });
    pool.add(orphan(0, 400));
    pool.add(orphan(1, 400));
    assert.deepEqual(pool.add(orphan(2, 400)), [orphan(0).hash]);
    assert.equal(pool.totalBytes, 800);
  });

  it("drops orphans older than the expiry", () => {
    let now = 0;
    const pool = new OrphanPool({ maxCount: 100, maxBytes: 1e9, expiryMs: 1000 }, () => now);
    pool.add(orphan(0));
    now = 600;
    pool.add(orphan(1));
    now = 1001;
    assert.deepEqual(pool.prune(), [orphan(0).hash]);
    assert.equal(pool.count, 1);
  });

  it("hands over the children of a block exactly once", () => {
    const pool = new OrphanPool();
    pool.add(orphan(1));
    pool.add(orphan(2));
    assert.deepEqual(
      pool.takeChildren(blockHash(blocks[0]!)).map((o) => o.hash),
      [orphan(1).hash],
    );
    assert.deepEqual(pool.takeChildren(blockHash(blocks[0]!)), []);
    assert.equal(pool.count, 1);
  });

  it("in the chain: a full pool evicts, and evicted orphans are simply asked for again later", async () => {
    const h = await openHarness(regtest, { orphanLimits: { maxCount: 4 } });
    try {
      // blocks[1..10] arrive before blocks[0]; only the 4 newest stay.
      for (let i = 1; i <= 10; i++) assert.equal((await h.chain.processBlock(blocks[i]!)).status, "orphan");
      assert.equal(h.chain.orphanCount, 4);
      assert.equal((await h.chain.processBlock(blocks[0]!)).status, "main");
      assert.equal(h.chain.height, 1, "blocks 2..6 were evicted, so 7..10 still wait");
      for (let i = 1; i <= 6; i++) await h.chain.processBlock(blocks[i]!);
      assert.equal(h.chain.height, 11);
      assert.equal(h.chain.orphanCount, 0);
    } finally {
      await h.dispose();
    }
  });
});
