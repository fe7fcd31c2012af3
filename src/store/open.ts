/**
 * Opening the database directory (docs/storage.md, "Startup" step 1): what the directory holds decides
 * whether LevelDB may open or create a database there, and LevelDB's own failures get a StoreError code.
 */
import { existsSync, readdirSync } from "node:fs";
import { ClassicLevel } from "classic-level";
import { StoreError } from "../chain/store.ts";
import { type Bytes, type Db, VIEW } from "./db.ts";
import { classifyOpenError } from "./errors.ts";

/** What LevelDB writes while creating a database, before it commits the creation by renaming CURRENT. */
const CREATION_FILES = /^(LOCK|LOG|LOG\.old|MANIFEST-000001|000001\.dbtmp)$/;
/** Files that hold a LevelDB database's contents. */
const LEVELDB_FILES = /^(\d+\.(log|ldb|sst)|MANIFEST-\d+)$/;

/**
 * Returns when `path` holds a database (it has CURRENT) or may get a new one (nothing, or only the leftovers
 * of a creation a kill interrupted, and `create`); otherwise throws StoreError MISSING (nothing there and
 * not `create`), CORRUPT (LevelDB files without CURRENT) or NOT_JBC (any other file).
 */
export function checkDirectory(path: string, create: boolean): void {
  const files = existsSync(path) ? readdirSync(path) : [];
  if (files.includes("CURRENT")) return;
  // A kill during LevelDB's own creation leaves its first files without CURRENT; LevelDB simply creates
  // the database again over them. Any other file means the directory is not an empty one.
  if (files.every((f) => CREATION_FILES.test(f))) {
    if (!create) throw new StoreError("MISSING", "no jbc database here", path);
  } else if (files.some((f) => LEVELDB_FILES.test(f))) {
    throw new StoreError("CORRUPT", "LevelDB files without a CURRENT file: the database is damaged", path);
  } else {
    throw new StoreError("NOT_JBC", "directory is not empty and holds no LevelDB database", path);
  }
}

/**
 * Opens LevelDB at `path` (which replays its log), creating the database when there is none and `create`;
 * a failure is a StoreError (LOCKED, CORRUPT, MISSING or IO, see `classifyOpenError`).
 */
export async function openDb(path: string, create: boolean): Promise<Db> {
  const db = new ClassicLevel<Bytes, Bytes>(path, VIEW);
  try {
    await db.open({ createIfMissing: create });
  } catch (err) {
    throw classifyOpenError(err, path);
  }
  return db;
}
