/**
 * The pool of records waiting for a block. One admission path (`admit`) for every source, API, gossip
 * or the saved file, after btcd's maybeAcceptTransaction; bounded in bytes and in count, and full means
 * new records are refused (`MEMPOOL_FULL`), never that accepted ones are dropped; records expire after
 * `expiryMs`; arrival order is kept and is the order templates take them in. Block connects remove
 * included records; a reorg puts back the records of disconnected blocks that the new branch lacks, in
 * their old order (Bitcoin Core's DisconnectedBlockTransactions / MaybeUpdateMempoolForReorg).
 *
 * Record ids are display hex (byte-reversed sha256d of the record bytes, as block hashes are shown).
 * Every method but `admit`, `load` and `save` is synchronous, so the pool is never seen half-updated.
 */
import { EventEmitter } from "node:events";
import { sha256 } from "@noble/hashes/sha2.js";
import type { Block } from "../consensus/block.ts";
import { DecodeError } from "../consensus/bytes.ts";
import type { NetworkParams } from "../consensus/params.ts";
import {
  type BlockRecord,
  decodeRecord,
  encodeRecord,
  FORBIDDEN_RECORD_SIZE,
  verifyRecordSignature,
} from "../consensus/records.ts";
import { errorMessage } from "../util/errors.ts";
import { type Logger, silentLogger } from "../util/logger.ts";
import { MempoolError, type MempoolErrorCode } from "./errors.ts";
import { encodeMempoolFile, readMempoolFile, type SavedRecord, writeFileAtomic } from "./persist.ts";

export const DEFAULT_MEMPOOL_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MEMPOOL_COUNT = 250_000;
export const DEFAULT_MEMPOOL_EXPIRY_MS = 24 * 60 * 60 * 1000;
/** `take` stops after this many records in a row that do not fit the room left. */
export const MAX_CONSECUTIVE_SKIPS = 1000;

/** Where a record came from: the net layer relays to every peer but the one it came from. */
export type RecordSource =
  | { kind: "api" }
  | { kind: "peer"; peer: string }
  | { kind: "disk" }
  | { kind: "reorg" };

export interface MempoolEntry {
  id: string;
  record: BlockRecord;
  /** The record's serialized bytes (what a block carries and the id hashes). */
  bytes: Uint8Array;
  /** When it entered the pool, ms since the epoch (by the injected clock); expiry counts from here. */
  time: number;
  source: RecordSource;
}

export type AdmitResult =
  | { ok: true; entry: MempoolEntry }
  | { ok: false; id: string | null; error: MempoolError };

export interface MempoolOptions {
  params: NetworkParams;
  /** Whether a record id is in a main-chain block (the record-id index). */
  isConfirmed: (id: string) => boolean | Promise<boolean>;
  maxBytes?: number;
  maxCount?: number;
  expiryMs?: number;
  /** Milliseconds since the epoch; injected so tests control expiry. Default Date.now. */
  now?: () => number;
  /** The file `load` and `save` use (`mempoolFile(datadir)`); without it they do nothing. */
  file?: string;
  logger?: Logger;
}

export interface MempoolEvents {
  /** A record became pending (admitted, loaded, or returned by a reorg). */
  added: [entry: MempoolEntry];
  /** Records left the pool: included in a block, or expired. */
  removed: [ids: string[], reason: "block" | "expired"];
  /** An admission was refused (for monitoring: the code, and where the record came from). */
  refused: [code: MempoolErrorCode, source: RecordSource["kind"]];
}

export interface MempoolStats {
  count: number;
  bytes: number;
  /** Age of the record that entered first, ms; 0 when empty. */
  oldestAgeMs: number;
  maxCount: number;
  maxBytes: number;
}

/**
 * A record's id in display order: sha256d of its bytes, reversed, in hex. Hashed with @noble/hashes so this
 * module does not depend on how src/consensus picks its hash backend.
 */
function idOf(bytes: Uint8Array): string {
  return Buffer.from(sha256(sha256(bytes)).reverse()).toString("hex");
}

