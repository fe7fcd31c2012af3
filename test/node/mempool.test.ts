/**
 * The mempool in the composition root, with real nodes in-process (regtest, real LevelDB, no P2P): a mining
 * node puts an admitted record into its next block; records leave the pool when their block connects and
 * come back after a reorg that disconnects them; pending records survive a restart.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, describe, it } from "node:test";
import { hashToHex } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import { type BlockRecord, recordId } from "../../src/consensus/records.ts";
import { realServices } from "../../src/node/adapters.ts";
import { JbcNode } from "../../src/node/node.ts";
import { makeChild } from "../helpers/blocks.ts";
import { tempDir } from "../helpers/chain.ts";
import { waitFor } from "../helpers/wait.ts";

const data = (text: string): BlockRecord => ({ type: "data", data: new TextEncoder().encode(text) });
const idOf = (rec: BlockRecord): string => hashToHex(recordId(rec));
const dirs: string[] = [];
const dir = (): string => {
  const d = tempDir("jbc-node-mempool-");
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("node mempool", () => {
  it("a record admitted to a mining node's mempool is in its next block", { timeout: 60_000 }, async () => {
    const { miner } = realServices();
    const node = await JbcNode.create(
      { params: regtest, datadir: dir(), http: { port: 0 }, p2p: false, threads: 1, mine: true },
      { miner },
    );
    try {
      await waitFor(() => node.chain.height >= 3, { timeoutMs: 20_000, what: "the miner to find blocks" });
      for (let i = 0; i < 3; i++) {
        // Leave the throttle's interval, so the admission rebuilds the template at once (leading edge).
        await new Promise((r) => setTimeout(r, 300));
        const rec = data(`next block ${i}`);
        const before = node.chain.height;
        const admitted = await node.mempool.admit(rec, { kind: "api" });
        assert.equal(admitted.ok, true);
        const loc = await waitFor(() => node.chain.findRecord(idOf(rec)), {
          timeoutMs: 20_000,
          what: "the record to be mined",
        });
        // The next block; or the one after, when a block of the old template was already being submitted.
        assert.ok(loc.height <= before + 2, `record at height ${loc.height}, tip was ${before}`);
        assert.equal(node.mempool.has(idOf(rec)), false, "a mined record leaves the pool");
      }
    } finally {
      await node.stop();
    }
  });

  it("a reorg that disconnects a record's block returns it to the pool; the new branch's leave it", async () => {
    const datadir = dir();
    const node = await JbcNode.create({ params: regtest, datadir, http: { port: 0 }, p2p: false }, {});
    try {
      const r = data("in branch A only");
      const both = data("in both branches");
      const pending = data("pending meanwhile");
      for (const rec of [r, both, pending])
        assert.equal((await node.mempool.admit(rec, { kind: "api" })).ok, true);
      const a1 = makeChild(regtest.genesis, regtest, { miner: "a", records: [r, both] });
      await node.chain.processBlock(a1);
      assert.deepEqual(node.mempool.ids(10), [idOf(pending)]);

      const b1 = makeChild(regtest.genesis, regtest, { miner: "b", records: [both] });
      const b2 = makeChild(b1, regtest, { miner: "b" });
      await node.chain.processBlock(b1);
      const result = await node.chain.processBlock(b2);
      assert.equal(result.status, "main");
      // r came back ahead of what was pending; `both` is confirmed in B and stays out.
      assert.deepEqual(node.mempool.ids(10), [idOf(r), idOf(pending)]);
      assert.equal(node.mempool.get(idOf(r))?.source.kind, "reorg");
      assert.equal(await node.chain.isRecordConfirmed(idOf(both)), true);
      assert.equal(await node.chain.isRecordConfirmed(idOf(r)), false);
    } finally {
      await node.stop();
    }
    // Saved at shutdown, loaded at start: the pending records and their order survive a restart.
    const again = await JbcNode.create({ params: regtest, datadir, http: { port: 0 }, p2p: false }, {});
    try {
      assert.deepEqual(again.mempool.ids(10), [
        idOf(data("in branch A only")),
        idOf(data("pending meanwhile")),
      ]);
    } finally {
      await again.stop();
    }
  });
});
