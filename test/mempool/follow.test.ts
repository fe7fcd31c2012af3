/**
 * The mempool following a real chain (regtest, a Chain on a LevelStore in a temp dir), wired to the chain's
 * events as the node wires it: records leave when their block joins the main chain, not when it joins a side
 * branch; a reorg returns the records of the disconnected blocks that the new branch lacks, oldest block
 * first and ahead of what was pending; a sync batch announces many blocks before one tip. The pool's file
 * keeps what a reorg returned: saved at once, and found again from the saved tip after a kill before that.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { Chain } from "../../src/chain/chain.ts";
import type { ChainEntry } from "../../src/chain/types.ts";
import type { Block } from "../../src/consensus/block.ts";
import { hashToHex, headerHash } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import { type BlockRecord, recordId } from "../../src/consensus/records.ts";
import { Mempool, mempoolFile, readMempoolFile } from "../../src/mempool/index.ts";
import { makeChild } from "../helpers/blocks.ts";
import { type Harness, openHarness, tempDir } from "../helpers/chain.ts";
import { waitFor } from "../helpers/wait.ts";

const data = (text: string): BlockRecord => ({ type: "data", data: new TextEncoder().encode(text) });
const idOf = (rec: BlockRecord): string => hashToHex(recordId(rec));

/** The node's wiring (src/node/node.ts startMempool); returns its undoing. */
function follow(mempool: Mempool, chain: Chain): () => void {
  const disconnected = (entry: ChainEntry, block: Block): void => mempool.onDisconnected(block, entry);
  const connected = (entry: ChainEntry, block: Block): void => mempool.onConnected(block, entry);
  const tip = ({ reorg }: { reorg?: unknown }): void => void mempool.onTip(reorg !== undefined);
  chain.on("disconnected", disconnected);
  chain.on("connected", connected);
  chain.on("tip", tip);
  return () => {
    chain.off("disconnected", disconnected);
    chain.off("connected", connected);
    chain.off("tip", tip);
  };
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

describe("the mempool file across a reorg", () => {
  let h: Harness;
  let dir: string;
  beforeEach(async () => {
    h = await openHarness(regtest);
    dir = tempDir("jbc-mempool-reorg-");
  });
  afterEach(async () => {
    await h.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const open = (): Mempool =>
    new Mempool({
      params: regtest,
      isConfirmed: (id) => h.chain.isRecordConfirmed(id),
      file: mempoolFile(dir),
      chain: h.chain,
    });

  /** a1 (main) carries r1 and r2; b1 b2 then take its place, b1 carrying r2 again. */
  function branches() {
    const [r1, r2] = [data("r1"), data("r2")];
    const a1 = makeChild(regtest.genesis, regtest, { miner: "a", records: [r1, r2] });
    const b1 = makeChild(regtest.genesis, regtest, { miner: "b", records: [r2] });
    const b2 = makeChild(b1, regtest, { miner: "b" });
    return { r1, r2, a1, b1, b2 };
  }

  it("is saved at once when a reorg returns records, with the new tip", async () => {
    const mp = open();
    follow(mp, h.chain);
    await mp.load();
    const { r1, a1, b1, b2 } = branches();
    await h.chain.processBlock(a1);
    await mp.save();
    for (const b of [b1, b2]) await h.chain.processBlock(b);
    assert.deepEqual(mp.ids(10), [idOf(r1)]);
    // No timer, no shutdown: the reorg itself wrote the file.
    const saved = await waitFor(
      async () => {
        const f = await readMempoolFile(mempoolFile(dir), regtest.networkId);
        return f.status === "ok" && f.records.length === 1 ? f : undefined;
      },
      { timeoutMs: 5_000, what: "the save after the reorg" },
    );
    assert.equal(saved.followed?.tip, headerHash(b2.header));
    assert.equal(saved.records[0]!.share, "reorg");
  });

  it("brings back what a reorg returned when the process died before the pool was saved", async () => {
    const before = open();
    const unfollow = follow(before, h.chain);
    await before.load();
    const { r1, r2, a1, b1, b2 } = branches();
    const pending = data("pending");
    for (const r of [r1, r2, pending]) assert.ok((await before.admit(r, { kind: "api" })).ok);
    assert.equal((await h.chain.processBlock(a1)).status, "main");
    await before.save(); // saved on a1, holding `pending`
    // The chain's reorg is one batch; a kill right after it leaves the pool unsaved (and unaware).
    unfollow();
    for (const b of [b1, b2]) await h.chain.processBlock(b);
    assert.equal(h.chain.tip.hash, headerHash(b2.header));

    const after = open();
    follow(after, h.chain);
    const r = await after.load();
    assert.deepEqual(r, { status: "ok", loaded: 1, expired: 0, refused: 0, returned: 1 });
    assert.deepEqual(after.ids(10), [idOf(r1), idOf(pending)], "r1 back, ahead; r2 is in b1");
    assert.deepEqual(after.get(idOf(r1))!.source, { kind: "reorg" });
    // Saved again, the file now belongs with b2: a further start returns nothing twice.
    await after.save();
    const again = open();
    assert.deepEqual(await again.load(), { status: "ok", loaded: 2, expired: 0, refused: 0, returned: 0 });
    assert.deepEqual(again.ids(10), [idOf(r1), idOf(pending)]);
  });

  it("finds every block that was main after the save, across two reorgs and a block the pool never saw", async () => {
    const before = open();
    const unfollow = follow(before, h.chain);
    await before.load(); // saves at once: the file starts at genesis
    const [ra, rb, rc, both] = [data("in a"), data("in b"), data("in c"), data("in a and c")];
    const a1 = makeChild(regtest.genesis, regtest, { miner: "a", records: [ra, both] });
    assert.equal((await h.chain.processBlock(a1)).status, "main");
    await before.save(); // saved on a1
    unfollow();
    // After the save: b (two blocks) replaces a, then c (three blocks) replaces b.
    const b1 = makeChild(regtest.genesis, regtest, { miner: "b", records: [rb] });
    const b2 = makeChild(b1, regtest, { miner: "b" });
    const c1 = makeChild(regtest.genesis, regtest, { miner: "c", records: [rc, both] });
    const c2 = makeChild(c1, regtest, { miner: "c" });
    const c3 = makeChild(c2, regtest, { miner: "c" });
    // As a sync delivers them (asked for): c2 ties b2 on a fork that already holds two side bodies, so
    // offered unasked it would be kept as a header only (docs/protocol.md, "Blocks nobody asked for").
    for (const b of [b1, b2, c1, c2, c3]) await h.chain.processBlock(b, { requested: true });
    assert.equal(h.chain.tip.hash, headerHash(c3.header));

    const after = open();
    const r = await after.load();
    assert.deepEqual(r, { status: "ok", loaded: 0, expired: 0, refused: 0, returned: 2 });
    assert.deepEqual(after.ids(10), [idOf(ra), idOf(rb)], "a's record and b's, not what c confirms");
  });
});
