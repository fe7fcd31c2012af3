/**
 * The light client's checks, fork choice, answers and memory bound, on real mined headers (asertnet:
 * devnet's ASERT rules at test-sized work; regtest where the rule is the same).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { blockWork } from "../../src/consensus/compact.ts";
import { encodeHeader } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import { LightClient, loadLightState, pruneSlack, saveLightState } from "../../src/light/index.ts";
import {
  asertnet,
  extend,
  genesisLink,
  type Link,
  linkOf,
  mineHeader,
  mineHighHeader,
  raws,
} from "../helpers/headers.ts";

const main = extend(asertnet, [genesisLink(asertnet)], 40);

/** A client fed `links[1..]` from one source. */
function fed(links: readonly Link[], source = "a", opts: ConstructorParameters<typeof LightClient>[1] = {}) {
  const c = new LightClient(asertnet, opts);
  const r = c.add(source, raws(links.slice(1)), { from: 1 });
  return { c, r };
}

describe("light client: checks", () => {
  it("takes a valid chain from genesis and answers where a header is, under how much work", () => {
    const { c, r } = fed(main);
    assert.equal(r.added, 40);
    assert.equal(r.fault, undefined);
    assert.equal(c.best.hash, main[40]!.hash);
    assert.equal(c.best.chainWork, main[40]!.chainWork);
    const at = c.locate(main[30]!.hash);
    assert.equal(at.status, "main");
    if (at.status !== "main") return;
    assert.equal(at.confirmations, 11);
    assert.equal(at.workOnTop, main[40]!.chainWork - main[29]!.chainWork);
    assert.deepEqual(c.locate("00".repeat(32)), { status: "unknown" });
    // ASERT moved the bits (the chain's times are on schedule, then one late header eases the next).
    const late = extend(asertnet, main, 2, { spacing: (i) => (i === 0 ? 200 : 5) });
    assert.notEqual(late[42]!.header.bits, late[41]!.header.bits);
    assert.equal(c.add("a", raws(late.slice(41)), { from: 41 }).added, 2);
  });

  it("names a source for each failed check and refuses it from then on", () => {
    const p20 = main.slice(0, 21);
    const cases: Array<[string, Link[], string]> = [];
    // Bad bits: an easier target than ASERT requires (it still meets its own proof of work).
    cases.push(["BAD_BITS", extend(asertnet, p20, 1, { bits: () => 0x207fffff }).slice(21), "BAD_BITS"]);
    // High hash.
    const high = extend(asertnet, p20, 1).slice(21);
    const h = mineHighHeader(high[0]!.header);
    cases.push(["HIGH_HASH", [linkOf(p20[20]!, h)], "HIGH_HASH"]);
    // Bits above the proof-of-work limit.
    const easy = mineHeader({ ...high[0]!.header, bits: 0x2100ffff });
    cases.push(["BAD_TARGET", [linkOf(p20[20]!, easy)], "BAD_TARGET"]);
    // A time not above the median of the last 11.
    const old = mineHeader({ ...high[0]!.header, time: p20[15]!.header.time });
    cases.push(["TIME_TOO_OLD", [linkOf(p20[20]!, old)], "TIME_TOO_OLD"]);
    // A time far in the future.
    const future = extend(asertnet, p20, 1, { spacing: () => 10 * 365 * 86400 }).slice(21);
    cases.push(["TIME_TOO_NEW", future, "TIME_TOO_NEW"]);
    for (const [name, bad, code] of cases) {
      const c = new LightClient(asertnet);
      assert.equal(c.add("honest", raws(p20.slice(1)), { from: 1 }).fault, undefined);
      const r = c.add("liar", raws(bad), { from: 21 });
      assert.equal(r.fault?.code, code, name);
      assert.equal(r.fault?.source, "liar");
      assert.equal(r.fault?.height, 21);
      assert.equal(c.best.height, 20, `${name}: the best chain is still the honest one`);
      // Refused from then on, even with valid headers.
      const again = c.add("liar", raws(main.slice(21, 23)), { from: 21 });
      assert.equal(again.added, 0);
      assert.equal(again.fault?.code, code);
      assert.equal(c.verdict("liar").status, "faulty");
      if (code !== "TIME_TOO_NEW") {
        // Another source serving the same header is refused too, without checking it again.
        const other = c.add("relay", raws(bad), { from: 21 });
        assert.equal(other.fault?.code, "INVALID", name);
      }
    }
  });

  it("names broken links, wrong heights, another genesis and a chain with less work than claimed", () => {
    const c = new LightClient(asertnet);
    c.add("honest", raws(main.slice(1, 21)), { from: 1 });
    const skipped = [main[21]!.raw, main[23]!.raw];
    const link = c.add("gap", skipped, { from: 21 });
    assert.equal(link.fault?.code, "BAD_LINK");
    assert.equal(link.fault?.height, 22);
    assert.equal(link.added, 1, "the header before the break joined");
    assert.equal(c.add("heights", raws(main.slice(21, 23)), { from: 30 }).fault?.code, "BAD_HEIGHT");
    const otherGenesis = encodeHeader(regtest.genesis.header);
    assert.equal(c.add("other", [otherGenesis]).fault?.code, "BAD_GENESIS");
    // Unconnected is not a fault: the caller asks from lower down.
    const un = c.add("later", raws(main.slice(30, 33)), { from: 30 });
    assert.equal(un.unconnected, true);
    assert.equal(un.fault, undefined);
    // Claims more work than it serves.
    c.claim("boaster", { height: 40, hash: main[40]!.hash, chainWork: main[40]!.chainWork });
    c.add("boaster", raws(main.slice(15, 21)), { from: 15 });
    const v = c.verdict("boaster");
    assert.equal(v.status, "faulty");
    assert.equal(v.status === "faulty" && v.fault.code, "LESS_WORK");
    assert.equal(c.verdict("honest").status, "agrees");
  });
});

