/**
 * The mempool following a real chain (regtest, a Chain on a LevelStore in a temp dir), wired to the chain's
 * events as the node wires it: records leave when their block joins the main chain, not when it joins a side
 * branch; a reorg returns the records of the disconnected blocks that the new branch lacks, oldest block
 * first and ahead of what was pending; a sync batch announces many blocks before one tip.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { Chain } from "../../src/chain/chain.ts";
import { hashToHex } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import { type BlockRecord, recordId } from "../../src/consensus/records.ts";
import { Mempool } from "../../src/mempool/index.ts";
import { makeChild } from "../helpers/blocks.ts";
import { type Harness, openHarness } from "../helpers/chain.ts";

const data = (text: string): BlockRecord => ({ type: "data", data: new TextEncoder().encode(text) });
const idOf = (rec: BlockRecord): string => hashToHex(recordId(rec));

/** The node's wiring (src/node/node.ts startMempool). */
function follow(mempool: Mempool, chain: Chain): void {
  chain.on("disconnected", (_entry, block) => mempool.onDisconnected(block));
  chain.on("connected", (_entry, block) => mempool.onConnected(block));
  chain.on("tip", ({ reorg }) => mempool.onTip(reorg !== undefined));
}

describe("mempool following a chain", () => {
  let h: Harness;
  let mempool: Mempool;
  let added: Array<[string, string]>;
  let removed: string[][];

  beforeEach(async () => {
    h = await openHarness(regtest);
    mempool = new Mempool({ params: regtest, isConfirmed: (id) => h.chain.isRecordConfirmed(id) });
    follow(mempool, h.chain);
    added = [];
    removed = [];
    mempool.on("added", (e) => added.push([e.id, e.source.kind]));
    mempool.on("removed", (ids, reason) => {
      assert.equal(reason, "block");
      removed.push(ids);
    });
  });
  afterEach(() => h.dispose());

  async function admit(...records: BlockRecord[]): Promise<void> {
    for (const rec of records) {
      const r = await mempool.admit(rec, { kind: "api" });
      assert.ok(r.ok, r.ok ? "" : r.error.message);
    }
    added = [];
  }

  it("takes a main-chain block's records out, and leaves those of a side block pending", async () => {
    const [r1, r2, r3] = [data("r1"), data("r2"), data("r3")];
    await admit(r1, r2, r3);
    const a1 = makeChild(regtest.genesis, regtest, { miner: "a", records: [r1, data("never pending")] });
    assert.equal((await h.chain.processBlock(a1)).status, "main");
    assert.deepEqual(mempool.ids(10), [idOf(r2), idOf(r3)]);
    assert.deepEqual(removed, [[idOf(r1)]]);

    // Equal work: the block seen first stays the tip, and b1 is a side block.
    const b1 = makeChild(regtest.genesis, regtest, { miner: "b", records: [r2] });
    assert.equal((await h.chain.processBlock(b1)).status, "side");
    assert.deepEqual(mempool.ids(10), [idOf(r2), idOf(r3)]);
    assert.deepEqual(added, []);
    assert.equal((await mempool.admit(r1, { kind: "api" })).ok, false, "r1 is confirmed");
  });

  it("returns a reorg's lost records in chain order, ahead of the pending ones; the new branch's stay out", async () => {
    const [r1, both, r2, pending] = [data("r1"), data("both"), data("r2"), data("pending")];
    await admit(r1, both, r2);
    const a1 = makeChild(regtest.genesis, regtest, { miner: "a", records: [r1, both] });
    const a2 = makeChild(a1, regtest, { miner: "a", records: [r2] });
    for (const b of [a1, a2]) assert.equal((await h.chain.processBlock(b)).status, "main");
    await admit(pending);
    assert.deepEqual(mempool.ids(10), [idOf(pending)]);

    const b1 = makeChild(regtest.genesis, regtest, { miner: "b", records: [both] });
    const b2 = makeChild(b1, regtest, { miner: "b" });
    const b3 = makeChild(b2, regtest, { miner: "b" });
    for (const b of [b1, b2]) assert.equal((await h.chain.processBlock(b)).status, "side");
    const result = await h.chain.processBlock(b3);
    assert.equal(result.status === "main" ? result.reorg?.depth : undefined, 2);

    // Oldest disconnected block first, block order within it; no miner record comes back.
    assert.deepEqual(mempool.ids(10), [idOf(r1), idOf(r2), idOf(pending)]);
    assert.deepEqual(added, [
      [idOf(r1), "reorg"],
      [idOf(r2), "reorg"],
    ]);
    assert.equal(await h.chain.isRecordConfirmed(idOf(both)), true);
    assert.equal(mempool.has(idOf(both)), false);
    // What came back is pending in the pool's eyes and the chain's: a template takes it again.
    assert.equal(await h.chain.isRecordConfirmed(idOf(r1)), false);
    assert.deepEqual(
      mempool.take(1_000).map((e) => e.id),
      [idOf(r1), idOf(r2), idOf(pending)],
    );
  });

  it("follows a sync batch (processBlocks), and a later reorg returns only what that reorg lost", async () => {
    const xs = [data("x1"), data("x2"), data("x3")];
    await admit(...xs);
    const c1 = makeChild(regtest.genesis, regtest, { miner: "c", records: [xs[0]!] });
    const c2 = makeChild(c1, regtest, { miner: "c", records: [xs[1]!] });
    const c3 = makeChild(c2, regtest, { miner: "c", records: [xs[2]!] });
    const results = await h.chain.processBlocks([c1, c2, c3].map((block) => ({ block })));
    assert.deepEqual(
      results.map((r) => ("status" in r ? r.status : r.code)),
      ["main", "main", "main"],
    );
    assert.equal(mempool.size, 0);
    assert.deepEqual(removed.flat(), xs.map(idOf));

    // A fork from c2 that outgrows c3: only x3 was lost (the batch's blocks are not announced again).
    const d3 = makeChild(c2, regtest, { miner: "d" });
    const d4 = makeChild(d3, regtest, { miner: "d" });
    assert.equal((await h.chain.processBlock(d3)).status, "side");
    assert.equal((await h.chain.processBlock(d4)).status, "main");
    assert.deepEqual(mempool.ids(10), [idOf(xs[2]!)]);
    assert.deepEqual(added, [[idOf(xs[2]!), "reorg"]]);
  });
});
