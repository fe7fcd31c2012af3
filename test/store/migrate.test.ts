/**
 * The schema migrations as a table of steps (src/store/migrate/), against real LevelDB databases: the
 * table's order, the runner's order and its version writes, a step that refuses a store, and the body
 * reader steps use. The two real steps are tested end to end in test/chain/records.test.ts (1 → 2) and
 * test/chain/proofs.test.ts (2 → 3).
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { StoreError } from "../../src/chain/store.ts";
import { encodeBlock } from "../../src/consensus/block.ts";
import { toHex } from "../../src/consensus/bytes.ts";
import { hexToHash } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import type { Bytes, Db } from "../../src/store/db.ts";
import { blockKey, META_KEY, P_HEIGHT, prefixRange } from "../../src/store/layout.ts";
import { LevelStore } from "../../src/store/level.ts";
import { MIGRATIONS } from "../../src/store/migrate/index.ts";
import {
  forEachBody,
  MIGRATE_BATCH,
  type Migration,
  type MigrationContext,
  migrationContext,
} from "../../src/store/migrate/step.ts";
import { decodeMeta, SCHEMA_VERSION, upgrade } from "../../src/store/schema.ts";
import { blockHash, makeChain } from "../helpers/blocks.ts";
import { tempDir } from "../helpers/chain.ts";
import { storeBlocks, withRawDb } from "./raw-db.ts";

const MAIN = makeChain(regtest, 5);
const dir = tempDir("jbc-migrate-");

before(() => storeBlocks(dir, regtest, MAIN.slice(1)));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `fn` on the store's raw database with a migration context over it, as open gives a step. */
function withContext(fn: (ctx: MigrationContext, db: Db) => Promise<void>): Promise<void> {
  return withRawDb(dir, (db) => fn(migrationContext(db, dir, false), db));
}

async function storedVersion(db: Db): Promise<number> {
  return decodeMeta((await db.get(META_KEY))!, dir).version;
}

/** Sets the stored version, as an older jbc would have left it. */
async function setVersion(db: Db, version: number): Promise<Bytes> {
  const meta = Uint8Array.from((await db.get(META_KEY))!);
  new DataView(meta.buffer).setUint32(0, version, true);
  await db.put(META_KEY, meta);
  return meta;
}

describe("the migration table", () => {
  it("holds one step per version, oldest first, and ends at SCHEMA_VERSION", () => {
    assert.deepEqual(
      MIGRATIONS.map((m) => m.from),
      MIGRATIONS.map((_, i) => i + 1),
    );
    assert.equal(SCHEMA_VERSION, MIGRATIONS.at(-1)!.from + 1);
    assert.equal(new Set(MIGRATIONS.map((m) => m.name)).size, MIGRATIONS.length);
  });
});

describe("upgrade: the runner", () => {
  /** Steps 1 → 2 → 3 → 4 that note the stored version each one finds when it runs. */
  function tracingSteps(seen: string[], db: Db): Migration[] {
    return [1, 2, 3].map((from) => ({
      from,
      name: `step ${from}`,
      async run() {
        seen.push(`${from}: V says ${await storedVersion(db)}`);
      },
    }));
  }

  it("runs every step from the stored version on, in order, writing the version after each", async () => {
    await withContext(async (ctx, db) => {
      const seen: string[] = [];
      const meta = await setVersion(db, 2);
      assert.equal(await upgrade(ctx, meta, 2, tracingSteps(seen, db)), 4);
      assert.deepEqual(seen, ["2: V says 2", "3: V says 3"]);
      assert.equal(await storedVersion(db), 4);
      // Only the version changes: network id and genesis are kept.
      assert.equal(toHex((await db.get(META_KEY))!.subarray(4)), toHex(meta.subarray(4)));
      await setVersion(db, SCHEMA_VERSION);
    });
  });

  it("runs nothing for a version no step starts from (0, or past the table)", async () => {
    await withContext(async (ctx, db) => {
      const seen: string[] = [];
      for (const v of [0, 4, 9]) {
        const meta = await setVersion(db, v);
        assert.equal(await upgrade(ctx, meta, v, tracingSteps(seen, db)), v);
        assert.equal(await storedVersion(db), v);
      }
      assert.deepEqual(seen, []);
      await setVersion(db, SCHEMA_VERSION);
    });
  });

  it("a step that refuses the store leaves its version, runs no later step, and refuses again next time", async () => {
    // The shape of a scan step: read every stored body, write nothing, throw on what this jbc refuses.
    const refused = encodeBlock(MAIN[3]!).length;
    const scan = (size: number): Migration => ({
      from: SCHEMA_VERSION,
      name: `refuse bodies of ${size} bytes`,
      async run(ctx) {
        const hashes = (await ctx.loadEntries()).map((e) => e.hash);
        await forEachBody(ctx, hashes, "block", (raw) => {
          if (raw.length === size) throw new StoreError("NOT_JBC", `a body of ${size} bytes`, ctx.path);
        });
      },
    });
    const later: Migration = {
      from: SCHEMA_VERSION + 1,
      name: "later",
      run: async () => assert.fail("a step after a refusal ran"),
    };
    await withContext(async (ctx, db) => {
      const meta = (await db.get(META_KEY))!;
      for (let i = 0; i < 2; i++) {
        await assert.rejects(
          upgrade(ctx, meta, SCHEMA_VERSION, [...MIGRATIONS, scan(refused), later]),
          (e: unknown) => e instanceof StoreError && e.code === "NOT_JBC",
        );
        assert.equal(await storedVersion(db), SCHEMA_VERSION);
      }
      // A store the scan accepts gets the new version.
      assert.equal(await upgrade(ctx, meta, SCHEMA_VERSION, [...MIGRATIONS, scan(1)]), SCHEMA_VERSION + 1);
      assert.equal(await storedVersion(db), SCHEMA_VERSION + 1);
      await setVersion(db, SCHEMA_VERSION);
    });
    // The refusal changed nothing: this jbc still opens the store.
    await (await LevelStore.open(dir, regtest, { create: false })).close();
  });
});

describe("forEachBody", () => {
  it("hands every body over with its position, in chunks of MIGRATE_BATCH", async () => {
    assert.ok(MIGRATE_BATCH >= MAIN.length, "the store below fits in one chunk");
    await withContext(async (ctx, db) => {
      const hashes = await db.values(prefixRange(P_HEIGHT)).all();
      const got: number[] = [];
      await forEachBody(ctx, hashes, "main-chain block", (raw, i) => {
        assert.equal(toHex(raw), toHex(encodeBlock(MAIN[i]!)));
        got.push(i);
      });
      assert.deepEqual(got, [0, 1, 2, 3, 4, 5]);
    });
  });

  it("a missing body: CORRUPT naming it, and nothing of its chunk is written", async () => {
    await withContext(async (ctx, db) => {
      const hashes = await db.values(prefixRange(P_HEIGHT)).all();
      const gone = hexToHash(blockHash(MAIN[4]!));
      const body = (await db.get(blockKey(gone)))!;
      await db.del(blockKey(gone));
      const marker = Uint8Array.of(0x7a);
      try {
        await assert.rejects(
          forEachBody(ctx, hashes, "main-chain block", (_raw, i, batch) => {
            if (i === 0) batch.put(marker, marker);
          }),
          (e: unknown) =>
            e instanceof StoreError &&
            e.code === "CORRUPT" &&
            e.message.includes(`main-chain block ${blockHash(MAIN[4]!)} is missing`),
        );
        assert.equal(await db.get(marker), undefined);
      } finally {
        await db.put(blockKey(gone), body);
      }
    });
  });
});
