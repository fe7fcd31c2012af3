import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Chain } from "../../src/chain/chain.ts";
import { regtest } from "../../src/consensus/params.ts";
import type { DataRecord } from "../../src/consensus/records.ts";
import { type BlockFound, type HashRateStats, Miner, type MinerOptions } from "../../src/mining/miner.ts";
import { makeChild, mineBlock } from "../helpers/blocks.ts";
import { openHarness } from "../helpers/chain.ts";
import { waitFor } from "../helpers/wait.ts";

/** Wires a miner to a real chain exactly as a node would: processBlock in, tip events out. */
function minerFor(chain: Chain, clock: { now: number }, extra: Partial<MinerOptions> = {}): Miner {
  return new Miner({
    getContext: (now) => chain.nextBlockContext(now),
    submit: (block) => chain.processBlock(block),
    onTip: (listener) => {
      chain.on("tip", listener);
      return () => chain.off("tip", listener);
    },
    minerName: "miner-test",
    threads: 2,
    now: () => clock.now,
    statsIntervalMs: 0,
    ...extra,
  });
}

function collectBlocks(miner: Miner, n: number): Promise<BlockFound[]> {
  const found: BlockFound[] = [];
  return new Promise((resolve, reject) => {
    miner.on("error", reject);
    miner.on("block", (b) => {
      found.push(b);
      if (found.length === n) resolve(found);
    });
  });
}