describe("light client: fork choice", () => {
  const side = extend(asertnet, main.slice(0, 26), 20, { miner: "b" });

  it("follows the branch with more work, reports the reorg, and answers for side headers", () => {
    const { c } = fed(main);
    const r = c.add("b", raws(side.slice(26)), { from: 26 });
    assert.equal(c.best.hash, side[45]!.hash);
    assert.deepEqual(r.reorg?.fork, { height: 25, hash: main[25]!.hash });
    assert.equal(r.reorg?.depth, 15);
    assert.equal(r.reorg?.workLeft, main[40]!.chainWork - main[25]!.chainWork);
    assert.equal(r.reorg?.workJoined, side[45]!.chainWork - main[25]!.chainWork);
    const old = c.locate(main[35]!.hash);
    assert.equal(old.status, "side");
    if (old.status === "side") {
      assert.equal(old.fork.height, 25);
      assert.equal(old.branchWork, main[40]!.chainWork - main[25]!.chainWork);
      assert.equal(old.bestWork, side[45]!.chainWork - main[25]!.chainWork);
    }
    const va = c.verdict("a");
    assert.equal(va.status, "disagrees");
    assert.equal(c.verdict("b").status, "agrees");
  });

  it("keeps the branch seen first on equal work", () => {
    const twin = extend(asertnet, main.slice(0, 39), 2, { miner: "twin" });
    assert.equal(twin[40]!.chainWork, main[40]!.chainWork);
    const { c } = fed(main);
    c.add("twin", raws(twin.slice(39)), { from: 39 });
    assert.equal(c.best.hash, main[40]!.hash);
  });

  it("a client started from a trusted checkpoint checks what follows as one from genesis does", () => {
    const base = main[20]!;
    const c = new LightClient(asertnet, {
      base: {
        height: 20,
        header: base.raw,
        chainWork: base.chainWork,
        prevTimes: main.slice(10, 20).map((l) => l.header.time),
        anchorTime: main[1]!.header.time,
      },
    });
    assert.equal(c.add("a", raws(main.slice(21)), { from: 21 }).added, 20);
    assert.equal(c.best.chainWork, main[40]!.chainWork);
    const bad = extend(asertnet, main.slice(0, 31), 1, { bits: () => 0x207fffff }).slice(31);
    assert.equal(c.add("liar", raws(bad), { from: 31 }).fault?.code, "BAD_BITS");
    assert.throws(
      () => new LightClient(asertnet, { base: { height: 20, header: base.raw, chainWork: 0n } }),
      /block 1/,
    );
  });
});

