/**
 * What Chain.checkBeforeConnect found is taken by the processBlock that follows (reads.ts `takePrechecked`):
 * a block relayed early is decoded and checked once. Only for the very bytes it passed, on the same parent;
 * anything else is checked from the start. Real chain, real LevelDB, regtest work.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { type Block, encodeBlock } from "../../src/consensus/block.ts";
import { BlockError } from "../../src/consensus/errors.ts";
import { regtest } from "../../src/consensus/params.ts";
import { makeChild } from "../helpers/blocks.ts";
import { type Harness, openHarness } from "../helpers/chain.ts";

const utf8 = new TextEncoder();

let h: Harness;
beforeEach(async () => {
  h = await openHarness(regtest);
});
afterEach(async () => {
  await h.dispose();
});

/** A block on the genesis with a few data records (miner `m` makes siblings differ). */
function child(m: string, parent: Block = regtest.genesis): Block {
  const records = [1, 2, 3].map((i) => ({ type: "data" as const, data: utf8.encode(`${m}-${i}`) }));
  return makeChild(parent, regtest, { miner: m, records });
}

describe("checkBeforeConnect, then processBlock", () => {
  it("a block that passed is not decoded and checked again", async () => {
    const raw = encodeBlock(child("a"));
    assert.equal(await h.chain.checkBeforeConnect(raw), true);
    const checks = h.chain.stats.sanityChecks;
    const r = await h.chain.processBlock(raw);
    assert.equal(r.status, "main");
    assert.equal(h.chain.stats.sanityChecks, checks, "no second sanity check");
  });

  it("other bytes under the same header are checked from the start, and refused; the real block still enters", async () => {
    const real = child("b");
    assert.equal(await h.chain.checkBeforeConnect(encodeBlock(real)), true);
    const forged: Block = { header: real.header, records: [real.records[0]!, ...real.records.slice(2)] };
    const checks = h.chain.stats.sanityChecks;
    const err = await h.chain.processBlock(encodeBlock(forged)).then(
      () => assert.fail("the forged body was accepted"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof BlockError && err.code === "BAD_MERKLE_ROOT", String(err));
    assert.equal(h.chain.stats.sanityChecks, checks + 1, "the forged body was checked");
    assert.equal((await h.chain.processBlock(encodeBlock(real))).status, "main");
  });

  it("another block processed first drops the pass: both are checked in full", async () => {
    const tip = child("c");
    await h.chain.processBlock(tip);
    const late = child("d", tip);
    const other = child("e", tip);
    assert.equal(await h.chain.checkBeforeConnect(encodeBlock(late)), true);
    const checks = h.chain.stats.sanityChecks;
    assert.equal((await h.chain.processBlock(encodeBlock(other))).status, "main");
    assert.equal(h.chain.stats.sanityChecks, checks + 1, "the other block was checked");
    assert.equal((await h.chain.processBlock(encodeBlock(late), { requested: true })).status, "side");
    assert.equal(h.chain.stats.sanityChecks, checks + 2, "and the early one again, its pass dropped");
  });
});
