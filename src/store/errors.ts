/**
 * How a LevelDB failure becomes the StoreError a user sees (docs/storage.md, "Errors a user can see"):
 * at open, every failure gets a code; after open, corruption is CORRUPT and the rest passes unchanged.
 */
import { StoreError } from "../chain/store.ts";
import { errorWithCause } from "../util/errors.ts";

/** classic-level's error code (`LEVEL_LOCKED`, `LEVEL_CORRUPTION`, …), or "" when the error has none. */
function errorCode(err: unknown): string {
  if (err && typeof err === "object" && "code" in err) return String((err as { code: unknown }).code);
  return "";
}

/**
 * The StoreError for a failed LevelDB open at `path`: LOCKED, CORRUPT, MISSING, or IO for anything else.
 * LevelDB's messages are matched as well as classic-level's codes: the real reason is often in the cause.
 */
export function classifyOpenError(err: unknown, path: string): StoreError {
  const msg = errorWithCause(err);
  if (/lock/i.test(msg) || errorCode(err) === "LEVEL_LOCKED") {
    return new StoreError("LOCKED", "database is in use by another process", path, { cause: err });
  }
  if (/corrupt/i.test(msg) || errorCode(err) === "LEVEL_CORRUPTION") {
    return new StoreError("CORRUPT", `LevelDB reports corruption: ${msg.trim()}`, path, { cause: err });
  }
  if (/does not exist/i.test(msg))
    return new StoreError("MISSING", "no jbc database here", path, { cause: err });
  // CURRENT is there (checked before opening), so a missing file is one the database refers to.
  if (/no such file/i.test(msg)) {
    return new StoreError("CORRUPT", `a file of the database is missing: ${msg.trim()}`, path, {
      cause: err,
    });
  }
  return new StoreError("IO", `cannot open database: ${msg.trim()}`, path, { cause: err });
}

/**
 * What a failed read of an open database throws: LevelDB's corruption as StoreError CORRUPT (LevelDB does
 * not verify checksums on reads, but when it does notice damage the caller gets a code, not a bare LevelDB
 * error); a StoreError or any other failure unchanged.
 */
export function wrapIo(err: unknown, path: string): unknown {
  if (err instanceof StoreError) return err;
  const msg = errorWithCause(err);
  if (/corrupt/i.test(msg))
    return new StoreError("CORRUPT", `LevelDB reports corruption: ${msg.trim()}`, path, { cause: err });
  return err;
}

/** `p`, rejecting with `wrapIo` of its failure. */
export function readOrFail<T>(p: Promise<T>, path: string): Promise<T> {
  return p.catch((err: unknown) => {
    throw wrapIo(err, path);
  });
}
