import { existsSync, readdirSync } from "node:fs";
import { ClassicLevel } from "classic-level";
import {
  type ChainStore,
  type IndexedRecord,
  indexedRecords,
  type RecordPlace,
  type StoredEntry,
  StoreError,
  type StoreWrite,
} from "../chain/store.ts";
import type { EntryStatus } from "../chain/types.ts";
import { decodeBlock, recordIds } from "../consensus/block.ts";
import { Reader, Writer } from "../consensus/bytes.ts";
import type { BlockErrorData } from "../consensus/errors.ts";
import { encodeHeader, hashToHex, readHeader } from "../consensus/header.ts";
import { computeMerkleRoot, UPPER_TREE_SPAN } from "../consensus/merkle.ts";
import type { NetworkParams } from "../consensus/params.ts";
import { errorWithCause } from "../util/errors.ts";
import { IdFilter } from "./filter.ts";
import {
  authorKey,
  banKey,
  blockKey,
  decodePlace,
  encodePlace,
  entryKey,
  heightKey,
  META_KEY,
  P_AUTHOR,
  P_BAN,
  P_ENTRY,
  P_HEIGHT,
  P_RECORD,
  prefixRange,
  recordKey,
  SCHEMA_VERSION,
  TIP_KEY,
  upperKey,
} from "./layout.ts";

type Bytes = Uint8Array;
type Batch = ReturnType<ClassicLevel<Bytes, Bytes>["batch"]>;

/** Main-chain blocks per batch when a version-1 store's record index is built. */
const MIGRATE_BATCH = 500;
const VIEW = { keyEncoding: "view", valueEncoding: "view" } as const;

const STATUS_CODES: readonly EntryStatus[] = ["accepted", "valid", "invalid", "invalid-child"];

/** What LevelDB writes while creating a database, before it commits the creation by renaming CURRENT. */
const CREATION_FILES = /^(LOCK|LOG|LOG\.old|MANIFEST-000001|000001\.dbtmp)$/;
/** Files that hold a LevelDB database's contents. */
const LEVELDB_FILES = /^(\d+\.(log|ldb|sst)|MANIFEST-\d+)$/;

/** Serializes a block-tree entry: header(80) height(u32) work(32, BE) status(u8) seq(u64) size(u32) count(u32) miner invalid-json. */
export function encodeEntry(e: StoredEntry): Bytes {
  const w = new Writer(200);
  w.bytes(encodeHeader(e.header)).u32(e.height);
  const work = Buffer.from(e.chainWork.toString(16).padStart(64, "0"), "hex");
  w.bytes(work)
    .u8(STATUS_CODES.indexOf(e.status))
    .u64(BigInt(e.seq))
    .u32(e.size)
    .u32(e.recordCount)
    .varBytes(new TextEncoder().encode(e.miner))
    .varBytes(e.invalid ? new TextEncoder().encode(JSON.stringify(e.invalid)) : new Uint8Array(0));
  return w.finish();
}

