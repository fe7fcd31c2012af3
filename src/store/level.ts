/**
 * The chain's store on LevelDB: `LevelStore`, the `ChainStore` of src/chain/store.ts. What each key holds
 * is in layout.ts (and docs/storage.md); opening is open.ts then schema.ts (with migrate/); the entry codec
 * is entry.ts; the record-id filter filter.ts; the ban list, which the network layer owns, bans.ts.
 */
import type { ChainStore, RecordPlace, StoredEntry, StoreWrite } from "../chain/store.ts";
import type { NetworkParams } from "../consensus/params.ts";
import { yieldIfSpent } from "../util/slices.ts";
import * as bans from "./bans.ts";
import type { Bytes, Db } from "./db.ts";
import { encodeEntry, readEntries } from "./entry.ts";
import { readOrFail, wrapIo } from "./errors.ts";
import { RecordIdFilter } from "./filter.ts";
import {
  authorKey,
  blockKey,
  decodePlace,
  entryKey,
  heightKey,
  P_AUTHOR,
  P_RECORD,
  prefixRange,
  recordKey,
  TIP_KEY,
  upperKey,
} from "./layout.ts";
import { migrationContext } from "./migrate/step.ts";
import { checkDirectory, openDb } from "./open.ts";
import { deleteRecords, putRecords } from "./record-index.ts";
import { checkSchema } from "./schema.ts";

/** Index entries put into a batch between two checks of the time slice (util/slices.ts). */
const RECORDS_PER_SLICE_CHECK = 256;

/** How `LevelStore.open` opens a store. */
export interface LevelStoreOptions {
  /** Create the database when the directory holds none (default true). */
  create?: boolean;
  /** fsync every batch: survives power loss, not only process death (default false; see docs/storage.md). */
  sync?: boolean;
}

/**
 * The chain's store on LevelDB (classic-level). Every write is one atomic batch. Without `sync`, a batch is
 * in LevelDB's log once write() resolves, which survives kill -9 (the OS still has the pages); only a
 * power cut can lose the last writes, and even then LevelDB recovers to a consistent earlier batch.
 */
export class LevelStore implements ChainStore {
  /** In front of the record-id index: lookups of ids it certainly lacks skip LevelDB. */
  private readonly ids: RecordIdFilter;

  /** A store over the open `db`; only `open` makes one, after the directory and schema checks. */
  private constructor(
    readonly path: string,
    private readonly db: Db,
    /** Whether every batch is fsynced (the `sync` option). */
    readonly sync: boolean,
  ) {
    this.ids = new RecordIdFilter(db, path);
  }

  /**
   * Opens (or creates) the database at `path` for `params`' network, migrating an older schema of that
   * network first. Throws StoreError: MISSING when there is no database and `create` is false, NOT_JBC for
   * a foreign or future-version database, WRONG_NETWORK for another network's, LOCKED when another process
   * holds it, CORRUPT when LevelDB reports corruption or a file of the database is missing.
   */
  static async open(path: string, params: NetworkParams, opts: LevelStoreOptions = {}): Promise<LevelStore> {
    const create = opts.create ?? true;
    const sync = opts.sync ?? false;
    checkDirectory(path, create);
    const db = await openDb(path, create);
    const store = new LevelStore(path, db, sync);
    try {
      await checkSchema(migrationContext(db, path, sync), params);
      await store.ids.rebuild();
    } catch (err) {
      await db.close();
      throw err;
    }
    return store;
  }

  /** Every stored block-tree entry, in key order; CORRUPT naming the first one that does not decode. */
  async loadEntries(): Promise<StoredEntry[]> {
    return readEntries(this.db, this.path);
  }

  /** The main-chain tip's hash ('t'), undefined in a store without a chain yet. */
  async getTip(): Promise<Bytes | undefined> {
    return this.read(this.db.get(TIP_KEY));
  }

  /** The main-chain block's hash at `height` ('h'), undefined above the tip. */
  async getMainHash(height: number): Promise<Bytes | undefined> {
    return this.read(this.db.get(heightKey(height)));
  }

  /** A block's serialized body ('b'), read on this thread (`readNow`); undefined when not stored. */
  async getBlock(hash: Bytes): Promise<Bytes | undefined> {
    return this.readNow(() => this.db.getSync(blockKey(hash)));
  }

  /** The bodies of these blocks in one read, in the same order; undefined where one is not stored. */
  async getBlocks(hashes: Bytes[]): Promise<Array<Bytes | undefined>> {
    return this.read(this.db.getMany(hashes.map(blockKey)));
  }

  /** The merkle upper levels ('m') of these blocks, undefined for a block that has none. */
  async getUpperTrees(hashes: Bytes[]): Promise<Array<Bytes | undefined>> {
    if (hashes.length === 1) return [await this.readNow(() => this.db.getSync(upperKey(hashes[0]!)))];
    return this.read(this.db.getMany(hashes.map(upperKey)));
  }

  /** Main-chain hashes for heights [from, to], in height order, straight from the height index. */
  async mainHashes(from: number, to: number): Promise<Bytes[]> {
    return this.read(this.db.values({ gte: heightKey(from), lte: heightKey(to) }).all());
  }

