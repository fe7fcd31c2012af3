/**
 * The switch planner (src/chain/switch.ts) without a store: a BlockTree in memory, real mined blocks,
 * and the plan and batch checked field by field. The LevelDB paths that write these batches are covered
 * by process.test.ts, records.test.ts and reorg.test.ts.
 *
 *   genesis -> a1 -> a2                 main (the tip is a2)
 *          \-> b1 -> b2 -> b3           a heavier branch; b3 is the candidate
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { genesisEntry } from "../../src/chain/load.ts";
import {
  applySwitch,
  firstFailure,
  planSwitch,
  type RunItem,
  refusal,
  reorgOf,
  runWrite,
  type SwitchPlan,
  switchWrite,
} from "../../src/chain/switch.ts";
import { BlockTree } from "../../src/chain/tree.ts";
import type { ChainEntry } from "../../src/chain/types.ts";
import { type Block, encodeBlock, recordIds } from "../../src/consensus/block.ts";
import { toHex } from "../../src/consensus/bytes.ts";
import { BlockError } from "../../src/consensus/errors.ts";
import { headerHash, headerHashBytes } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import type { BlockRecord } from "../../src/consensus/records.ts";
import { makeChain } from "../helpers/blocks.ts";

const data = (text: string): BlockRecord => ({ type: "data", data: new TextEncoder().encode(text) });

/**
 * The scenario's tree: a1, a2 on the main chain (valid), b1..b3 (or up to `branch`) a side branch whose
 * last block, the candidate, is not yet in the tree.
 */
function scenario(branch = 3) {
  const tree = new BlockTree(regtest);
  tree.initGenesis(genesisEntry(regtest, 0).entry);
  const bodies = new Map<ChainEntry, Block>();
  const named = new Map<string, ChainEntry>();
  const grow = (miner: string, length: number): void => {
    const blocks = makeChain(regtest, length, { miner, records: (h) => [data(`${miner}${h}`)] }).slice(1);
    let parent = tree.at(0)!;
    blocks.forEach((block, i) => {
      const facts = { hash: headerHashBytes(block.header), hashHex: headerHash(block.header), size: 0 };
      const entry = tree.newEntry(block, { ...facts, size: encodeBlock(block).length }, parent);
      named.set(`${miner}${i + 1}`, entry);
      bodies.set(entry, block);
      parent = entry;
    });
  };
  grow("a", 2);
  const a1 = named.get("a1")!;
  const a2 = named.get("a2")!;
  for (const x of [a1, a2]) {
    x.status = "valid";
    tree.add(x);
  }
  tree.setMain(tree.at(0)!, [a1, a2]);
  grow("b", branch);
  const b1 = named.get("b1")!;
  const b2 = named.get("b2")!;
  const b3 = named.get("b3")!;
  const candidate = named.get(`b${branch}`)!;
  for (let i = 1; i < branch; i++) tree.add(named.get(`b${i}`)!);
  const ids = new Map<ChainEntry, Uint8Array[]>([...bodies].map(([x, b]) => [x, recordIds(b)]));
  return { tree, bodies, ids, a1, a2, b1, b2, b3, candidate };
}

type Scenario = ReturnType<typeof scenario>;

/** The plan for the candidate with `failed` as the branch's verdict. */
function planFor(s: Scenario, failed?: { entry: ChainEntry; error: BlockError }): SwitchPlan {
  const { fork, branch } = s.tree.branchOf(s.candidate);
  return planSwitch({
    candidate: s.candidate,
    previous: s.tree.tip,
    fork,
    branch,
    mainAbove: s.tree.mainSlice(fork.height + 1),
    failed,
    descendants: (root) => s.tree.descendants(root, s.candidate),
  });
}

const badSignature = (x: ChainEntry): BlockError =>
  new BlockError({ code: "BAD_SIGNATURE", index: 1 }, x.hash);

