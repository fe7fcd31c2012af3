import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TokenBucket } from "../../src/util/bucket.ts";

describe("TokenBucket", () => {
  it("allows a burst, then refills at the rate", () => {
    let t = 0;
    const b = new TokenBucket(3, 10, () => t);
    assert.equal(b.take(), true);
    assert.equal(b.take(), true);
    assert.equal(b.take(), true);
    assert.equal(b.take(), false);
    assert.equal(b.waitMs(), 100);
    t = 50;
    assert.equal(b.take(), false);
    t = 100;
    assert.equal(b.take(), true);
    t = 10_000;
    assert.equal(b.take(), true);
    assert.equal(b.take(), true);
    assert.equal(b.take(), true);
    assert.equal(b.take(), false, "never more than the capacity");
  });
});

describe("TokenBucket with n tokens at once", () => {
  it("takes n only when all n are there, says how long until they are, and ignores a clock stepping back", () => {
    let t = 1_000;
    const b = new TokenBucket(10, 5, () => t);
    assert.equal(b.take(11), false, "more than the capacity never passes");
    assert.equal(b.take(8), true);
    assert.equal(b.has(3), false);
    assert.equal(b.take(3), false, "a refused take spends nothing");
    assert.equal(b.take(2), true);
    assert.equal(b.waitMs(4), 800);
    t = 500;
    assert.equal(b.has(1), false, "a clock stepping back refills nothing and drains nothing");
    t = 1_300;
    assert.equal(b.take(4), true);
  });
});