// ignoreBOM keeps a leading U+FEFF, as the miner record decoder does: the name must read back as mined.
const minerDecoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** Parses an entry; `hash` is taken from the key. Throws DecodeError on malformed bytes. */
export function decodeEntry(hash: Bytes, bytes: Bytes): StoredEntry {
  const r = new Reader(bytes);
  const header = readHeader(r);
  const height = r.u32();
  const chainWork = BigInt(`0x${Buffer.from(r.bytes(32)).toString("hex")}`);
  const status = STATUS_CODES[r.u8()];
  if (!status) throw new StoreError("CORRUPT", `entry ${hashToHex(hash)} has an unknown status`);
  const seq = Number(r.u64());
  const size = r.u32();
  const recordCount = r.u32();
  const miner = minerDecoder.decode(r.varBytes(1024));
  const inv = r.varBytes(1 << 16);
  r.end("entry");
  const invalid = inv.length ? (JSON.parse(new TextDecoder().decode(inv)) as BlockErrorData) : undefined;
  return { hash, header, height, chainWork, status, seq, size, miner, recordCount, invalid };
}

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
  /** Every id of the record index (and maybe more): lookups of ids it lacks skip LevelDB. */
  private filter = new IdFilter(0);
  /** The larger filter being filled from the index while this one is too full; new ids go to both. */
  private next: IdFilter | undefined;

  private constructor(
    readonly path: string,
    private readonly db: ClassicLevel<Bytes, Bytes>,
    /** Whether every batch is fsynced (the `sync` option). */
    readonly sync: boolean,
  ) {}

  /**
   * Opens (or creates) the database at `path` for `params`' network. Throws StoreError: MISSING when
   * there is no database and `create` is false, NOT_JBC for a foreign or future-version database,
   * WRONG_NETWORK for another network's, LOCKED when another process holds it, CORRUPT when LevelDB
   * reports corruption or a file of the database is missing.
   */
  static async open(path: string, params: NetworkParams, opts: LevelStoreOptions = {}): Promise<LevelStore> {
    const create = opts.create ?? true;
    const files = existsSync(path) ? readdirSync(path) : [];
    if (!files.includes("CURRENT")) {
      // A kill during LevelDB's own creation leaves its first files without CURRENT; LevelDB simply creates
      // the database again over them. Any other file means the directory is not an empty one.
      if (files.every((f) => CREATION_FILES.test(f))) {
        if (!create) throw new StoreError("MISSING", "no jbc database here", path);
      } else if (files.some((f) => LEVELDB_FILES.test(f))) {
        throw new StoreError(
          "CORRUPT",
          "LevelDB files without a CURRENT file: the database is damaged",
          path,
        );
      } else {
        throw new StoreError("NOT_JBC", "directory is not empty and holds no LevelDB database", path);
      }
    }
    const db = new ClassicLevel<Bytes, Bytes>(path, VIEW);
    try {
      await db.open({ createIfMissing: create });
    } catch (err) {
      throw classifyOpenError(err, path);
    }
    const store = new LevelStore(path, db, opts.sync ?? false);
    try {
      await store.checkMeta(params);
      await store.rebuildFilter();
    } catch (err) {
      await db.close();
      throw err;
    }
    return store;
  }

  private async checkMeta(params: NetworkParams): Promise<void> {
    const meta = await this.read(this.db.get(META_KEY));
    const genesis = Buffer.from(params.genesisHash, "hex").reverse();
    if (meta === undefined) {
      // A fresh database holds no keys at all; any key without meta means it is not ours.
      const any = await this.read(this.db.keys({ limit: 1 }).all());
      if (any.length > 0) throw new StoreError("NOT_JBC", "LevelDB database without jbc metadata", this.path);
      const w = new Writer(40).u32(SCHEMA_VERSION).u32(params.networkId).bytes(genesis);
      await this.db.put(META_KEY, w.finish());
      return;
    }
    if (meta.length !== 40) throw new StoreError("NOT_JBC", "unrecognised metadata record", this.path);
    const r = new Reader(meta);
    let version = r.u32();
    const networkId = r.u32();
    const storedGenesis = r.bytes(32);
    if (version === 1 && networkId === params.networkId && Buffer.compare(storedGenesis, genesis) === 0) {
      await this.migrateToV2(meta);
      version = 2;
    }
    if (version === 2 && networkId === params.networkId && Buffer.compare(storedGenesis, genesis) === 0) {
      await this.migrateToV3(meta);
      version = 3;
    }
    if (version !== SCHEMA_VERSION) {
      throw new StoreError(
        "NOT_JBC",
        `database schema version ${version}, this jbc reads ${SCHEMA_VERSION}`,
        this.path,
      );
    }
    if (networkId !== params.networkId || Buffer.compare(storedGenesis, genesis) !== 0) {
      throw new StoreError(
        "WRONG_NETWORK",
        `database belongs to another network (id 0x${networkId.toString(16)}, genesis ${hashToHex(storedGenesis)}), not ${params.name}`,
        this.path,
      );
    }
  }

  /**
   * Schema 1 → 2: builds the record-id and author indexes from the main chain ('h' records), in batches
   * of MIGRATE_BATCH blocks, then writes the new version last. Every put is idempotent, so a kill during
   * the migration only means the next open starts it again.
   */
  private async migrateToV2(meta: Bytes): Promise<void> {
    const hashes = await this.read(this.db.values(prefixRange(P_HEIGHT)).all());
    for (let from = 0; from < hashes.length; from += MIGRATE_BATCH) {
      const part = hashes.slice(from, from + MIGRATE_BATCH);
      const bodies = await this.getBlocks(part);
      const batch = this.db.batch();
      bodies.forEach((raw, i) => {
        if (!raw) {
          throw new StoreError("CORRUPT", `main-chain block ${hashToHex(part[i]!)} is missing`, this.path);
        }
        putRecords(batch, indexedRecords(decodeBlock(raw), from + i));
      });
      await batch.write({ sync: this.sync });
    }
    await this.putVersion(meta, 2);
  }

  /**
   * Schema 2 → 3: the merkle upper levels ('m') of every stored block of more than UPPER_TREE_SPAN records
   * (main and side, as new writes store them with every body), MIGRATE_BATCH blocks a batch, the new
   * version last: idempotent, like migrateToV2.
   */
  private async migrateToV3(meta: Bytes): Promise<void> {
    const big = (await this.loadEntries()).filter((e) => e.recordCount > UPPER_TREE_SPAN).map((e) => e.hash);
    for (let from = 0; from < big.length; from += MIGRATE_BATCH) {
      const part = big.slice(from, from + MIGRATE_BATCH);
      const bodies = await this.getBlocks(part);
      const batch = this.db.batch();
      bodies.forEach((raw, i) => {
        if (!raw) throw new StoreError("CORRUPT", `block ${hashToHex(part[i]!)} is missing`, this.path);
        const { upper } = computeMerkleRoot(recordIds(decodeBlock(raw)), true);
        if (upper) batch.put(upperKey(part[i]!), upper);
      });
      await batch.write({ sync: this.sync });
    }
    await this.putVersion(meta, 3);
  }

  private async putVersion(meta: Bytes, version: number): Promise<void> {
    const next = new Uint8Array(meta); // a copy: the value LevelDB gave may be a view into a shared buffer
    new DataView(next.buffer, next.byteOffset).setUint32(0, version, true);
    await this.db.put(META_KEY, next, { sync: this.sync });
  }

  async loadEntries(): Promise<StoredEntry[]> {
    const out: StoredEntry[] = [];
    const it = this.db.iterator(prefixRange(P_ENTRY));
    try {
      for (;;) {
        const batch = await it.nextv(4096);
        if (batch.length === 0) break;
        for (const [k, v] of batch) {
          const hash = k.slice(1);
          let e: StoredEntry;
          try {
            e = decodeEntry(hash, v);
          } catch (err) {
            throw new StoreError("CORRUPT", `block-tree entry ${hashToHex(hash)} is unreadable`, this.path, {
              cause: err,
            });
          }
          out.push(e);
        }
      }
    } catch (err) {
      throw wrapIo(err, this.path);
    } finally {
      await it.close();
    }
    return out;
  }

  async getTip(): Promise<Bytes | undefined> {
    return this.read(this.db.get(TIP_KEY));
  }

  async getMainHash(height: number): Promise<Bytes | undefined> {
    return this.read(this.db.get(heightKey(height)));
  }

  async getBlock(hash: Bytes): Promise<Bytes | undefined> {
    return this.readNow(() => this.db.getSync(blockKey(hash)));
  }

  async getBlocks(hashes: Bytes[]): Promise<Array<Bytes | undefined>> {
    return this.read(this.db.getMany(hashes.map(blockKey)));
  }

  async getUpperTrees(hashes: Bytes[]): Promise<Array<Bytes | undefined>> {
    if (hashes.length === 1) return [await this.readNow(() => this.db.getSync(upperKey(hashes[0]!)))];
    return this.read(this.db.getMany(hashes.map(upperKey)));
  }

  /** Main-chain hashes for heights [from, to], in height order, straight from the height index. */
  async mainHashes(from: number, to: number): Promise<Bytes[]> {
    return this.read(this.db.values({ gte: heightKey(from), lte: heightKey(to) }).all());
  }

  async getRecordPlaces(ids: Bytes[]): Promise<Array<RecordPlace | undefined>> {
    const out: Array<RecordPlace | undefined> = new Array(ids.length).fill(undefined);
    const asked: number[] = [];
    for (let i = 0; i < ids.length; i++) if (this.filter.mayHave(ids[i]!)) asked.push(i);
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

  /**
   * Fills a filter sized for twice the index (estimated from LevelDB's size of the 'r' range, about 45
   * bytes a key) from its keys, then uses it; ids written meanwhile go into it too (`write`). Run at open
   * and when the filter fills up; again at once when the estimate was too low.
   */
  private async rebuildFilter(expected?: number): Promise<void> {
    const range = prefixRange(P_RECORD);
    const estimate = expected ?? Math.ceil((await this.db.approximateSize(range.gte, range.lt)) / 40);
    const next = new IdFilter(Math.max(1 << 20, 2 * estimate));
    this.next = next;
    const it = this.db.keys(range);
    try {
      for (;;) {
        const batch = await this.read(it.nextv(8192));
        if (batch.length === 0) break;
        for (const k of batch) next.add(k.subarray(1));
      }
    } finally {
      this.next = undefined;
      await it.close();
    }
    this.filter = next;
    if (next.count > next.capacity) await this.rebuildFilter(next.count);
  }

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

  async getAuthorIds(refs: Array<RecordPlace & { author: Bytes }>): Promise<Array<Bytes | undefined>> {
    if (refs.length === 0) return [];
    return this.read(this.db.getMany(refs.map((r) => authorKey(r.author, r.height, r.index))));
  }

  async countRecordIndex(): Promise<{ records: number; authors: number }> {
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
   * LevelDB does not verify block checksums on reads, but when it does notice corruption (a block that
   * fails to decompress or parse) the caller gets a StoreError CORRUPT, not a bare LevelDB error.
   */
  /**
   * A point read done on this thread (`getSync`) rather than on libuv's pool: waking a pool thread and
   * coming back costs 20–50 µs and, on this 2-core VM, a millisecond or more at the 99th percentile, several
   * times what LevelDB's read itself takes when the data is in the OS's cache. Reads of many keys stay
   * asynchronous (one trip for all of them). The price is that a read the disk has to serve holds the event
   * loop for it (docs/storage.md, "Reads").
   */
  private async readNow<T>(get: () => T): Promise<T> {
    try {
      return get();
    } catch (err) {
      throw wrapIo(err, this.path);
    }
  }

  private read<T>(p: Promise<T>): Promise<T> {
    return p.catch((err: unknown) => {
      throw wrapIo(err, this.path);
    });
  }

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
    for (const r of w.recordsDel ?? []) {
      batch.del(recordKey(r.id));
      if (r.author) batch.del(authorKey(r.author, r.height, r.index));
    }
    if (w.recordsPut) {
      // Into the filter before the write: a filter holding more than the index is still correct.
      putRecords(batch, w.recordsPut, [this.filter, this.next]);
      if (!this.next && this.filter.count > this.filter.capacity) {
        this.rebuildFilter().catch(() => {}); // until it is done the full filter answers "maybe" more often
      }
    }
    await batch.write({ sync: this.sync });
  }

  /** Ban list (owned by the network layer): id → expiry in ms since epoch. */
  async putBan(id: string, until: number): Promise<void> {
    await this.db.put(banKey(id), new Writer(8).u64(BigInt(Math.floor(until))).finish());
  }

  async deleteBan(id: string): Promise<void> {
    await this.db.del(banKey(id));
  }

  async loadBans(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for await (const [k, v] of this.db.iterator(prefixRange(P_BAN))) {
      if (v.length === 8) out.set(new TextDecoder().decode(k.subarray(1)), Number(new Reader(v).u64()));
    }
    return out;
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

function putRecords(batch: Batch, records: IndexedRecord[], filters: Array<IdFilter | undefined> = []): void {
  for (const r of records) {
    for (const f of filters) f?.add(r.id);
    batch.put(recordKey(r.id), encodePlace(r.height, r.index));
    if (r.author) batch.put(authorKey(r.author, r.height, r.index), r.id);
  }
}

function errorCode(err: unknown): string {
  if (err && typeof err === "object" && "code" in err) return String((err as { code: unknown }).code);
  return "";
}

function classifyOpenError(err: unknown, path: string): StoreError {
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

function wrapIo(err: unknown, path: string): unknown {
  if (err instanceof StoreError) return err;
  const msg = errorWithCause(err);
  if (/corrupt/i.test(msg))
    return new StoreError("CORRUPT", `LevelDB reports corruption: ${msg.trim()}`, path, { cause: err });
  return err;
}
