/**
 * Schema 4 → 5, the record cap on stored data (docs/consensus.md, "Records per block"; docs/storage.md): a
 * store written before the cap is upgraded in place when no block in it holds more than MAX_BLOCK_RECORDS
 * records, and refused with OLD_RULES, naming the block, when one does; refused, it stays at schema 4.
 * Real LevelDB; the over-cap block is written by a chain whose params allow it, as an older jbc would have.
 */
import assert from "node:assert/strict";
import { cpSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Chain } from "../../src/chain/chain.ts";
import { StoreError } from "../../src/chain/store.ts";
import { MAX_BLOCK_RECORDS } from "../../src/consensus/block.ts";
import { defineNetwork, regtest } from "../../src/consensus/params.ts";
import { LevelStore } from "../../src/store/level.ts";
import { SCHEMA_VERSION } from "../../src/store/schema.ts";
import { blockHash, makeChain, makeChild } from "../helpers/blocks.ts";
import { tempDir } from "../helpers/chain.ts";
import { dataRecords } from "../helpers/net.ts";
import { setStoredVersion, storeBlocks, storedVersion } from "./raw-db.ts";

const MAIN = makeChain(regtest, 3);
/** A side block one record over the cap: valid under the old rules. */
const BIG = makeChild(MAIN[1]!, regtest, { miner: "old", records: dataRecords(2, MAX_BLOCK_RECORDS, 10) });
const root = tempDir("jbc-record-cap-");
const clean = join(root, "clean");

before(() => storeBlocks(clean, regtest, MAIN.slice(1)));
after(() => rmSync(root, { recursive: true, force: true }));

describe("schema 4 → 5: the record cap on stored data", () => {
  it("this jbc refuses a block over the cap (BAD_SIZE, not cached)", async () => {
    const dir = join(root, "refuse-block");
    cpSync(clean, dir, { recursive: true });
    const s = await LevelStore.open(dir, regtest);
    const chain = await Chain.open({ params: regtest, store: s });
    try {
      for (let i = 0; i < 2; i++) {
        await assert.rejects(chain.processBlock(BIG, { requested: true }), (err: unknown) => {
          assert.equal((err as { code?: string }).code, "BAD_SIZE");
          assert.match((err as Error).message, new RegExp(`${MAX_BLOCK_RECORDS + 1} records exceed`));
          return true;
        });
      }
    } finally {
      await chain.close();
      await s.close();
    }
  });

  it("a schema-4 store without an over-cap block is upgraded in place, its chain intact", async () => {
    const dir = join(root, "upgrade");
    cpSync(clean, dir, { recursive: true });
    await setStoredVersion(dir, 4);
    const s = await LevelStore.open(dir, regtest);
    const chain = await Chain.open({ params: regtest, store: s });
    assert.equal(chain.height, 3);
    await chain.close();
    await s.close();
    assert.equal(await storedVersion(dir), SCHEMA_VERSION);
  });

  it("a schema-4 store holding an over-cap block (a side block) is refused with OLD_RULES and stays at 4", async () => {
    const dir = join(root, "refuse");
    cpSync(clean, dir, { recursive: true });
    // What an older jbc could have stored: the same network, without the cap.
    await storeBlocks(dir, defineNetwork({ ...regtest, maxBlockRecords: 1_000_000 }), [BIG]);
    await setStoredVersion(dir, 4);
    await assert.rejects(LevelStore.open(dir, regtest), (err: unknown) => {
      assert.ok(err instanceof StoreError);
      assert.equal(err.code, "OLD_RULES");
      assert.match(
        err.message,
        new RegExp(`block ${blockHash(BIG)} at height 2 holds ${MAX_BLOCK_RECORDS + 1} records`),
      );
      assert.match(err.message, /mv .* .*\.old/);
      return true;
    });
    assert.equal(await storedVersion(dir), 4, "refused, the store keeps its version");
  });
});
