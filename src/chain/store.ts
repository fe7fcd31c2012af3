import { type Block, recordIds } from "../consensus/block.ts";
import type { BlockErrorData } from "../consensus/errors.ts";
import type { BlockHeader } from "../consensus/header.ts";
import { computeMerkleRoot, UPPER_TREE_SPAN } from "../consensus/merkle.ts";
import type { ChainEntry, EntryStatus } from "./types.ts";

/**
 * The storage the chain needs, as an interface the store layer implements (src/store/level.ts).
 * The chain never sees LevelDB; the store never sees consensus rules.
 */

/** A block-tree entry as persisted. */
export interface StoredEntry {
  hash: Uint8Array;
  header: BlockHeader;
  height: number;
  chainWork: bigint;
  status: EntryStatus;
  seq: number;
  size: number;
  miner: string;
  recordCount: number;
  /** Why the block is invalid, when status is "invalid". */
  invalid?: BlockErrorData | undefined;
}

/** One record of a main-chain block, as the record-id and author indexes hold it. */
export interface IndexedRecord {
  /** Record id, internal byte order. */
  id: Uint8Array;
  height: number;
  /** Position in the block. */
  index: number;
  /** The signer's public key, for signed records (the author index). */
  author?: Uint8Array | undefined;
}

/** The index rows of a block at `height` (every record, miner record included); `ids` when known. */
export function indexedRecords(block: Block, height: number, ids = recordIds(block)): IndexedRecord[] {
  return block.records.map((rec, index) => ({
    id: ids[index]!,
    height,
    index,
    author: rec.type === "signed" ? rec.publicKey : undefined,
  }));
}

/** A record's place on the main chain, as the record-id index stores it. */
export interface RecordPlace {
  height: number;
  index: number;
}

/**
 * A block body as a write stores it: with its merkle tree's upper levels (consensus/merkle.ts,
 * UPPER_TREE_LEVEL) when it has more than UPPER_TREE_SPAN records, kept so that a proof hashes at most
 * UPPER_TREE_SPAN of its records. Like the body, they belong to the block, not to the main chain: written
 * once with it, never deleted.
 */
export interface StoredBlock {
  hash: Uint8Array;
  raw: Uint8Array;
  upper?: Uint8Array | undefined;
}

/**
 * The StoredBlock of a block; `known` is what sanity found (its ids and upper levels), so a checked block
 * costs no hashing here.
 */
export function storedBlock(
  hash: Uint8Array,
  raw: Uint8Array,
  block: Block,
  known: { ids?: Uint8Array[] | undefined; upper?: Uint8Array | undefined } = {},
): StoredBlock {
  if (block.records.length <= UPPER_TREE_SPAN) return { hash, raw };
  return { hash, raw, upper: known.upper ?? computeMerkleRoot(known.ids ?? recordIds(block), true).upper };
}

/** Everything one state change writes. Applied as one atomic batch: all of it or none of it. */
export interface StoreWrite {
  blocks?: StoredBlock[];
  entries?: StoredEntry[];
  /** Main-chain heights to (re)point. */
  mainPut?: Array<{ height: number; hash: Uint8Array }>;
  /** Main-chain heights that no longer exist (a reorg to a shorter chain). */
  mainDel?: number[];
  tip?: Uint8Array;
  /**
   * Records of blocks that leave the main chain: their index keys are deleted. Applied before
   * `recordsPut`, so a record in both branches ends up at its new place.
   */
  recordsDel?: IndexedRecord[];
  /** Records of blocks that join the main chain: their index keys are written. */
  recordsPut?: IndexedRecord[];
}

export interface ChainStore {
  /** Every stored block-tree entry, in no particular order. Bodies are not read. */
  loadEntries(): Promise<StoredEntry[]>;
  getTip(): Promise<Uint8Array | undefined>;
  getMainHash(height: number): Promise<Uint8Array | undefined>;
  getBlock(hash: Uint8Array): Promise<Uint8Array | undefined>;
  getBlocks(hashes: Uint8Array[]): Promise<Array<Uint8Array | undefined>>;
  /** The merkle upper levels stored with these blocks (undefined for a block that has none). */
  getUpperTrees(hashes: Uint8Array[]): Promise<Array<Uint8Array | undefined>>;
  /** The main-chain places of record ids (internal order), from the record-id index. */
  getRecordPlaces(ids: Uint8Array[]): Promise<Array<RecordPlace | undefined>>;
  /**
   * A signer's records from the author index, newest first: at most `limit`, strictly before `before`
   * (height, index) when given.
   */
  recordsByAuthor(
    publicKey: Uint8Array,
    limit: number,
    before?: RecordPlace,
  ): Promise<Array<RecordPlace & { id: Uint8Array }>>;
  /** The ids the author index holds at these places (undefined where there is no key). */
  getAuthorIds(refs: Array<RecordPlace & { author: Uint8Array }>): Promise<Array<Uint8Array | undefined>>;
  /** Number of keys in the record-id and author indexes. */
  countRecordIndex(): Promise<{ records: number; authors: number }>;
  /** Applies one atomic batch. */
  write(w: StoreWrite): Promise<void>;
}

/** The stored bodies of `entries`, in order; a missing one is a StoreError CORRUPT naming it as `what`. */
export async function readStored(
  store: ChainStore,
  entries: readonly ChainEntry[],
  what: string,
): Promise<Uint8Array[]> {
  if (!entries.length) return [];
  const raws = await store.getBlocks(entries.map((e) => e.hashBytes));
  return raws.map((r, i) => {
    if (!r) throw new StoreError("CORRUPT", `${what} ${entries[i]!.hash} is missing from the store`);
    return r;
  });
}

/** Why the store cannot be used. Each code names a different problem a user must fix differently. */
export type StoreErrorCode =
  /** No database where one was expected. */
  | "MISSING"
  /** The directory holds something that is not a jbc database, or one of another version. */
  | "NOT_JBC"
  /** The database belongs to another network. */
  | "WRONG_NETWORK"
  /** The database holds blocks valid only under an older consensus rule (a schema step refused it). */
  | "OLD_RULES"
  /** LevelDB reported corruption, or the stored chain is inconsistent. */
  | "CORRUPT"
  /** Another process has the database open. */
  | "LOCKED"
  /** Any other I/O failure. */
  | "IO";

/**
 * A storage failure with a code and the path or block it concerns. Defined beside the store interface
 * because both the store (I/O problems) and the chain (inconsistent contents found at startup) raise it.
 */
export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    readonly path?: string,
    options?: { cause?: unknown },
  ) {
    super(path ? `${message} (${path})` : message, options);
    this.name = "StoreError";
  }
}
