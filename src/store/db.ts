/**
 * The LevelDB handle the store's files share. Keys and values are Uint8Array views (classic-level's
 * "view" encoding): no copies into strings or Buffers on the way in or out.
 */
import type { ClassicLevel } from "classic-level";

/** Raw bytes of a key or a value. */
export type Bytes = Uint8Array;
/** An open (or opening) jbc database. */
export type Db = ClassicLevel<Bytes, Bytes>;
/** One atomic LevelDB write batch of `Db`. */
export type Batch = ReturnType<Db["batch"]>;

/** classic-level options for `Db`: keys and values as views. */
export const VIEW = { keyEncoding: "view", valueEncoding: "view" } as const;