describe("switch planner: a heavier branch", () => {
  it("connects the whole branch and disconnects the old main chain, newest first", () => {
    const s = scenario();
    const plan = planFor(s);
    assert.equal(plan.fork, s.tree.at(0));
    assert.equal(plan.target, s.b3);
    assert.deepEqual(plan.connect, [s.b1, s.b2, s.b3]);
    assert.deepEqual(plan.disconnect, [s.a2, s.a1]);
    assert.deepEqual(
      [...plan.status].map(([x, st]) => [x.hash, st.status]),
      [s.b1, s.b2, s.b3].map((x) => [x.hash, "valid"]),
    );
    assert.equal(refusal(plan), undefined);
    const reorg = reorgOf(plan)!;
    assert.deepEqual(reorg.disconnected, [s.a1, s.a2]);
    assert.equal(reorg.depth, 2);
  });

  it("writes one batch: the candidate's body, every entry, the height index and both record-index sides", () => {
    const s = scenario();
    const plan = planFor(s);
    const raw = encodeBlock(s.bodies.get(s.b3)!);
    const w = switchWrite(plan, { block: s.bodies.get(s.b3)!, raw }, s.bodies, s.ids);
    assert.deepEqual(
      w.blocks?.map((b) => b.raw),
      [raw],
    );
    assert.deepEqual(
      w.entries?.map((e) => [toHex(e.hash), e.status]),
      [s.b1, s.b2, s.b3].map((x) => [toHex(x.hashBytes), "valid"]),
    );
    assert.deepEqual(
      w.mainPut?.map((p) => [p.height, toHex(p.hash)]),
      [s.b1, s.b2, s.b3].map((x) => [x.height, toHex(x.hashBytes)]),
    );
    assert.deepEqual(w.mainDel, []);
    assert.equal(toHex(w.tip!), toHex(s.b3.hashBytes));
    // Two records a block (the miner record and one data record): out for a2, a1; in for b1..b3.
    assert.deepEqual(
      w.recordsDel?.map((r) => [r.height, r.index, toHex(r.id)]),
      [s.a2, s.a1].flatMap((x) => s.ids.get(x)!.map((id, i) => [x.height, i, toHex(id)])),
    );
    assert.deepEqual(
      w.recordsPut?.map((r) => [r.height, r.index, toHex(r.id)]),
      [s.b1, s.b2, s.b3].flatMap((x) => s.ids.get(x)!.map((id, i) => [x.height, i, toHex(id)])),
    );
  });

  it("applied to the tree: the branch is the main chain and the candidate is in the tree", () => {
    const s = scenario();
    applySwitch(s.tree, planFor(s));
    assert.equal(s.tree.tip, s.b3);
    assert.deepEqual(s.tree.mainSlice(1), [s.b1, s.b2, s.b3]);
    assert.equal(s.tree.get(s.b3.hash), s.b3);
    assert.equal(s.b2.status, "valid");
    assert.equal(s.tree.isMain(s.a1), false);
  });
});

