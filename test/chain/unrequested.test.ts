/**
 * The chain's policy for blocks nobody asked for (docs/protocol.md, "Blocks nobody asked for"), and its
 * cheapest-first order: a block the node will not keep costs it its header, its bytes at most. Real chain,
 * real LevelDB, regtest work. The attacks themselves, over real nodes, are in test/adversarial/.
 *
 *   genesis -> m1 -> m2 -> m3 -> m4 -> m5            main
 *                     \-> s3 -> s4 -> s5 -> s6       s3: 2 blocks below m5 when it arrives
 *                           \-> t4, u4, v4           siblings below the tip
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { ChainError } from "../../src/chain/errors.ts";
import { encodeBlock, MAX_BLOCK_RECORDS } from "../../src/consensus/block.ts";
import { blockWork } from "../../src/consensus/compact.ts";
import { BlockError } from "../../src/consensus/errors.ts";
import { encodeHeader } from "../../src/consensus/header.ts";
import { defineNetwork, regtest } from "../../src/consensus/params.ts";
import { makeChild, mineHighHash } from "../helpers/blocks.ts";
import { type Harness, openHarness, Scenario } from "../helpers/chain.ts";

const s = new Scenario(regtest);
s.branch("m", "genesis", 1, 5);
s.branch("s", "m2", 3, 6);
for (const n of ["t4", "u4", "v4", "w4"]) s.add(n, "m3");
const main = ["m1", "m2", "m3", "m4", "m5"];

async function feed(h: Harness, names: readonly string[], source = "peer"): Promise<void> {
  for (const n of names) await h.chain.processBlock(s.get(n), { source });
}

/** The ChainError a call is refused with. */
async function chainError(p: Promise<unknown>): Promise<ChainError> {
  const err = await p.then(
    () => assert.fail("expected a ChainError"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ChainError, `expected a ChainError, got ${String(err)}`);
  return err;
}

describe("blocks nobody asked for: bodies kept only while their branch has a chance", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await openHarness(regtest);
    await feed(h, main);
  });
  afterEach(() => h.dispose());

  it("a branch 2 blocks below the tip keeps its headers only; the same blocks, asked for, are stored", async () => {
    const sides: string[] = [];
    h.chain.on("side", (e) => sides.push(e.hash));
    for (const n of ["s3", "s4"]) {
      const r = await h.chain.processBlock(s.get(n), { source: "peer" });
      assert.deepEqual(r, { status: "side", hash: s.hash(n), height: n === "s3" ? 3 : 4, headerOnly: true });
      assert.equal(await h.chain.getRawBlock(s.hash(n)), undefined, `${n}'s body is not stored`);
      assert.equal(h.chain.getEntry(s.hash(n)), undefined, "nor is it in the tree");
    }
    assert.equal(h.chain.backlog.headers, 2);
    assert.deepEqual(sides, [], "no side event: nothing was stored");
    // Sent again: nothing changes.
    assert.equal((await h.chain.processBlock(s.get("s3"), { source: "peer" })).status, "duplicate");
    // s5 ties the tip and s6 out-works it, but their parents' bodies are missing: a sync must bring them.
    assert.equal((await h.chain.processBlock(s.get("s5"), { source: "peer" })).status, "side");
    const s6 = await h.chain.processBlock(s.get("s6"), { source: "peer" });
    assert.deepEqual(s6, {
      status: "side",
      hash: s.hash("s6"),
      height: 6,
      headerOnly: true,
      needsBodies: true,
    });
    assert.equal(h.chain.tip.hash, s.hash("m5"));
    // What a sync delivers is asked for: the branch is stored and the node switches to it.
    const run = await h.chain.processBlocks(["s3", "s4", "s5", "s6"].map((n) => ({ block: s.get(n) })));
    assert.deepEqual(
      run.map((r) => (r instanceof BlockError ? r.code : r.status)),
      ["side", "side", "side", "main"],
    );
    assert.equal(h.chain.tip.hash, s.hash("s6"));
    assert.equal(h.chain.backlog.headers, 0, "the held headers joined the tree");
  });

  it("one block of work below the tip is within the margin: stored, two per fork point", async () => {
    // t4, u4, v4 and w4 are children of m3: one block below m5.
    for (const n of ["t4", "u4"]) {
      const r = await h.chain.processBlock(s.get(n), { source: "peer" });
      assert.deepEqual(r, { status: "side", hash: s.hash(n), height: 4 });
      assert.ok(await h.chain.getRawBlock(s.hash(n)), `${n} is stored`);
    }
    const v4 = await h.chain.processBlock(s.get("v4"), { source: "other" });
    assert.equal(v4.status === "side" && v4.headerOnly, true, "the fork point's share is used: header only");
    assert.equal(await h.chain.getRawBlock(s.hash("v4")), undefined);
  });

  it("a source past its share of held headers is refused and charged; another source is not", async () => {
    await h.dispose();
    h = await openHarness(regtest, { headerLimits: { maxPerSource: 1, maxPerFork: 2 } });
    await feed(h, main);
    const deep = ["x3", "y3", "z3"].map((n) => s.add(n, "m2"));
    assert.equal((await h.chain.processBlock(deep[0]!, { source: "spammer" })).status, "side");
    const err = await chainError(h.chain.processBlock(deep[1]!, { source: "spammer" }));
    assert.equal(err.code, "SIDE_QUOTA");
    assert.equal(err.penalty, 10);
    assert.equal((await h.chain.processBlock(deep[1]!, { source: "honest" })).status, "side");
    // The fork point m2 now holds its 2: a third source is refused, and not charged (not its doing).
    const full = await chainError(h.chain.processBlock(deep[2]!, { source: "third" }));
    assert.equal(full.code, "SIDE_QUOTA");
    assert.equal(full.penalty, 0);
  });

  it("minChainWork: a block nobody asked for on a chain below it is refused (LOW_WORK); asked for, kept", async () => {
    await h.dispose();
    const floor = blockWork(regtest.genesis.header.bits) * 4n;
    h = await openHarness(defineNetwork({ ...regtest, minChainWork: floor }));
    const err = await chainError(h.chain.processBlock(s.get("m1"), { source: "peer" }));
    assert.equal(err.code, "LOW_WORK");
    assert.equal(err.penalty, 0);
    for (const n of ["m1", "m2", "m3"]) await h.chain.processBlock(s.get(n), { requested: true });
    // m4 brings the chain to 5 blocks of work (genesis included): at the floor, so taken unasked.
    assert.equal((await h.chain.processBlock(s.get("m4"), { source: "peer" })).status, "main");
  });
});