export class Mempool extends EventEmitter<MempoolEvents> {
  readonly maxBytes: number;
  readonly maxCount: number;
  readonly expiryMs: number;
  private readonly params: NetworkParams;
  private readonly isConfirmed: MempoolOptions["isConfirmed"];
  private readonly now: () => number;
  private readonly file: string | undefined;
  private readonly log: Logger;
  /** In arrival order: a Map iterates in insertion order and deletes in O(1). */
  private entries = new Map<string, MempoolEntry>();
  private totalBytes = 0;
  /** A lower bound on the entries' times, so `expire` skips the scan while nothing can be due. */
  private oldestTime = Number.POSITIVE_INFINITY;
  /** Bumped by every block connect and reorg: an admission that waited on `isConfirmed` asks again. */
  private generation = 0;
  /** Changed since the last save. */
  private dirty = false;
  private saving: Promise<void> = Promise.resolve();

  constructor(opts: MempoolOptions) {
    super();
    this.params = opts.params;
    this.isConfirmed = opts.isConfirmed;
    this.maxBytes = opts.maxBytes ?? DEFAULT_MEMPOOL_BYTES;
    this.maxCount = opts.maxCount ?? DEFAULT_MEMPOOL_COUNT;
    this.expiryMs = opts.expiryMs ?? DEFAULT_MEMPOOL_EXPIRY_MS;
    this.now = opts.now ?? Date.now;
    this.file = opts.file;
    this.log = opts.logger ?? silentLogger;
  }

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  get(id: string): MempoolEntry | undefined {
    return this.entries.get(id);
  }

  stats(): MempoolStats {
    const first = this.entries.values().next();
    return {
      count: this.entries.size,
      bytes: this.totalBytes,
      oldestAgeMs: first.done ? 0 : Math.max(0, this.now() - first.value.time),
      maxCount: this.maxCount,
      maxBytes: this.maxBytes,
    };
  }

  /** Up to `limit` ids in arrival order, starting after `after` (a page for GET /api/mempool). */
  ids(limit: number, after?: string): string[] {
    const out: string[] = [];
    let started = after === undefined || !this.entries.has(after);
    for (const id of this.entries.keys()) {
      if (out.length >= limit) break;
      if (started) out.push(id);
      else if (id === after) started = true;
    }
    return out;
  }

  /**
   * The one admission path. Checks, cheapest first: size (`RECORD_TOO_LARGE`), decoding (`MALFORMED`),
   * the 64-byte rule (`RECORD_64_BYTES`), type (`MINER_RECORD`), already pending (`ALREADY_PENDING`), already confirmed (`ALREADY_CONFIRMED`),
   * room (`MEMPOOL_FULL`), then the signature (`BAD_SIGNATURE`). Never throws for bad input; a failing
   * `isConfirmed` (the node's index, not the sender's fault) rejects the promise with its error.
   */
  async admit(record: BlockRecord | Uint8Array, source: RecordSource): Promise<AdmitResult> {
    const result = await this.admitAt(record, source, this.now());
    if (!result.ok) this.emit("refused", result.error.code, source.kind);
    return result;
  }

  private async admitAt(
    record: BlockRecord | Uint8Array,
    source: RecordSource,
    time: number,
  ): Promise<AdmitResult> {
    const checked = this.precheck(record);
    if (!checked.ok) return checked;
    const { rec, bytes, id } = checked;
    const reject = (error: MempoolError): AdmitResult => ({ ok: false, id, error });
    if (this.entries.has(id)) return reject(new MempoolError({ code: "ALREADY_PENDING", id }));
    // A block may connect while we wait for the index; ask again so a record confirmed meanwhile is not
    // admitted after the connect removed it (a template would then repeat a confirmed record).
    for (;;) {
      const generation = this.generation;
      // A failing index lookup is the node's problem, not the sender's: it propagates.
      if (await this.isConfirmed(id)) return reject(new MempoolError({ code: "ALREADY_CONFIRMED", id }));
      if (generation === this.generation) break;
    }
    if (this.entries.has(id)) return reject(new MempoolError({ code: "ALREADY_PENDING", id }));
    if (this.entries.size + 1 > this.maxCount || this.totalBytes + bytes.length > this.maxBytes) {
      this.expire();
      if (this.entries.size + 1 > this.maxCount || this.totalBytes + bytes.length > this.maxBytes)
        return reject(
          new MempoolError({
            code: "MEMPOOL_FULL",
            count: this.entries.size,
            bytes: this.totalBytes,
            maxCount: this.maxCount,
            maxBytes: this.maxBytes,
          }),
        );
    }
    if (rec.type === "signed" && !verifyRecordSignature(rec))
      return reject(new MempoolError({ code: "BAD_SIGNATURE" }));
    const entry: MempoolEntry = { id, record: rec, bytes, time, source };
    this.insert(entry);
    this.emit("added", entry);
    return { ok: true, entry };
  }

