import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { Chain } from "../../src/chain/chain.ts";
import { regtest } from "../../src/consensus/params.ts";
import { LevelStore } from "../../src/store/level.ts";
import { tempDir } from "../helpers/chain.ts";

const run = promisify(execFile);
const BIN = new URL("../../bin/jbc.mjs", import.meta.url).pathname;

/** Runs `jbc mine` as a user would and returns the printed block lines as {height, hash}. */
async function mine(datadir: string, blocks: number): Promise<{ height: number; hash: string }[]> {
  const { stdout } = await run(
    process.execPath,
    [
      BIN,
      "mine",
      "--network",
      "regtest",
      "--datadir",
      datadir,
      "--blocks",
      String(blocks),
      "--threads",
      "2",
      "--miner",
      "e2e",
    ],
    { timeout: 60_000 },
  );
  return [...stdout.matchAll(/^block (\d+) ([0-9a-f]{64}) nonce \d+ extra-nonce \d+ in [\d.]+ s$/gm)].map(
    (m) => ({
      height: Number(m[1]),
      hash: m[2]!,
    }),
  );
}

describe("jbc mine (end to end, regtest, LevelDB in a temp dir)", () => {
  it("mines N blocks into the chain on disk, and a second run continues from its tip", async () => {
    const datadir = tempDir("jbc-mine-");
    try {
      const first = await mine(datadir, 6);
      assert.deepEqual(
        first.map((b) => b.height),
        [1, 2, 3, 4, 5, 6],
      );
      const second = await mine(datadir, 3);
      assert.deepEqual(
        second.map((b) => b.height),
        [7, 8, 9],
      );

      const store = await LevelStore.open(join(datadir, "chain"), regtest, { create: false });
      const chain = await Chain.open({ params: regtest, store });
      try {
        assert.equal(chain.height, 9);
        assert.equal(chain.tip.hash, second.at(-1)!.hash);
        for (const b of [...first, ...second]) {
          const entry = chain.getEntryAt(b.height);
          assert.equal(entry?.hash, b.hash, `main chain block at ${b.height}`);
          assert.equal(entry?.miner, "e2e");
        }
      } finally {
        await chain.close();
        await store.close();
      }
    } finally {
      rmSync(datadir, { recursive: true, force: true });
    }
  });
});
