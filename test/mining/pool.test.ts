import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { blockMerkle } from "../../src/consensus/block.ts";
import { bitsToTarget } from "../../src/consensus/compact.ts";
import { hashToBigInt, headerHashBytes } from "../../src/consensus/header.ts";
import { kernelStatus } from "../../src/mining/kernels/index.ts";
import { MiningPool, type PoolJob, type PoolSolution } from "../../src/mining/pool.ts";
import { waitFor } from "../helpers/wait.ts";

const BASE: PoolJob = {
  prevHash: new Uint8Array(32).fill(0xab),
  height: 7,
  bits: 0x1f00ffff, // about 65,536 hashes a block
  time: 1795478400,
  miner: "pool-test",
};
const NEVER = 1n; // a target no hash meets in practice: the pool mines until told to stop

function nextFound(pool: MiningPool): Promise<PoolSolution> {
  return new Promise((resolve, reject) => {
    pool.once("found", resolve);
    pool.once("error", reject);
  });
}

describe("mining pool", () => {
  let pool: MiningPool;
  before(async () => {
    pool = await MiningPool.start({ threads: 2 });
  });
  after(async () => {
    await pool.close();
  });

  it("runs the fastest available kernel on every thread", () => {
    const best = kernelStatus().find((k) => k.available)!;
    assert.equal(pool.kernel, best.name);
    assert.equal(pool.threads, 2);
  });

  it("finds a block that meets the target, with its records in the merkle root", async () => {
    const records = [{ type: "data" as const, data: new TextEncoder().encode("hello") }];
    const found = nextFound(pool);
    const generation = pool.mine({ ...BASE, records, extraNonceBase: 5n << 32n });
    const s = await found;
    assert.equal(s.generation, generation);
    assert.ok(hashToBigInt(headerHashBytes(s.block.header)) <= bitsToTarget(BASE.bits)!);
    assert.deepEqual(s.hash, headerHashBytes(s.block.header));
    assert.deepEqual(s.block.header.merkleRoot, blockMerkle(s.block).root);
    assert.deepEqual(s.block.records.slice(1), records);
    const miner = s.block.records[0]!;
    assert.equal(miner.type, "miner");
    if (miner.type !== "miner") return;
    assert.equal(miner.height, BASE.height);
    assert.equal(miner.miner, BASE.miner);
    // Each worker has its own extra-nonce lane: base + worker index + k * threads.
    assert.equal((miner.extraNonce - (5n << 32n)) % 2n, BigInt(s.worker));
    // The find aborted the job: nobody is busy and every worker stops.
    assert.equal(pool.busy, false);
    await pool.idle();
  });

  it("abort stops every worker: acknowledgements arrive and hash counts freeze", async () => {
    const start = pool.hashCounts();
    const generation = pool.mine({ ...BASE, target: NEVER });
    // A loaded machine may take a while to schedule niced workers.
    await waitFor(() => pool.hashCounts().every((c, k) => c > start[k]!), {
      timeoutMs: 10_000,
      intervalMs: 10,
      what: "both threads to hash",
    });
    pool.abort();
    await pool.idle();
    const acks = pool.ackTimes(generation);
    assert.ok(
      acks.every((t) => typeof t === "bigint"),
      "every worker acknowledged the aborted generation",
    );
    const frozen = pool.hashCounts();
    await sleep(30);
    assert.deepEqual(pool.hashCounts(), frozen);
  });

  it("a new job replaces the running one and only its solution is reported", async () => {
    let solutions = 0;
    const count = (): void => {
      solutions++;
    };
    pool.on("found", count);
    pool.mine({ ...BASE, target: NEVER, prevHash: new Uint8Array(32).fill(1) });
    await sleep(20);
    const found = nextFound(pool);
    const generation = pool.mine({ ...BASE, prevHash: new Uint8Array(32).fill(2) });
    const s = await found;
    assert.equal(s.generation, generation);
    assert.deepEqual(s.block.header.prevHash, new Uint8Array(32).fill(2));
    await pool.idle();
    await sleep(20);
    pool.off("found", count);
    assert.equal(solutions, 1);
  });

  it("idle() refuses to wait on a running job", async () => {
    pool.mine({ ...BASE, target: NEVER });
    await assert.rejects(pool.idle(), /abort it first/);
    pool.abort();
    await pool.idle();
  });
});

describe("mining pool extra-nonce rolling", () => {
  it("rolls the extra-nonce (new merkle root) when a header's nonce space is used up", async () => {
    // 8 nonces per extra-nonce and a target needing ~2^18 hashes: a find in the first header of either
    // worker has odds of 16 in 262,144, so the solution must come from a rolled extra-nonce.
    const pool = await MiningPool.start({ threads: 2, nonceSpace: 8 });
    try {
      const base = 9n << 32n;
      const found = nextFound(pool);
      pool.mine({ ...BASE, target: 1n << 238n, extraNonceBase: base });
      const s = await found;
      const miner = s.block.records[0]!;
      assert.ok(miner.type === "miner");
      if (miner.type !== "miner") return;
      assert.ok(miner.extraNonce >= base + 2n, `extra-nonce ${miner.extraNonce - base} above the first lane`);
      assert.equal((miner.extraNonce - base) % 2n, BigInt(s.worker));
      assert.ok(s.block.header.nonce < 8);
      assert.ok(s.block.header.time >= BASE.time);
      assert.ok(hashToBigInt(s.hash) <= 1n << 238n);
      // Every header tried was distinct work: total hashes ≈ 8 per extra-nonce across both lanes.
      const hashes = pool.hashCounts().reduce((a, b) => a + b, 0);
      assert.ok(hashes >= Number(miner.extraNonce - base) * 4, `hashes ${hashes}`);
    } finally {
      await pool.close();
    }
  });
});

for (const k of kernelStatus()) {
  describe(`mining pool on the ${k.name} kernel`, { skip: k.available ? false : k.reason }, () => {
    it("finds a valid block from worker threads", async () => {
      const pool = await MiningPool.start({ threads: 1, kernel: k.name });
      try {
        assert.equal(pool.kernel, k.name);
        const found = nextFound(pool);
        pool.mine({ ...BASE, bits: 0x2000ffff });
        const s = await found;
        assert.ok(hashToBigInt(s.hash) <= bitsToTarget(0x2000ffff)!);
      } finally {
        await pool.close();
      }
      assert.throws(() => pool.mine(BASE), /closed/);
    });
  });
}
