/**
 * A store's LevelDB read and written below LevelStore, as the schema tests need it: the stored schema
 * version read and set back (to make a store look written by an older jbc), and blocks fed through a real
 * Chain to build the store a test then copies.
 */

import { ClassicLevel } from "classic-level";
import { Chain } from "../../src/chain/chain.ts";
import type { Block } from "../../src/consensus/block.ts";
import type { NetworkParams } from "../../src/consensus/params.ts";
import type { Bytes } from "../../src/store/db.ts";
import { META_KEY } from "../../src/store/layout.ts";
import { LevelStore } from "../../src/store/level.ts";
import { decodeMeta } from "../../src/store/schema.ts";

/** Runs `fn` on the raw database in `dir` (no store open on it), closing it afterwards. */
export async function withRawDb<T>(
  dir: string,
  fn: (db: ClassicLevel<Bytes, Bytes>) => Promise<T>,
): Promise<T> {
  const db = new ClassicLevel<Bytes, Bytes>(dir, { keyEncoding: "view", valueEncoding: "view" });
  await db.open();
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** The schema version stored in `dir`. */
export const storedVersion = (dir: string): Promise<number> =>
  withRawDb(dir, async (db) => decodeMeta((await db.get(META_KEY))!, dir).version);

/** Sets the schema version stored in `dir` to `version`, as a jbc of that schema left it. */
export const setStoredVersion = (dir: string, version: number): Promise<void> =>
  withRawDb(dir, async (db) => {
    const meta = Uint8Array.from((await db.get(META_KEY))!);
    new DataView(meta.buffer).setUint32(0, version, true);
    await db.put(META_KEY, meta);
  });

/**
 * Feeds `blocks` (as blocks the node asked for) to a chain of `params` on the store in `dir`, its clock a
 * day after genesis, and closes both.
 */
export async function storeBlocks(
  dir: string,
  params: NetworkParams,
  blocks: readonly Block[],
): Promise<void> {
  const store = await LevelStore.open(dir, params);
  const chain = await Chain.open({ params, store, now: () => params.genesis.header.time + 86_400 });
  for (const b of blocks) await chain.processBlock(b, { requested: true });
  await chain.close();
  await store.close();
}