describe("light client: memory and trust", () => {
  it("keeps a window of headers and bounded checkpoints, whatever the chain's length", () => {
    const long = extend(asertnet, main, 360);
    const c = new LightClient(asertnet, { window: 32, checkpointEvery: 10, maxCheckpoints: 8 });
    for (let h = 1; h < long.length; h += 50) c.add("a", raws(long.slice(h, h + 50)), { from: h });
    assert.equal(c.best.hash, long[400]!.hash);
    assert.ok(c.size <= 32 + 1 + 64 + 1, `${c.size} headers held`);
    assert.ok(c.checkpoints.length <= 8);
    const heights = c.checkpoints.map((x) => x.height);
    assert.deepEqual(
      [...heights].sort((a, b) => a - b),
      heights,
    );
    // Thinned older first: the gaps do not shrink towards the tip.
    const gaps = heights.slice(1).map((h, i) => h - heights[i]!);
    assert.ok(gaps[gaps.length - 1]! <= gaps[0]!, `gaps ${gaps}`);
    assert.ok(c.best.height - c.base.height >= 32, "the window is kept");
    const cp = c.checkpoints[c.checkpoints.length - 1]!;
    assert.equal(cp.hash, long[cp.height]!.hash);
    assert.equal(cp.chainWork, long[cp.height]!.chainWork);
    assert.equal(c.locate(cp.hash).status, "checkpoint");
  });

  it("never drops the trusted header, and reports a best chain without it as a rewrite", () => {
    const { c } = fed(main, "a", { window: 12 });
    c.advanceTrusted(6);
    assert.equal(c.trusted?.height, 35);
    assert.equal(c.trustStatus().status, "held");
    assert.equal(c.base.height, 28, "pruned to the window");
    // A heavier branch off height 30: below the trusted header. It grows well past the window, and the
    // tree still keeps the trusted header and the fork below it (the evidence of the rewrite).
    const rewrite = extend(asertnet, main.slice(0, 31), 60, { miner: "r" });
    c.add("r", raws(rewrite.slice(31)), { from: 31 });
    assert.equal(c.best.hash, rewrite[90]!.hash);
    assert.equal(c.base.height, 30);
    assert.equal(c.get(main[35]!.hash)?.height, 35);
    const t = c.trustStatus();
    assert.equal(t.status, "rewritten");
    if (t.status !== "rewritten") return;
    assert.deepEqual(t.fork, { height: 30, hash: main[30]!.hash });
    assert.equal(t.depth, 10);
    assert.equal(t.workLeft, main[40]!.chainWork - main[30]!.chainWork);
    assert.equal(t.workJoined, rewrite[90]!.chainWork - main[30]!.chainWork);
    // The trusted header does not move on a rewritten history.
    assert.equal(c.advanceTrusted(6)?.height, 35);
    // A reorg above the trusted header is not a rewrite.
    const { c: d } = fed(main, "a");
    d.advanceTrusted(6);
    d.add("s", raws(extend(asertnet, main.slice(0, 38), 5, { miner: "s" }).slice(38)), { from: 38 });
    assert.equal(d.best.height, 42);
    assert.equal(d.trustStatus().status, "held");
  });

  it("a long sync past an old trusted header stays bounded, and keeps that header as a checkpoint", () => {
    const long = extend(asertnet, main, 300);
    const c = new LightClient(asertnet, { window: 16, checkpointEvery: 1000, maxCheckpoints: 4 });
    c.add("a", raws(long.slice(1, 31)), { from: 1 });
    c.advanceTrusted(6);
    assert.equal(c.trusted?.height, 25);
    c.add("a", raws(long.slice(31)), { from: 31 });
    assert.ok(c.size <= 16 + 1 + pruneSlack(16) + 1, `${c.size} headers held`);
    assert.deepEqual(c.checkpoints, [{ height: 25, hash: long[25]!.hash, chainWork: long[25]!.chainWork }]);
    assert.equal(c.trustStatus().status, "held");
    // Saved and loaded, the trusted header below the window is still known (as that checkpoint).
    const back = loadLightState(asertnet, JSON.parse(JSON.stringify(saveLightState(c))));
    assert.deepEqual(back.trusted, c.trusted);
  });

  it("work figures are the consensus's", () => {
    const { c } = fed(main);
    assert.equal(c.best.work, blockWork(main[40]!.header.bits));
  });
});
