/**
 * Crash safety of the batched sync path: a child node (crash-sync-child.ts) syncs a 6,000-block chain
 * through Chain.processBlocks, which commits runs of up to 500 blocks per LevelDB batch, and is killed with
 * SIGKILL at random moments, 20 times, then restarted on the same datadir. After every kill, with the
 * child dead, the parent opens the store itself and checks that Chain.open succeeds, verifyChain finds no
 * problem, the tip is a block of the chain being synced at or above every block the child had confirmed,
 * and every confirmed block is still stored. Finally the child runs to the end. A sync that finishes before
 * all the kills have landed (possible when the parent reads the child's output late) is checked, and the
 * kills go on with a fresh store.
 *
 * JBC_CRASH_SEED=<seed> replays a failing run.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Chain } from "../../src/chain/chain.ts";
import { verifyChain } from "../../src/chain/verify.ts";
import { encodeBlock } from "../../src/consensus/block.ts";
import { regtest } from "../../src/consensus/params.ts";
import { LevelStore } from "../../src/store/level.ts";
import { blockHash, makeChild } from "../helpers/blocks.ts";
import { tempDir } from "../helpers/chain.ts";
import { CRASH_CLOCK, prng, writeBlockFile } from "./crash-fixtures.ts";

const CHILD = fileURLToPath(new URL("./crash-sync-child.ts", import.meta.url));
const KILLS = 20;
const BLOCKS = 6000;

interface Life {
  confirmed: number[];
  done: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * Runs the child. It is killed `delayMs` after it confirms a block at index >= `killAt` (a chunk has just
 * committed, so the kill lands while the next chunk is validated or written); never when killAt is undefined.
 */
function life(dir: string, file: string, chunk: number, killAt?: number, delayMs = 0): Promise<Life> {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, dir, file, String(chunk)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const confirmed: number[] = [];
  let done = false;
  let armed = killAt !== undefined;
  createInterface({ input: child.stdout! }).on("line", (line) => {
    if (line === "done") done = true;
    const m = /^ok (\d+) \S+$/.exec(line);
    if (!m) return;
    const index = Number(m[1]);
    confirmed.push(index);
    if (armed && index >= killAt!) {
      armed = false;
      setTimeout(() => child.kill("SIGKILL"), delayMs);
    }
  });
  return new Promise((resolve) => {
    child.on("exit", (code, signal) => resolve({ confirmed, done, code, signal }));
  });
}

describe("crash safety of the batched sync path (processBlocks)", () => {
  it(`survives ${KILLS} SIGKILLs while syncing ${BLOCKS} blocks`, { timeout: 240_000 }, async () => {
    const seed = Number(process.env["JBC_CRASH_SEED"] ?? Date.now() % 1_000_000);
    const rand = prng(seed);
    const records = (i: number) =>
      Array.from({ length: 10 }, (_, j) => ({
        type: "data" as const,
        data: new TextEncoder().encode(`b${i}r${j}`.padEnd(100, ".")),
      }));
    const blocks = [regtest.genesis];
    for (let i = 1; i <= BLOCKS; i++)
      blocks.push(makeChild(blocks[i - 1]!, regtest, { miner: "sync", records: records(i) }));
    const hashes = blocks.map(blockHash);
    const heightOf = new Map(hashes.map((h, i) => [h, i]));
    const dir = tempDir("jbc-crash-sync-");
    const file = join(dir, "blocks.bin");
    writeFileSync(file, writeBlockFile(blocks.slice(1).map(encodeBlock)));
    let round = 0;
    let db = join(dir, `chain-${round}`);
    let confirmedHigh = -1;
    let kills = 0;
    /** Checks that the store at `db` holds the whole chain, after a life that ran to the end. */
    const assertComplete = async (): Promise<void> => {
      const store = await LevelStore.open(db, regtest, { create: false });
      const chain = await Chain.open({ params: regtest, store, now: () => CRASH_CLOCK });
      assert.equal(chain.tip.hash, hashes[BLOCKS], `seed ${seed}`);
      assert.deepEqual((await verifyChain(store, regtest)).problems, [], `seed ${seed}`);
      await chain.close();
      await store.close();
    };
    try {
      while (kills < KILLS) {
        const chunk = 100 + Math.floor(rand() * 400);
        const killAt = confirmedHigh + Math.floor(rand() * 200);
        const l = await life(db, file, chunk, killAt, rand() * 10);
        if (l.done) {
          // The sync finished before the kills did (the parent read the child's lines late, so kills
          // landed chunks apart): check the result and carry on with a fresh store.
          await assertComplete();
          assert.ok(++round < 10, `seed ${seed}: ${round} syncs finished with only ${kills} kills`);
          db = join(dir, `chain-${round}`);
          confirmedHigh = -1;
          continue;
        }
        assert.equal(l.signal, "SIGKILL", `seed ${seed}: child exited on its own (code ${l.code})`);
        kills++;
        for (const i of l.confirmed) confirmedHigh = Math.max(confirmedHigh, i);

        const store = await LevelStore.open(db, regtest, { create: false });
        try {
          const chain = await Chain.open({ params: regtest, store, now: () => CRASH_CLOCK });
          const tipHeight = heightOf.get(chain.tip.hash);
          assert.ok(
            tipHeight !== undefined,
            `seed ${seed}: tip ${chain.tip.hash} is not on the synced chain`,
          );
          assert.ok(
            tipHeight >= confirmedHigh + 1,
            `seed ${seed}: tip ${tipHeight} below confirmed block ${confirmedHigh + 1}`,
          );
          for (let i = 0; i <= confirmedHigh; i++) {
            assert.ok(chain.getEntry(hashes[i + 1]!), `seed ${seed}: confirmed block ${i + 1} lost`);
          }
          const v = await verifyChain(store, regtest);
          assert.deepEqual(v.problems, [], `seed ${seed}`);
          assert.equal(v.checked, tipHeight + 1);
          await chain.close();
        } finally {
          await store.close();
        }
      }
      const last = await life(db, file, 500);
      assert.ok(last.done, `seed ${seed}: the final life did not finish`);
      await assertComplete();
    } finally {
      const { rmSync } = await import("node:fs");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