describe("cheapest first: the header before the body, the bytes before the decoding", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await openHarness(regtest);
    await feed(h, main);
  });
  afterEach(() => h.dispose());

  it("a bad header is refused before its body is read: junk after it changes nothing", async () => {
    const bad = mineHighHash(makeChild(s.get("m5"), regtest, { miner: "bad", mine: false }));
    const raw = new Uint8Array(200_000);
    raw.set(encodeHeader(bad.header));
    raw[80] = 1; // one record declared, then junk that would not decode
    await assert.rejects(h.chain.processBlock(raw, { source: "peer" }), (e: unknown) => {
      return e instanceof BlockError && e.code === "HIGH_HASH";
    });
    assert.equal(h.chain.stats.sanityChecks, 5, "no sanity check ran for it");
  });

  it("a record count over the cap is refused from the first bytes (BAD_SIZE, not cached)", async () => {
    const over = makeChild(s.get("m5"), regtest, { miner: "over" });
    // The real header, then a CompactSize (0xfd + u16) declaring MAX_BLOCK_RECORDS + 1 records and room for
    // them: refused before a record is read.
    const raw = new Uint8Array(83 + 2 * (MAX_BLOCK_RECORDS + 1));
    raw.set(encodeHeader(over.header));
    raw[80] = 0xfd;
    new DataView(raw.buffer).setUint16(81, MAX_BLOCK_RECORDS + 1, true);
    const checks = h.chain.stats.sanityChecks;
    await assert.rejects(h.chain.processBlock(raw, { source: "peer" }), (e: unknown) => {
      return e instanceof BlockError && e.code === "BAD_SIZE" && !e.cacheable;
    });
    assert.equal(h.chain.stats.sanityChecks, checks, "no sanity check ran for it");
    assert.equal((await h.chain.processBlock(over, { source: "peer" })).status, "main", "the real block");
  });

  it("a block that is early is held as bytes, per source; a junk copy never stands in for the real one", async () => {
    const b = makeChild(s.get("m5"), regtest, {
      miner: "early",
      time: h.clock.now + regtest.maxFutureDrift + 5,
    });
    const junk = encodeBlock(b);
    junk[junk.length - 1] ^= 1;
    for (const bytes of [junk, encodeBlock(b)]) {
      await assert.rejects(h.chain.processBlock(bytes, { source: "peer" }), /TIME_TOO_NEW|ahead of now/);
    }
    assert.equal(h.chain.backlog.future, 2);
    assert.equal(h.chain.backlog.futureBytes, 2 * junk.length);
    h.clock.now += 5;
    const retried = await h.chain.retryFutureBlocks();
    assert.deepEqual(
      retried.map((r) => r.status),
      ["main"],
    );
    assert.equal(h.chain.backlog.future, 0);
  });

  it("a block ahead by more than the hold is refused and not held", async () => {
    const b = makeChild(s.get("m5"), regtest, { miner: "far", time: h.clock.now + 3_600 });
    await assert.rejects(h.chain.processBlock(b, { source: "peer" }), /ahead of now/);
    assert.equal(h.chain.backlog.future, 0);
  });

  it("orphans are held as bytes, within the source's share, and placed when the parent arrives", async () => {
    await h.dispose();
    h = await openHarness(regtest, { orphanLimits: { maxBytesPerSource: 1_000 } });
    await feed(h, main.slice(0, 2));
    const [m3, m4, m5] = ["m3", "m4", "m5"].map((n) => encodeBlock(s.get(n)));
    for (const raw of [m4!, m5!]) {
      const r = await h.chain.processBlock(raw, { source: "peer" });
      assert.equal(r.status, "orphan");
    }
    assert.equal(h.chain.backlog.orphanBytes, m4!.length + m5!.length);
    assert.equal((await h.chain.processBlock(m3!, { source: "peer" })).status, "main");
    assert.equal(h.chain.height, 5);
    assert.equal(h.chain.backlog.orphans, 0);
  });

  it("the queue is bounded per source for blocks nobody asked for (BUSY); asked-for blocks always queue", async () => {
    await h.dispose();
    h = await openHarness(regtest, { queueLimits: { maxDepth: 100, maxPerSource: 2 } });
    const calls = ["m1", "m2", "m3"].map((n) => h.chain.processBlock(s.get(n), { source: "flood" }));
    const settled = await Promise.allSettled(calls);
    assert.deepEqual(
      settled.map((x) => (x.status === "fulfilled" ? x.value.status : (x.reason as ChainError).code)),
      ["main", "main", "BUSY"],
    );
    const asked = await Promise.all(
      ["m3", "m4", "m5"].map((n) => h.chain.processBlock(s.get(n), { requested: true })),
    );
    assert.deepEqual(
      asked.map((r) => r.status),
      ["main", "main", "main"],
    );
    assert.equal(h.chain.backlog.queued, 0);
  });
});