describe("switch planner: a branch with a bad block", () => {
  it("b2 fails: b2 invalid, b3 invalid-child, the tip stays (b1 has no more work than a2)", () => {
    const s = scenario();
    const error = badSignature(s.b2);
    const plan = planFor(s, { entry: s.b2, error });
    assert.equal(plan.target, s.a2);
    assert.deepEqual(plan.connect, []);
    assert.deepEqual(plan.disconnect, []);
    assert.deepEqual(
      [...plan.status].map(([x, st]) => [x.hash, st.status, st.invalid?.code]),
      [
        [s.b2.hash, "invalid", "BAD_SIGNATURE"],
        [s.b3.hash, "invalid-child", undefined],
      ],
    );
    assert.equal(reorgOf(plan), undefined);
    const refused = refusal(plan)!;
    assert.equal(refused.code, "INVALID_PARENT");
    assert.equal(refused.hash, s.b3.hash);
    assert.deepEqual(refused.data, { code: "INVALID_PARENT", parent: s.b2.hash });

    // The batch stores the candidate and the marks, and leaves the main chain and the index alone.
    const w = switchWrite(plan, { block: s.bodies.get(s.b3)!, raw: new Uint8Array(1) }, s.bodies, s.ids);
    assert.equal(w.blocks?.length, 1);
    assert.deepEqual(
      w.entries?.map((e) => [toHex(e.hash), e.status]),
      [
        [toHex(s.b2.hashBytes), "invalid"],
        [toHex(s.b3.hashBytes), "invalid-child"],
      ],
    );
    assert.equal(w.tip, undefined);
    assert.deepEqual([w.mainPut, w.mainDel, w.recordsDel, w.recordsPut], [[], [], [], []]);
  });

  it("the candidate fails: its own error; the valid prefix keeps the tip where its work only equals it", () => {
    const s = scenario();
    const error = badSignature(s.b3);
    const plan = planFor(s, { entry: s.b3, error });
    assert.equal(refusal(plan), error);
    assert.equal(s.b2.chainWork, s.a2.chainWork);
    assert.equal(plan.target, s.a2);
    assert.deepEqual(plan.connect, []);
    assert.deepEqual([...plan.status.keys()], [s.b3]);
  });

  it("b4 fails: the valid prefix b1..b3 (more work than a2) becomes the tip", () => {
    const s = scenario(4);
    const error = badSignature(s.candidate);
    const plan = planFor(s, { entry: s.candidate, error });
    assert.equal(refusal(plan), error);
    assert.equal(plan.target, s.b3);
    assert.deepEqual(plan.connect, [s.b1, s.b2, s.b3]);
    assert.deepEqual(plan.disconnect, [s.a2, s.a1]);
    assert.deepEqual(plan.status.get(s.candidate), { status: "invalid", invalid: error.data });
    const block = s.bodies.get(s.candidate)!;
    const w = switchWrite(plan, { block, raw: new Uint8Array(1) }, s.bodies, s.ids);
    assert.equal(toHex(w.tip!), toHex(s.b3.hashBytes));
    assert.deepEqual(
      w.entries?.map((e) => e.status),
      ["invalid", "valid", "valid", "valid"],
    );
  });

  it("a switch to a shorter chain with more work deletes the heights above its tip", () => {
    // Work is not height: a1..a2 hold less work than one heavier block b1 (hand-made entries).
    const s = scenario();
    const heavy: ChainEntry = { ...s.b1, chainWork: s.a2.chainWork + 1n, status: "accepted" };
    const plan = planSwitch({
      candidate: heavy,
      previous: s.a2,
      fork: s.tree.at(0)!,
      branch: [heavy],
      mainAbove: [s.a1, s.a2],
      failed: undefined,
      descendants: () => [],
    });
    const bodies = new Map(s.bodies).set(heavy, s.bodies.get(s.b1)!);
    const ids = new Map(s.ids).set(heavy, s.ids.get(s.b1)!);
    const w = switchWrite(plan, { block: bodies.get(heavy)!, raw: new Uint8Array(1) }, bodies, ids);
    assert.deepEqual(w.mainDel, [2]);
    assert.deepEqual(
      w.mainPut?.map((p) => p.height),
      [1],
    );
  });
});

describe("switch planner: firstFailure", () => {
  it("checks only blocks never connected, in order, each against the ids of the blocks before it", async () => {
    const s = scenario();
    s.b1.status = "valid";
    const branch = [s.b1, s.b2, s.b3];
    const earlier = new Map<string, string>();
    const seen: Array<[string, string[]]> = [];
    const failure = await firstFailure(
      branch,
      s.ids,
      (x) => {
        seen.push([x.hash, [...new Set(earlier.values())]]);
        return x === s.b3 ? badSignature(x) : undefined;
      },
      earlier,
    );
    assert.deepEqual(seen, [
      [s.b2.hash, [s.b1.hash]],
      [s.b3.hash, [s.b1.hash, s.b2.hash]],
    ]);
    assert.equal(failure?.entry, s.b3);
    assert.equal(failure?.error.code, "BAD_SIGNATURE");
  });

  it("stops at the first failure and is undefined when every block passes", async () => {
    const s = scenario();
    const branch = [s.b1, s.b2, s.b3];
    let calls = 0;
    const first = await firstFailure(
      branch,
      s.ids,
      (x) => {
        calls++;
        return x === s.b1 ? badSignature(x) : undefined;
      },
      new Map(),
    );
    assert.equal(first?.entry, s.b1);
    assert.equal(calls, 1);
    assert.equal(await firstFailure(branch, s.ids, () => undefined, new Map()), undefined);
  });
});

describe("switch planner: runWrite", () => {
  it("a run of extensions is one batch: bodies, entries, heights, the tip and every record", () => {
    const s = scenario();
    const run: RunItem[] = [s.b1, s.b2].map((entry) => {
      const block = s.bodies.get(entry)!;
      return { entry, block, raw: encodeBlock(block), ids: s.ids.get(entry)!, upper: undefined };
    });
    const w = runWrite(run);
    assert.deepEqual(
      w.blocks?.map((b) => toHex(b.hash)),
      [s.b1, s.b2].map((x) => toHex(x.hashBytes)),
    );
    assert.deepEqual(
      w.mainPut?.map((p) => p.height),
      [1, 2],
    );
    assert.equal(toHex(w.tip!), toHex(s.b2.hashBytes));
    assert.equal(w.recordsPut?.length, 4);
    assert.equal(w.recordsDel, undefined);
  });
});
