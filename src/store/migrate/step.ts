/**
 * What a schema migration step is, and what it may use. A step takes a store of schema version `from` to
 * `from + 1`; the runner (schema.ts `upgrade`) rewrites the version in 'V' after the step returns, never
 * before, so a kill during a step only means the next open runs it again: every step must be idempotent
 * (puts of keys derived from what is stored, or checks that write nothing).
 */
import { type StoredEntry, StoreError } from "../../chain/store.ts";
import { hashToHex } from "../../consensus/header.ts";
import type { Batch, Bytes, Db } from "../db.ts";
import { readEntries } from "../entry.ts";
import { readOrFail } from "../errors.ts";
import { blockKey } from "../layout.ts";

/** Blocks read (and written, when the step writes) per batch by `forEachBody`. */
export const MIGRATE_BATCH = 500;

/** The open database as a step sees it: reads map LevelDB's failures to StoreError as the store's do. */
export interface MigrationContext {
  /** The database itself, for reads the helpers below do not cover (wrap them in `read`). */
  readonly db: Db;
  /** The database directory, for the messages of the StoreErrors a step throws. */
  readonly path: string;
  /** `p`, its LevelDB corruption rethrown as StoreError CORRUPT. */
  read<T>(p: Promise<T>): Promise<T>;
  /** Every block-tree entry ('e'), bodies not read; CORRUPT when one does not decode. */
  loadEntries(): Promise<StoredEntry[]>;
  /** The bodies ('b') of these blocks, undefined where one is missing. */
  getBlocks(hashes: Bytes[]): Promise<Array<Bytes | undefined>>;
  /** Writes `batch` atomically (fsynced when the store was opened with `sync`). */
  write(batch: Batch): Promise<void>;
}

/** One step of the table in migrate/index.ts. */
export interface Migration {
  /** The schema version it upgrades; the store is at `from + 1` once `run` has returned. */
  readonly from: number;
  /** What the step does, in a few words (for the table's readers and error messages). */
  readonly name: string;
  /**
   * Does the step's work on a store of version `from` of this node's network. Idempotent (see above).
   * Throwing (a StoreError with the code a user should see) refuses the store: 'V' keeps version `from`.
   */
  run(ctx: MigrationContext): Promise<void>;
}

/** The context of the database `db` at `path`; `sync` fsyncs every `write`. */
export function migrationContext(db: Db, path: string, sync: boolean): MigrationContext {
  return {
    db,
    path,
    read: (p) => readOrFail(p, path),
    loadEntries: () => readEntries(db, path),
    getBlocks: (hashes) => readOrFail(db.getMany(hashes.map(blockKey)), path),
    write: (batch) => batch.write({ sync }),
  };
}

/**
 * Reads the bodies of `hashes` MIGRATE_BATCH at a time, in order, calls `visit` with each body, its position
 * in `hashes` and the chunk's batch, and writes the batch after the chunk when `visit` put anything into it.
 * A missing body throws StoreError CORRUPT "<what> <hash> is missing"; a throw leaves the chunk unwritten.
 */
export async function forEachBody(
  ctx: MigrationContext,
  hashes: Bytes[],
  what: string,
  visit: (raw: Bytes, index: number, batch: Batch) => void,
): Promise<void> {
  for (let from = 0; from < hashes.length; from += MIGRATE_BATCH) {
    const part = hashes.slice(from, from + MIGRATE_BATCH);
    const bodies = await ctx.getBlocks(part);
    const batch = ctx.db.batch();
    bodies.forEach((raw, i) => {
      if (!raw) throw new StoreError("CORRUPT", `${what} ${hashToHex(part[i]!)} is missing`, ctx.path);
      visit(raw, from + i, batch);
    });
    if (batch.length > 0) await ctx.write(batch);
    else await batch.close();
  }
}