  private precheck(
    record: BlockRecord | Uint8Array,
  ):
    | { ok: true; rec: BlockRecord; bytes: Uint8Array; id: string }
    | { ok: false; id: null; error: MempoolError } {
    const max = this.params.maxRecordSize;
    let rec: BlockRecord;
    let bytes: Uint8Array;
    try {
      if (record instanceof Uint8Array) {
        if (record.length > max)
          return {
            ok: false,
            id: null,
            error: new MempoolError({ code: "RECORD_TOO_LARGE", size: record.length, max }),
          };
        rec = decodeRecord(record);
        bytes = new Uint8Array(record); // a copy, also of a Buffer (whose slice() is a view)
      } else {
        rec = record;
        bytes = encodeRecord(record).slice();
      }
    } catch (err) {
      const reason = err instanceof DecodeError ? err.message : errorMessage(err);
      return { ok: false, id: null, error: new MempoolError({ code: "MALFORMED", reason }) };
    }
    if (bytes.length > max)
      return {
        ok: false,
        id: null,
        error: new MempoolError({ code: "RECORD_TOO_LARGE", size: bytes.length, max }),
      };
    if (bytes.length === FORBIDDEN_RECORD_SIZE)
      return { ok: false, id: null, error: new MempoolError({ code: "RECORD_64_BYTES" }) };
    if (rec.type === "miner")
      return { ok: false, id: null, error: new MempoolError({ code: "MINER_RECORD" }) };
    return { ok: true, rec, bytes, id: idOf(bytes) };
  }

  private insert(entry: MempoolEntry): void {
    this.entries.set(entry.id, entry);
    this.totalBytes += entry.bytes.length;
    if (entry.time < this.oldestTime) this.oldestTime = entry.time;
    this.dirty = true;
  }

  private delete(id: string): boolean {
    const entry = this.entries.get(id);
    if (!entry) return false;
    this.entries.delete(id);
    this.totalBytes -= entry.bytes.length;
    this.dirty = true;
    return true;
  }

  /**
   * Pending records in arrival order whose bytes add up to at most `maxBytes`, for a block template
   * (the caller passes the space left after header, count and miner record). A record that does not
   * fit is skipped, and a later, smaller one may take its place; the skipped one stays first in line.
   * After MAX_CONSECUTIVE_SKIPS misfits in a row the block is taken as full (Core's miner gives up the
   * same way), so a take costs the records taken, not the whole pool. Does not remove anything: records
   * leave when their block connects.
   */
  take(maxBytes: number): MempoolEntry[] {
    this.expire();
    const out: MempoolEntry[] = [];
    let room = maxBytes;
    let skips = 0;
    for (const entry of this.entries.values()) {
      if (room < 2) break; // the smallest record is 2 bytes
      if (entry.bytes.length <= room) {
        out.push(entry);
        room -= entry.bytes.length;
        skips = 0;
      } else if (++skips >= MAX_CONSECUTIVE_SKIPS) break;
    }
    return out;
  }

  /** Removes records included in a connected block (ids as display hex); returns how many were pending. */
  removeForBlock(ids: Iterable<string>): number {
    this.generation++;
    const removed: string[] = [];
    for (const id of ids) if (this.delete(id)) removed.push(id);
    if (removed.length > 0) this.emit("removed", removed, "block");
    return removed.length;
  }