  /**
   * The main-chain places of record ids ('r'), undefined for an id not in the index. Ids the filter
   * certainly lacks cost no read; one id left is read on this thread, several in one trip.
   */
  async getRecordPlaces(ids: Bytes[]): Promise<Array<RecordPlace | undefined>> {
    const out: Array<RecordPlace | undefined> = new Array(ids.length).fill(undefined);
    const asked: number[] = [];
    for (let i = 0; i < ids.length; i++) if (this.ids.mayHave(ids[i]!)) asked.push(i);
    if (asked.length === 0) return out;
    const values =
      asked.length === 1
        ? [await this.readNow(() => this.db.getSync(recordKey(ids[asked[0]!]!)))]
        : await this.read(this.db.getMany(asked.map((i) => recordKey(ids[i]!))));
    values.forEach((v, j) => {
      if (v && v.length === 8) out[asked[j]!] = decodePlace(v);
    });
    return out;
  }

  /** A signer's records ('a'), newest first: at most `limit`, strictly before `before` when given. */
  async recordsByAuthor(
    publicKey: Bytes,
    limit: number,
    before?: RecordPlace,
  ): Promise<Array<RecordPlace & { id: Bytes }>> {
    if (limit <= 0) return [];
    // Newest first from `before` (exclusive), or from the last possible place of this key.
    const lt = authorKey(publicKey, before?.height ?? 0xffffffff, before?.index ?? 0xffffffff);
    const rows = await this.read(
      this.db.iterator({ gte: authorKey(publicKey, 0, 0), lt, reverse: true, limit }).all(),
    );
    return rows.map(([k, v]) => ({ ...decodePlace(k, 33), id: v }));
  }

  /** The ids the author index holds at these places, in the same order (undefined where there is no key). */
  async getAuthorIds(refs: Array<RecordPlace & { author: Bytes }>): Promise<Array<Bytes | undefined>> {
    if (refs.length === 0) return [];
    return this.read(this.db.getMany(refs.map((r) => authorKey(r.author, r.height, r.index))));
  }

  /** Number of keys in the record-id ('r') and author ('a') indexes, counted by iterating them. */
  async countRecordIndex(): Promise<{ records: number; authors: number }> {
    /** The number of keys with `prefix`, counted 4,096 keys a step. */
    const count = async (prefix: number): Promise<number> => {
      let n = 0;
      const it = this.db.keys(prefixRange(prefix));
      try {
        for (;;) {
          const batch = await it.nextv(4096);
          if (batch.length === 0) return n;
          n += batch.length;
        }
      } finally {
        await it.close();
      }
    };
    return { records: await this.read(count(P_RECORD)), authors: await this.read(count(P_AUTHOR)) };
  }

  /**
   * A point read done on this thread (`getSync`) rather than on libuv's pool: waking a pool thread and
   * coming back costs 20–50 µs and, on this 2-core VM, a millisecond or more at the 99th percentile, several
   * times what LevelDB's read itself takes when the data is in the OS's cache. Reads of many keys stay
   * asynchronous (one trip for all of them). The price is that a read the disk has to serve holds the event
   * loop for it (docs/storage.md, "Reads"). LevelDB's corruption becomes StoreError CORRUPT (`wrapIo`).
   */
  private async readNow<T>(get: () => T): Promise<T> {
    try {
      return get();
    } catch (err) {
      throw wrapIo(err, this.path);
    }
  }

  /** `p`, with LevelDB's corruption rethrown as StoreError CORRUPT (`wrapIo`). */
  private read<T>(p: Promise<T>): Promise<T> {
    return readOrFail(p, this.path);
  }

  /**
   * Applies one state change as one atomic batch, in the order docs/storage.md gives: bodies (each with its
   * upper levels), entries, height deletions, height puts, the tip, index deletions, index puts. The batch
   * of a maximum-size block holds thousands of index keys: they are put in the node's time slices
   * (util/slices.ts); nothing is written before the one `batch.write`, so the change stays atomic.
   */
  async write(w: StoreWrite): Promise<void> {
    const batch = this.db.batch();
    for (const b of w.blocks ?? []) {
      batch.put(blockKey(b.hash), b.raw);
      if (b.upper) batch.put(upperKey(b.hash), b.upper);
    }
    for (const e of w.entries ?? []) batch.put(entryKey(e.hash), encodeEntry(e));
    for (const h of w.mainDel ?? []) batch.del(heightKey(h));
    for (const m of w.mainPut ?? []) batch.put(heightKey(m.height), m.hash);
    if (w.tip) batch.put(TIP_KEY, w.tip);
    // Disconnected records first, so a record in both branches ends up at its new place.
    const del = w.recordsDel ?? [];
    for (let i = 0; i < del.length; i += RECORDS_PER_SLICE_CHECK) {
      if (i > 0) await yieldIfSpent();
      deleteRecords(batch, del.slice(i, i + RECORDS_PER_SLICE_CHECK));
    }
    const put = w.recordsPut ?? [];
    // Into the filter before the write: a filter holding more than the index is still correct.
    for (let i = 0; i < put.length; i += RECORDS_PER_SLICE_CHECK) {
      if (i > 0) await yieldIfSpent();
      putRecords(batch, put.slice(i, i + RECORDS_PER_SLICE_CHECK), this.ids);
    }
    if (put.length) this.ids.growIfFull();
    await batch.write({ sync: this.sync });
  }

  /** Stores peer `id`'s ban until `until` (ms since the epoch); for the network layer's `BanStore`. */
  async putBan(id: string, until: number): Promise<void> {
    await bans.putBan(this.db, id, until);
  }

  /** Removes peer `id`'s ban, if any. */
  async deleteBan(id: string): Promise<void> {
    await bans.deleteBan(this.db, id);
  }

  /** Every stored ban: peer id → expiry in ms since the epoch. */
  async loadBans(): Promise<Map<string, number>> {
    return bans.loadBans(this.db);
  }

  /** Closes the database; the store cannot be used afterwards. */
  async close(): Promise<void> {
    await this.db.close();
  }
}
