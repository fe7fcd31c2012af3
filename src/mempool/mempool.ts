/**
 * The pool of records waiting for a block. One admission path (`admit`) for every source, API, gossip
 * or the saved file, after btcd's maybeAcceptTransaction; bounded in bytes and in count, and full means
 * new records are refused (`MEMPOOL_FULL`), never that accepted ones are dropped; records expire after
 * `expiryMs`; arrival order is kept and is the order templates take them in. It follows the chain
 * through the node's wiring of the chain's events to `onDisconnected`, `onConnected` and `onTip`: block
 * connects remove included records; a reorg puts back the records of disconnected blocks that the new
 * branch lacks, in their old order (Bitcoin Core's DisconnectedBlockTransactions /
 * MaybeUpdateMempoolForReorg; reorg.ts).
 *
 * Record ids are consensus's `recordId` in display hex (byte-reversed, as block hashes are shown).
 * Every method but `admit`, `load` and `save` is synchronous, so the pool is never seen half-updated.
 */
import { EventEmitter } from "node:events";
import type { Block } from "../consensus/block.ts";
import type { NetworkParams } from "../consensus/params.ts";
import { type BlockRecord, verifyRecordSignature } from "../consensus/records.ts";
import { type Logger, silentLogger } from "../util/logger.ts";
import { MempoolError } from "./errors.ts";
import { encodeMempoolFile, readMempoolFile, type SavedRecord, writeFileAtomic } from "./persist.ts";
import { precheck } from "./precheck.ts";
import { blockRecordIds, type ChainSwitch, planSwitch } from "./reorg.ts";
import type {
  AdmitResult,
  MempoolEntry,
  MempoolEvents,
  MempoolOptions,
  MempoolStats,
  RecordSource,
} from "./types.ts";

export const DEFAULT_MEMPOOL_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MEMPOOL_COUNT = 250_000;
export const DEFAULT_MEMPOOL_EXPIRY_MS = 24 * 60 * 60 * 1000;
/** `take` stops after this many records in a row that do not fit the room left. */
export const MAX_CONSECUTIVE_SKIPS = 1000;

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
  /**
   * The state change the chain is announcing: it emits a switch's `disconnected` events (newest first) and
   * `connected` events (oldest first) synchronously before its `tip` event, so the bodies are collected
   * here (`onDisconnected`, `onConnected`) and used at the tip (`onTip`) rather than read again.
   */
  private announced: { disconnected: Block[]; connected: Block[] } = { disconnected: [], connected: [] };
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
    const checked = precheck(record, this.params.maxRecordSize);
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

  /** Following the chain (its `disconnected` event): `block` left the main chain; see `onTip`. */
  onDisconnected(block: Block): void {
    this.announced.disconnected.push(block);
  }

  /**
   * Following the chain (its `connected` event): `block` joined the main chain, so its records leave the
   * pool at once, and admissions waiting on the index ask it again.
   */
  onConnected(block: Block): void {
    this.announced.connected.push(block);
    // Ids are hashed only when something is pending; the call bumps the generation either way.
    this.removeForBlock(this.entries.size > 0 ? blockRecordIds(block) : []);
  }

  /**
   * Following the chain (its `tip` event; `reorged` when the change disconnected blocks): after a reorg,
   * the records of the disconnected blocks that the new branch lacks come back (`reorg`). Returns their ids.
   */
  onTip(reorged: boolean): string[] {
    const { disconnected, connected } = this.announced;
    this.announced = { disconnected: [], connected: [] };
    return reorged ? this.reorg({ disconnected: disconnected.reverse(), connected }) : [];
  }

  /**
   * After a reorg (both lists oldest first): records of the connected blocks leave the pool, and the
   * records of disconnected blocks that no connected block carries come back as pending, in chain order
   * (oldest block first, block order within it), ahead of everything else pending, since they arrived
   * before it. Like Core, they bypass the bounds (they were accepted once; the pool refuses new records
   * until it drains) and get a fresh arrival time, so a deep reorg cannot expire them at once.
   * Returns the ids that came back.
   */
  reorg(change: ChainSwitch): string[] {
    this.generation++;
    const { confirmed, returned: back } = planSwitch(change);
    const removed: string[] = [];
    for (const id of confirmed) if (this.delete(id)) removed.push(id);
    if (removed.length > 0) this.emit("removed", removed, "block");

    const time = this.now();
    if (back.length === 0) return [];
    const rest = this.entries;
    this.entries = new Map();
    this.totalBytes = 0;
    const returned: MempoolEntry[] = [];
    for (const { id, record, bytes } of back) {
      const entry: MempoolEntry = { id, record, bytes, time, source: { kind: "reorg" } };
      const pending = rest.get(id);
      if (pending)
        rest.delete(id); // resubmitted meanwhile: it moves up to its old place
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