  /**
   * After a reorg (both lists oldest first): records of the connected blocks leave the pool, and the
   * records of disconnected blocks that no connected block carries come back as pending, in chain order
   * (oldest block first, block order within it), ahead of everything else pending, since they arrived
   * before it. Like Core, they bypass the bounds (they were accepted once; the pool refuses new records
   * until it drains) and get a fresh arrival time, so a deep reorg cannot expire them at once.
   * Returns the ids that came back.
   */
  reorg(change: { disconnected: readonly Block[]; connected: readonly Block[] }): string[] {
    this.generation++;
    const inNewBranch = new Set<string>();
    for (const block of change.connected)
      for (const rec of block.records) inNewBranch.add(idOf(encodeRecord(rec)));
    const removed: string[] = [];
    for (const id of inNewBranch) if (this.delete(id)) removed.push(id);
    if (removed.length > 0) this.emit("removed", removed, "block");

    const time = this.now();
    const back: MempoolEntry[] = [];
    const seen = new Set<string>();
    for (const block of change.disconnected) {
      for (const rec of block.records) {
        if (rec.type === "miner") continue;
        const bytes = encodeRecord(rec).slice();
        const id = idOf(bytes);
        if (inNewBranch.has(id) || seen.has(id)) continue;
        seen.add(id);
        back.push({ id, record: rec, bytes, time, source: { kind: "reorg" } });
      }
    }
    if (back.length === 0) return [];
    const rest = this.entries;
    this.entries = new Map();
    this.totalBytes = 0;
    const returned: MempoolEntry[] = [];
    for (const entry of back) {
      const pending = rest.get(entry.id);
      if (pending)
        rest.delete(entry.id); // resubmitted meanwhile: it moves up to its old place
      else returned.push(entry);
      this.insert(pending ?? entry);
    }
    for (const entry of rest.values()) this.insert(entry);
    if (this.entries.size > this.maxCount || this.totalBytes > this.maxBytes)
      this.log.warn(
        { count: this.entries.size, bytes: this.totalBytes },
        "mempool over its bounds after a reorg; new records are refused until it drains",
      );
    for (const entry of returned) this.emit("added", entry);
    return returned.map((e) => e.id);
  }

  /** Drops records older than `expiryMs`; returns their ids. Cheap when nothing can be due. */
  expire(): string[] {
    const cutoff = this.now() - this.expiryMs;
    if (this.oldestTime > cutoff) return [];
    const expired: string[] = [];
    let oldest = Number.POSITIVE_INFINITY;
    for (const entry of this.entries.values()) {
      if (entry.time <= cutoff) expired.push(entry.id);
      else if (entry.time < oldest) oldest = entry.time;
    }
    for (const id of expired) this.delete(id);
    this.oldestTime = oldest;
    if (expired.length > 0) {
      this.log.info({ count: expired.length }, "expired pending records");
      this.emit("removed", expired, "expired");
    }
    return expired;
  }

  /**
   * Writes the pool to its file atomically (temp file, fsync, rename). Saves are serialized; with
   * `onlyIfChanged` nothing is written when the pool is unchanged since the last save.
   */
  save(opts: { onlyIfChanged?: boolean } = {}): Promise<void> {
    const run = async (): Promise<void> => {
      if (!this.file || (opts.onlyIfChanged && !this.dirty)) return;
      const records: SavedRecord[] = [];
      for (const e of this.entries.values()) records.push({ time: e.time, bytes: e.bytes });
      this.dirty = false;
      try {
        await writeFileAtomic(this.file, encodeMempoolFile(this.params.networkId, records));
      } catch (err) {
        this.dirty = true;
        throw err;
      }
    };
    this.saving = this.saving.then(run, run);
    return this.saving;
  }

  /**
   * Loads the saved pool through `admit` (so every record is checked again against the chain of now),
   * keeping arrival times and order; expired ones are dropped. A torn, damaged or foreign file is
   * logged and ignored: the pool then starts empty. Returns what happened, for the caller to report.
   */
  async load(): Promise<
    | { status: "missing" }
    | { status: "damaged"; reason: string }
    | { status: "ok"; loaded: number; expired: number; refused: number }
  > {
    if (!this.file) return { status: "missing" };
    const result = await readMempoolFile(this.file, this.params.networkId);
    if (result.status === "missing") return result;
    if (result.status === "damaged") {
      this.log.warn({ file: this.file, reason: result.reason }, "ignoring damaged mempool file");
      return result;
    }
    let loaded = 0;
    let expired = 0;
    let refused = 0;
    const cutoff = this.now() - this.expiryMs;
    for (const saved of result.records) {
      if (saved.time <= cutoff) {
        expired++;
        continue;
      }
      const r = await this.admitAt(saved.bytes, { kind: "disk" }, saved.time);
      if (r.ok) loaded++;
      else if (r.error.code !== "ALREADY_PENDING") refused++;
    }
    this.dirty = expired + refused > 0;
    this.log.info({ loaded, expired, refused }, "loaded mempool");
    return { status: "ok", loaded, expired, refused };
  }
}
