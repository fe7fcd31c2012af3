import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BlockPool, DEFAULT_ORPHAN_LIMITS, type PoolLimits } from "../../src/chain/pools.ts";
import { encodeBlock } from "../../src/consensus/block.ts";
import { regtest } from "../../src/consensus/params.ts";
import { blockHash, makeChain } from "../helpers/blocks.ts";
import { openHarness } from "../helpers/chain.ts";

const blocks = makeChain(regtest, 12, { miner: "o" }).slice(1);
// Pools hold blocks as bytes: `size` pads a block's bytes so the byte bounds can be exercised.
const orphan = (i: number, size = 100, source = "peer") => {
  const raw = new Uint8Array(Math.max(size, encodeBlock(blocks[i]!).length));
  raw.set(encodeBlock(blocks[i]!));
  return {
    hash: blockHash(blocks[i]!),
    prevHash: blockHash(i === 0 ? regtest.genesis : blocks[i - 1]!),
    header: blocks[i]!.header,
    raw,
    source,
    requested: false,
  };
};
const limits = (l: Partial<PoolLimits>): PoolLimits => ({
  ...DEFAULT_ORPHAN_LIMITS,
  maxBytesPerSource: 1e9,
  ...l,
});
const dropped = (pool: BlockPool, o: ReturnType<typeof orphan>): string[] => pool.add(o).dropped;

describe("orphan pool", () => {
  it("holds at most maxCount orphans, evicting the oldest first", () => {
    const pool = new BlockPool(limits({ maxCount: 3, maxBytes: 1e9, expiryMs: 1e9 }));
    for (let i = 0; i < 3; i++) assert.deepEqual(dropped(pool, orphan(i)), []);
    assert.deepEqual(dropped(pool, orphan(3)), [orphan(0).hash]);
    assert.equal(pool.count, 3);
    assert.equal(pool.has(orphan(0).hash), false);
    assert.equal(pool.has(orphan(3).hash), true);
  });

  it("holds at most maxBytes, evicting the oldest first", () => {
    const pool = new BlockPool(limits({ maxCount: 100, maxBytes: 1000, expiryMs: 1e9 }));
    pool.add(orphan(0, 400));
    pool.add(orphan(1, 400));
    assert.deepEqual(dropped(pool, orphan(2, 400)), [orphan(0).hash]);
    assert.equal(pool.totalBytes, 800);
  });

  it("holds at most maxBytesPerSource per source, evicting that source's oldest, not another's", () => {
    const pool = new BlockPool(limits({ maxBytesPerSource: 1000 }));
    pool.add(orphan(0, 400, "honest"));
    pool.add(orphan(1, 400, "flood"));
    pool.add(orphan(2, 400, "flood"));
    assert.deepEqual(dropped(pool, orphan(3, 400, "flood")), [orphan(1).hash]);
    assert.equal(pool.bytesOf("flood"), 800);
    assert.ok(pool.has(orphan(0).hash), "the other source's orphan stays");
  });

  it("holds every distinct copy of a block (a junk body never stands in for the real one), each copy once", () => {
    const pool = new BlockPool(limits({}));
    const real = orphan(0, 100, "a");
    const junk = { ...real, raw: real.raw.slice() };
    junk.raw[junk.raw.length - 1] ^= 1;
    assert.equal(pool.add(junk).kept, true);
    assert.equal(pool.holds(real), false);
    pool.add(real);
    pool.add(real);
    assert.equal(pool.count, 2);
    assert.equal(pool.takeChildren(real.prevHash).length, 2);
  });

  it("holds a copy of its own of bytes that came as a Buffer view into a larger message", () => {
    const pool = new BlockPool(limits({}));
    const o = orphan(0);
    const message = Buffer.alloc(64 * 1024);
    message.set(o.raw, 100);
    const view = message.subarray(100, 100 + o.raw.length); // as a Buffer's slice() would be too
    pool.add({ ...o, raw: view });
    const [held] = pool.takeChildren(o.prevHash);
    assert.deepEqual(held!.raw, o.raw);
    assert.notEqual(held!.raw.buffer, message.buffer);
    assert.equal(held!.raw.buffer.byteLength, o.raw.length, "not the 64 KiB message");
  });

  it("drops orphans older than the expiry", () => {
    let now = 0;
    const pool = new BlockPool(limits({ maxCount: 100, maxBytes: 1e9, expiryMs: 1000 }), () => now);
    pool.add(orphan(0));
    now = 600;
    pool.add(orphan(1));
    now = 1001;
    assert.deepEqual(pool.prune(), [orphan(0).hash]);
    assert.equal(pool.count, 1);
  });

  it("hands over the children of a block exactly once", () => {
    const pool = new BlockPool(DEFAULT_ORPHAN_LIMITS);
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
