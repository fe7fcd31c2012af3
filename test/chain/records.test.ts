/**
 * The record-id and author indexes and the exactly-once rule, on a real Chain and LevelStore:
 *
 *   genesis -> a1 (r1, s1) -> a2 (r2)                   branch A, first
 *          \-> b1 -> b2 -> b3 (r1)                      branch B overtakes A; r1 is valid again in B
 *                          \-> b4 (r1 again)            DUPLICATE_RECORD: r1 is in b4's ancestry (b3)
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Chain } from "../../src/chain/chain.ts";
import { verifyChain } from "../../src/chain/verify.ts";
import { recordIds } from "../../src/consensus/block.ts";
import { BlockError } from "../../src/consensus/errors.ts";
import { hashToHex } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import { type BlockRecord, recordId, signRecord } from "../../src/consensus/records.ts";
import { META_KEY, P_AUTHOR, P_RECORD, prefixRange } from "../../src/store/layout.ts";
import { LevelStore } from "../../src/store/level.ts";
import { blockHash, makeChild } from "../helpers/blocks.ts";
import { openHarness, Scenario } from "../helpers/chain.ts";

const data = (text: string): BlockRecord => ({ type: "data", data: new TextEncoder().encode(text) });
const idOf = (rec: BlockRecord): string => hashToHex(recordId(rec));
const seed = new Uint8Array(32).fill(7);
const r1 = data("r1");
const r2 = data("r2");
const s1 = signRecord(new TextEncoder().encode("signed one"), seed);
const author = Buffer.from(s1.publicKey).toString("hex");

function isDuplicate(err: unknown, id: string): boolean {
  return err instanceof BlockError && err.code === "DUPLICATE_RECORD" && err.message.includes(id);
}

describe("record index and the exactly-once rule", () => {
  it("indexes every main-chain record; a block repeating a confirmed one is DUPLICATE_RECORD, stored invalid", async () => {
    const h = await openHarness(regtest);
    try {
      const s = new Scenario(regtest);
      s.add("a1", "genesis", { records: [r1, s1] });
      s.add("a2", "a1", { records: [r2] });
      s.add("dup", "a2", { records: [data("new"), r1] });
      for (const n of ["a1", "a2"]) await h.chain.processBlock(s.get(n));

      assert.deepEqual(await h.chain.findRecord(idOf(r1)), { blockHash: s.hash("a1"), height: 1, index: 1 });
      assert.deepEqual(await h.chain.findRecord(idOf(r2)), { blockHash: s.hash("a2"), height: 2, index: 1 });
      assert.equal(await h.chain.isRecordConfirmed(idOf(s1)), true);
      assert.equal(await h.chain.isRecordConfirmed(idOf(data("never"))), false);
      assert.equal(await h.chain.findRecord(idOf(data("never"))), undefined);
      // Miner records are indexed too, so they can be found and proved.
      const minerId = hashToHex(recordIds(s.get("a2"))[0]!);
      assert.equal((await h.chain.findRecord(minerId))?.index, 0);
      assert.deepEqual(await h.chain.recordsByAuthor(author, { limit: 10 }), [
        { id: idOf(s1), blockHash: s.hash("a1"), height: 1, index: 2 },
      ]);

      await assert.rejects(h.chain.processBlock(s.get("dup")), (e) => isDuplicate(e, idOf(r1)));
      assert.equal(h.chain.tip.hash, s.hash("a2"));
      assert.equal(h.chain.getEntry(s.hash("dup"))?.status, "invalid");
      // Stored as invalid: a restart still refuses it without checking it again.
      await h.restart();
      assert.equal(h.chain.getEntry(s.hash("dup"))?.invalid?.code, "DUPLICATE_RECORD");
      await assert.rejects(h.chain.processBlock(s.get("dup")), (e) => isDuplicate(e, idOf(r1)));
      assert.deepEqual((await verifyChain(h.store, regtest)).problems, []);
    } finally {
      await h.dispose();
    }
  });

  it("processBlocks: a repeat of a record earlier in the same run, or already confirmed, is refused", async () => {
    const h = await openHarness(regtest);
    try {
      const s = new Scenario(regtest);
      s.add("c1", "genesis", { records: [r1] });
      s.add("c2", "c1", { records: [r2] });
      s.add("c3", "c2", { records: [data("x"), r2] }); // r2 is in c2, in the same run, not yet stored
      const results = await h.chain.processBlocks(["c1", "c2", "c3"].map((n) => ({ block: s.get(n) })));
      assert.equal(results.length, 3);
      assert.ok(isDuplicate(results[2], idOf(r2)));
      assert.equal(h.chain.tip.hash, s.hash("c2"));
      assert.equal(h.chain.getEntry(s.hash("c3"))?.status, "invalid");

      s.add("c3b", "c2", { records: [r1] }); // confirmed before this run, in c1
      const again = await h.chain.processBlocks([{ block: s.get("c3b") }]);
      assert.ok(isDuplicate(again[0], idOf(r1)));
      await h.restart();
      assert.equal(h.chain.getEntry(s.hash("c3b"))?.status, "invalid");
      assert.deepEqual((await verifyChain(h.store, regtest)).problems, []);
    } finally {
      await h.dispose();
    }
  });

  it("exactly once across a reorg: disconnected records are absent, the new branch's present", async () => {
    const h = await openHarness(regtest);
    try {
      const s = new Scenario(regtest);
      s.add("a1", "genesis", { records: [r1, s1] });
      s.add("a2", "a1", { records: [r2] });
      s.branch("b", "genesis", 1, 2, { records: [] });
      // b3 makes B heavier: the switch disconnects a1 and a2, so r1 is not in b3's ancestry.
      s.add("b3", "b2", { records: [r1] });
      s.add("b4", "b3", { records: [r1] });
      s.add("b4ok", "b3", { records: [r2, s1] });
      for (const n of ["a1", "a2", "b1", "b2"]) await h.chain.processBlock(s.get(n));
      assert.equal(h.chain.tip.hash, s.hash("a2"));
      const result = await h.chain.processBlock(s.get("b3"));
      assert.equal(result.status, "main");
      assert.equal(h.chain.tip.hash, s.hash("b3"));
      assert.deepEqual(await h.chain.findRecord(idOf(r1)), { blockHash: s.hash("b3"), height: 3, index: 1 });
      // Records only in the disconnected branch are gone from both indexes.
      assert.equal(await h.chain.findRecord(idOf(r2)), undefined);
      assert.deepEqual(await h.chain.recordsByAuthor(author, { limit: 10 }), []);

      await assert.rejects(h.chain.processBlock(s.get("b4")), (e) => isDuplicate(e, idOf(r1)));
      assert.equal((await h.chain.processBlock(s.get("b4ok"))).status, "main");
      assert.deepEqual(await h.chain.recordsByAuthor(author, { limit: 10 }), [
        { id: idOf(s1), blockHash: s.hash("b4ok"), height: 4, index: 2 },
      ]);
      const v = await verifyChain(h.store, regtest);
      assert.deepEqual(v.problems, []);
    } finally {
      await h.dispose();
    }
  });

  it("a reorg whose branch repeats a record inside itself stops at the block before the repeat", async () => {
    const h = await openHarness(regtest);
    try {
      const s = new Scenario(regtest);
      s.add("a1", "genesis");
      s.add("b1", "genesis", { records: [r1] });
      s.add("b2", "b1", { records: [r2] });
      s.add("b3", "b2", { records: [r1] }); // repeats b1's r1: the branch is valid up to b2
      for (const n of ["a1", "b1", "b3"]) await h.chain.processBlock(s.get(n)); // b3 waits as an orphan
      assert.equal(h.chain.tip.hash, s.hash("a1"));
      await h.chain.processBlock(s.get("b2"));
      assert.equal(h.chain.tip.hash, s.hash("b2"));
      assert.equal(h.chain.getEntry(s.hash("b3"))?.invalid?.code, "DUPLICATE_RECORD");
      assert.deepEqual((await verifyChain(h.store, regtest)).problems, []);
    } finally {
      await h.dispose();
    }
  });

  it("author pages run newest first with a before cursor", async () => {
    const h = await openHarness(regtest);
    try {
      const signed = Array.from({ length: 5 }, (_, i) =>
        signRecord(new TextEncoder().encode(`page ${i}`), seed),
      );
      let parent = regtest.genesis;
      const placed: Array<{ id: string; height: number; index: number }> = [];
      for (let height = 1; height <= 2; height++) {
        const recs = height === 1 ? signed.slice(0, 3) : signed.slice(3);
        parent = makeChild(parent, regtest, { records: recs });
        await h.chain.processBlock(parent);
        recs.forEach((r, i) => {
          placed.push({ id: idOf(r), height, index: i + 1 });
        });
      }
      const newest = placed.slice().reverse();
      const page1 = await h.chain.recordsByAuthor(author, { limit: 3 });
      assert.deepEqual(
        page1.map(({ id, height, index }) => ({ id, height, index })),
        newest.slice(0, 3),
      );
      const last = page1[2]!;
      const page2 = await h.chain.recordsByAuthor(author, { limit: 3, before: last });
      assert.deepEqual(
        page2.map(({ id, height, index }) => ({ id, height, index })),
        newest.slice(3),
      );
      assert.ok(page2.every((r) => r.blockHash === h.chain.getEntryAt(r.height)?.hash));
    } finally {
      await h.dispose();
    }
  });

  it("verify finds a missing, a misplaced and a stale index key", async () => {
    const h = await openHarness(regtest);
    const s = new Scenario(regtest);
    s.add("a1", "genesis", { records: [r1, s1] });
    await h.chain.processBlock(s.get("a1"));
    await h.chain.close();
    await h.store.close();
    const { ClassicLevel } = await import("classic-level");
    const db = new ClassicLevel<Uint8Array, Uint8Array>(h.dir, {
      keyEncoding: "view",
      valueEncoding: "view",
    });
    const rKey = (rec: BlockRecord): Uint8Array => Uint8Array.of(P_RECORD, ...recordId(rec));
    await db.del(rKey(r1));
    await db.put(rKey(data("stale")), new Uint8Array(8));
    await db.put(rKey(data("stale too")), new Uint8Array(8));
    await db.put(rKey(s1), Uint8Array.of(0, 0, 0, 1, 0, 0, 0, 5));
    await db.close();
    const store = await LevelStore.open(h.dir, regtest);
    try {
      const v = await verifyChain(store, regtest);
      assert.equal(v.ok, false, JSON.stringify(v.problems));
      assert.ok(v.problems.some((p) => p.includes(idOf(r1)) && p.includes("missing from the record index")));
      assert.ok(
        v.problems.some((p) => p.includes(idOf(s1)) && p.includes("indexed at height 1, position 5")),
      );
      // One key missing, two stale: one more key than main-chain records.
      const counts = v.problems
        .map((p) => /record index holds (\d+) ids for (\d+) main-chain/.exec(p))
        .find(Boolean);
      assert.ok(counts && Number(counts[1]) === Number(counts[2]) + 1, JSON.stringify(v.problems));
      // Startup re-checks the last blocks' records against the index too.
      await assert.rejects(Chain.open({ params: regtest, store }), /record 1 is missing in the record index/);
    } finally {
      await store.close();
    }
  });

  it("a version-1 store gets its index built on open, and a kill during that only restarts it", async () => {
    const h = await openHarness(regtest);
    const s = new Scenario(regtest);
    s.add("a1", "genesis", { records: [r1, s1] });
    s.add("a2", "a1", { records: [r2] });
    for (const n of ["a1", "a2"]) await h.chain.processBlock(s.get(n));
    await h.chain.close();
    await h.store.close();
    // What jbc before schema 2 left: no 'r' or 'a' keys, version 1.
    const { ClassicLevel } = await import("classic-level");
    const db = new ClassicLevel<Uint8Array, Uint8Array>(h.dir, {
      keyEncoding: "view",
      valueEncoding: "view",
    });
    const downgrade = async (): Promise<void> => {
      for (const p of [P_RECORD, P_AUTHOR]) await db.clear(prefixRange(p));
      const meta = (await db.get(META_KEY))!;
      meta[0] = 1;
      await db.put(META_KEY, meta);
    };
    await db.open();
    await downgrade();
    // A half-built index (as a kill during the migration leaves it) is completed, not duplicated.
    await db.put(Uint8Array.of(P_RECORD, ...recordId(r2)), Uint8Array.of(0, 0, 0, 2, 0, 0, 0, 1));
    await db.close();
    const store = await LevelStore.open(h.dir, regtest);
    try {
      const chain = await Chain.open({ params: regtest, store });
      assert.deepEqual(await chain.findRecord(idOf(r1)), {
        blockHash: blockHash(s.get("a1")),
        height: 1,
        index: 1,
      });
      assert.equal((await chain.recordsByAuthor(author, { limit: 5 })).length, 1);
      assert.deepEqual((await verifyChain(store, regtest)).problems, []);
      await chain.close();
    } finally {
      await store.close();
    }
    const reopened = await LevelStore.open(h.dir, regtest); // version 3 now: opens without migrating
    await reopened.close();
  });
});