describe("miner on a real chain (regtest, LevelDB in a temp dir)", () => {
  it("mines blocks through processBlock; each extends the tip", async () => {
    const h = await openHarness(regtest);
    const miner = minerFor(h.chain, h.clock);
    try {
      const blocks = collectBlocks(miner, 8);
      await miner.start();
      const found = await blocks;
      await miner.stop();
      assert.deepEqual(
        found.map((b) => b.result.status),
        Array(8).fill("main"),
      );
      assert.deepEqual(
        found.map((b) => b.height),
        [1, 2, 3, 4, 5, 6, 7, 8],
      );
      assert.equal(h.chain.height, 8);
      assert.equal(h.chain.tip.hash, found[7]!.hash);
      assert.equal(h.chain.tip.miner, "miner-test");
      for (const b of found) assert.ok(b.elapsedMs >= 0);
    } finally {
      await miner.stop();
      await h.dispose();
    }
  });

  it("reading its state changes nothing: stats() only reads, startInterval() starts a new interval", async () => {
    const h = await openHarness(regtest);
    // A target no hash meets, so the miner keeps hashing on block 1; no stats timer resets the interval.
    const miner = minerFor(h.chain, h.clock, {
      getContext: (now) => ({ ...h.chain.nextBlockContext(now), bits: 0x03000001 }),
    });
    try {
      assert.equal(miner.running, false);
      await miner.start();
      assert.equal(miner.running, true);
      await waitFor(() => miner.stats().hashes > 0, { timeoutMs: 15_000, intervalMs: 10, what: "hashes" });
      await new Promise((r) => setTimeout(r, 50));
      const a = miner.stats();
      const b = miner.stats();
      assert.ok(a.intervalMs >= 50, `the interval runs from start (${a.intervalMs} ms)`);
      assert.ok(b.intervalMs >= a.intervalMs, "a second read did not reset the interval");
      assert.ok(b.hashes >= a.hashes);
      miner.startInterval();
      const c = miner.stats();
      assert.ok(c.intervalMs < a.intervalMs, "startInterval began a new interval");
      assert.equal(miner.lastStats, undefined, "no stats timer, no report");
      await miner.stop();
      assert.equal(miner.running, false);
    } finally {
      await miner.stop();
      await h.dispose();
    }
  });

  it("keeps its last stats report while running, and none once stopped", async () => {
    const h = await openHarness(regtest);
    const miner = minerFor(h.chain, h.clock, {
      getContext: (now) => ({ ...h.chain.nextBlockContext(now), bits: 0x03000001 }),
      statsIntervalMs: 30,
    });
    try {
      const reported = new Promise<HashRateStats>((resolve) => miner.once("stats", resolve));
      await miner.start();
      const report = await reported;
      assert.equal(miner.lastStats, report, "lastStats is the report just emitted");
      await miner.stop();
      assert.equal(miner.lastStats, undefined);
    } finally {
      await miner.stop();
      await h.dispose();
    }
  });

  it("counts the blocks it found", async () => {
    const h = await openHarness(regtest);
    const miner = minerFor(h.chain, h.clock);
    try {
      const blocks = collectBlocks(miner, 3);
      await miner.start();
      await blocks;
      await miner.stop();
      assert.ok(miner.blocksFound >= 3);
      assert.equal(miner.blocksFound, h.chain.height);
    } finally {
      await miner.stop();
      await h.dispose();
    }
  });

  it("stop waits for a block that is still being submitted, and nothing lands after it", async () => {
    const h = await openHarness(regtest);
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let submitted = 0;
    const miner = minerFor(h.chain, h.clock, {
      // The first found block is held in submit until the test lets it through.
      submit: async (block) => {
        submitted++;
        await gate;
        return h.chain.processBlock(block);
      },
    });
    try {
      await miner.start();
      // Niced workers on a loaded machine may take a while to be scheduled.
      await waitFor(() => submitted > 0, {
        timeoutMs: 15_000,
        intervalMs: 5,
        what: "a block to reach submit",
      });
      assert.equal(submitted, 1, "a block reached submit");
      let stopped = false;
      const stopping = miner.stop().then(() => {
        stopped = true;
      });
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(stopped, false, "stop is still waiting for the submission");
      release();
      await stopping;
      assert.equal(h.chain.height, 1, "the block found before the stop landed before stop resolved");
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(h.chain.height, 1);
      assert.equal(submitted, 1, "no solution was submitted after the stop began");
    } finally {
      release();
      await miner.stop();
      await h.dispose();
    }
  });

  it("includes the pending records it is given", async () => {
    const h = await openHarness(regtest);
    const pending: DataRecord[] = [{ type: "data", data: new TextEncoder().encode("pending note") }];
    const miner = minerFor(h.chain, h.clock, { records: () => pending });
    try {
      const blocks = collectBlocks(miner, 1);
      await miner.start();
      const [b] = await blocks;
      await miner.stop();
      const stored = await h.chain.getBlock(b!.hash);
      assert.ok(stored);
      assert.equal(stored.records.length, 2);
      const rec = stored.records[1]!;
      assert.equal(rec.type, "data");
      assert.deepEqual(Uint8Array.from(rec.data), pending[0]!.data);
    } finally {
      await miner.stop();
      await h.dispose();
    }
  });

  it("drops its job the moment a peer's block becomes the tip, and mines on top of it", async () => {
    const h = await openHarness(regtest);
    // A miner that cannot win (a target of 1) keeps hashing until the tip moves under it.
    const miner = minerFor(h.chain, h.clock, {
      getContext: (now) => ({ ...h.chain.nextBlockContext(now), bits: 0x03000001 }),
      statsIntervalMs: 20,
    });
    try {
      const stats: HashRateStats[] = [];
      const hashing = new Promise<void>((resolve) => {
        miner.on("stats", (s) => {
          stats.push(s);
          if (s.total > 0) resolve();
        });
      });
      await miner.start();
      const before = miner.working;
      assert.equal(before?.height, 1);
      await hashing;
      // A block from "the network": mined here, submitted straight to the chain.
      const peer = mineBlock(makeChild(regtest.genesis, regtest, { miner: "peer", time: h.clock.now - 60 }));
      const result = await h.chain.processBlock(peer);
      assert.equal(result.status, "main");
      // The tip event ran synchronously inside processBlock: the miner already works on height 2.
      const after = miner.working;
      assert.equal(after?.height, 2);
      assert.equal(after?.prevHashHex, h.chain.tip.hash);
      assert.ok(after!.generation > before!.generation);
      // Hash rate was reported per thread while mining.
      const last = stats.find((s) => s.total > 0)!;
      assert.equal(last.perThread.length, 2);
      assert.ok(last.total > 0);
      assert.equal(last.kernel, miner.kernel);
    } finally {
      await miner.stop();
      await h.dispose();
    }
  });

  it("reports a block the chain refuses, and keeps mining", async () => {
    const h = await openHarness(regtest);
    // The miner's clock runs 100 s ahead of the chain's, so its first block breaks the future-time
    // rule (drift 15 s): a real TIME_TOO_NEW from processBlock. Then the clocks are set to agree.
    const minerClock = { now: h.clock.now + 100 };
    const miner = minerFor(h.chain, minerClock);
    miner.on("block", (b) => {
      if (b.result.status === "rejected") minerClock.now = h.clock.now;
    });
    try {
      const blocks = collectBlocks(miner, 2);
      await miner.start();
      const [first, second] = await blocks;
      await miner.stop();
      assert.equal(first!.result.status, "rejected");
      assert.match(first!.result.status === "rejected" ? first!.result.reason : "", /future|new|time/i);
      assert.equal(second!.result.status, "main");
      assert.equal(second!.height, 1);
      assert.equal(h.chain.height, 1);
    } finally {
      await miner.stop();
      await h.dispose();
    }
  });
});
