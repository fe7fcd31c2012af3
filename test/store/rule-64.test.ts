/**
 * Schema 3 → 4, the 64-byte rule on stored data (docs/consensus.md, "The 64-byte rule"; docs/storage.md):
 * a store written before the rule is upgraded in place when it holds no 64-byte record, and refused, with
 * one line naming the block and what to run, when it does; refused, it stays at schema 3. Real LevelDB, and
 * a real `jbc node` for the line a user sees.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cpSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { Chain } from "../../src/chain/chain.ts";
import { StoreError } from "../../src/chain/store.ts";
import { encodeBlock, recordIds } from "../../src/consensus/block.ts";
import { blockWork } from "../../src/consensus/compact.ts";
import { hashToHex, headerHashBytes } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import { encodeEntry } from "../../src/store/entry.ts";
import { blockKey, entryKey } from "../../src/store/layout.ts";
import { LevelStore } from "../../src/store/level.ts";
import { SCHEMA_VERSION } from "../../src/store/schema.ts";
import { makeChain } from "../helpers/blocks.ts";
import { tempDir } from "../helpers/chain.ts";
import { blockWith, carrierFor } from "../helpers/forgery.ts";
import { setStoredVersion, storeBlocks, storedVersion, withRawDb } from "./raw-db.ts";

const run = promisify(execFile);
const BIN = new URL("../../bin/jbc.mjs", import.meta.url).pathname;
const MAIN = makeChain(regtest, 4);
const root = tempDir("jbc-rule64-");
const clean = join(root, "clean");

before(() => storeBlocks(clean, regtest, MAIN.slice(1)));
after(() => rmSync(root, { recursive: true, force: true }));

describe("schema 3 → 4: the 64-byte rule on stored data", () => {
  it("a schema-3 store without a 64-byte record is upgraded in place, its chain intact", async () => {
    const dir = join(root, "upgrade");
    cpSync(clean, dir, { recursive: true });
    await setStoredVersion(dir, 3);
    const store = await LevelStore.open(dir, regtest);
    const chain = await Chain.open({ params: regtest, store });
    assert.equal(chain.height, 4);
    await chain.close();
    await store.close();
    assert.equal(await storedVersion(dir), SCHEMA_VERSION, "and on through every later step");
  });

  it("a schema-3 store holding a 64-byte record (a side block) is refused with OLD_RULES and stays at 3", async () => {
    // The layout of a node's data directory: the store in <datadir>/chain.
    const datadir = join(root, "refuse");
    const dir = join(datadir, "chain");
    cpSync(clean, dir, { recursive: true });
    // What an older jbc could have stored: a side block at height 2 carrying a 64-byte record.
    const side = blockWith(regtest, MAIN[1]!, 2, [carrierFor()]);
    const hash = headerHashBytes(side.header);
    const body = encodeBlock(side);
    await withRawDb(dir, async (db) => {
      const parent = (await db.get(entryKey(headerHashBytes(MAIN[1]!.header))))!;
      assert.ok(parent);
      await db.put(blockKey(hash), body);
      await db.put(
        entryKey(hash),
        encodeEntry({
          hash,
          header: side.header,
          height: 2,
          chainWork: blockWork(side.header.bits) * 3n,
          status: "accepted",
          seq: 100,
          size: body.length,
          miner: "forger",
          recordCount: recordIds(side).length,
        }),
      );
    });
    await setStoredVersion(dir, 3);
    await assert.rejects(LevelStore.open(dir, regtest), (err: unknown) => {
      assert.ok(err instanceof StoreError);
      assert.equal(err.code, "OLD_RULES");
      assert.match(err.message, new RegExp(`block ${hashToHex(hash)} at height 2 holds a 64-byte record`));
      assert.match(err.message, /mv .* .*\.old/);
      return true;
    });
    assert.equal(await storedVersion(dir), 3, "refused, the store keeps its version");
    // A node started on it says so in one line, and exits without starting.
    const r = await run(
      process.execPath,
      [BIN, "node", "--network", "regtest", "--port", "0", "--no-p2p", "--datadir", datadir],
      { timeout: 60_000 },
    ).then(
      () => ({ code: 0, stderr: "" }),
      (err: { code: number; stderr: string }) => err,
    );
    assert.notEqual(r.code, 0);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^jbc node: this data directory was written under jbc's old merkle rule: .* mv /);
    assert.equal(await storedVersion(dir), 3);
  });
});
