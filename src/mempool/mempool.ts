/**
 * The pool of records waiting for a block. One admission path (`admit`) for every source, API, gossip
 * or the saved file, after btcd's maybeAcceptTransaction; bounded in bytes and in count. No source can
 * own it (shares.ts): a source may fill free room, but when the pool is full a source using less than
 * its equal part evicts the newest records of the source using the most, and a source at its part is
 * refused (`MEMPOOL_FULL`). Records expire after `expiryMs`; templates take the records a reorg returned
 * first, then every source in turn (template.ts), each in arrival order. It follows the chain
 * through the node's wiring of the chain's events to `onDisconnected`, `onConnected` and `onTip`: block
 * connects remove included records; a reorg puts back the records of disconnected blocks that the new
 * branch lacks, in their old order (Bitcoin Core's DisconnectedBlockTransactions /
 * MaybeUpdateMempoolForReorg; reorg.ts).
 *
 * Record ids are consensus's `recordId` in display hex (byte-reversed, as block hashes are shown).
 * Every method but `admit`, `load` and `save` is synchronous, so the pool is never seen half-updated.
 */
import { EventEmitter } from "node:events";
import type { ChainEntry } from "../chain/types.ts";
import type { Block } from "../consensus/block.ts";
import { hashToHex, headerHash, hexToHash } from "../consensus/header.ts";
import type { NetworkParams } from "../consensus/params.ts";
import { type BlockRecord, verifyRecordSignature } from "../consensus/records.ts";
import { type Logger, silentLogger } from "../util/logger.ts";
import { PoolEntries } from "./entries.ts";
import { fullError, MempoolError } from "./errors.ts";
import { mempoolFileParts, readMempoolFile, type SavedRecord, writeFileAtomic } from "./persist.ts";
import { precheck } from "./precheck.ts";
import { admitSaved, type FollowedTo, newestArrival, returnLeft } from "./recover.ts";
import { blockRecordIds, type ChainSwitch, planSwitch } from "./reorg.ts";
import { REORG_SHARE, sourceShare } from "./shares.ts";
import type {
  AdmitResult,
  MempoolEntry,
  MempoolEvents,
  MempoolOptions,
  MempoolStats,
  PoolChain,
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
  private readonly chain: PoolChain | undefined;
  private readonly log: Logger;
  private readonly signatures: MempoolOptions["signatures"];
  /** The records, their totals and shares (entries.ts). */
  private readonly pool: PoolEntries;
  /** Bumped by every block connect and reorg: an admission that waited on `isConfirmed` asks again. */
  private generation = 0;
  /**
   * The state change the chain is announcing: it emits a switch's `disconnected` events (newest first) and
   * `connected` events (oldest first) synchronously before its `tip` event, so the bodies are collected
   * here (`onDisconnected`, `onConnected`) and used at the tip (`onTip`) rather than read again.
   */
  private announced: { disconnected: Block[]; connected: Block[] } = { disconnected: [], connected: [] };
  /**
   * Where the pool has followed the chain to, from the same events (the tip, and the highest arrival
   * number of a block it saw connect or disconnect), so a save records what its records belong with and
   * `load` finds what left the main chain after it (recover.ts).
   */
  private tip: string | undefined;
  private seen = 0;
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
    this.chain = opts.chain;
    this.log = opts.logger ?? silentLogger;
    this.signatures = opts.signatures;
    this.pool = new PoolEntries(this.maxBytes, this.maxCount);
  }

  get size(): number {
    return this.pool.size;
  }

  get bytes(): number {
    return this.pool.bytes;
  }

  has(id: string): boolean {
    return this.pool.has(id);
  }

  get(id: string): MempoolEntry | undefined {
    return this.pool.get(id);
  }

  stats(): MempoolStats {
    const first = this.pool.values().next();
    return {
      count: this.pool.size,
      bytes: this.pool.bytes,
      oldestAgeMs: first.done ? 0 : Math.max(0, this.now() - first.value.time),
      maxCount: this.maxCount,
      maxBytes: this.maxBytes,
    };
  }

  /** What one source holds (bytes and records), for monitoring and tests. */
  held(source: RecordSource): { bytes: number; count: number } {
    return this.pool.held(sourceShare(source));
  }

  /** Up to `limit` ids in arrival order, starting after `after` (a page for GET /api/mempool). */
  ids(limit: number, after?: string): string[] {
    return this.pool.page(limit, after);
  }

  /**
   * Whether `count` records of `bytes` in all from `source` could get in now: there is room, or the
   * source would still use less of the pool than the source using the most (which would then give way).
   * For a caller that takes or refuses a batch whole (POST /api/records); `admit` decides per record.
   */
  hasRoom(source: RecordSource, count: number, bytes: number): boolean {
    return this.room(sourceShare(source), count, bytes) !== "full";
  }

  /**
   * The one admission path. Checks, cheapest first: size (`RECORD_TOO_LARGE`), decoding (`MALFORMED`),
   * the 64-byte rule (`RECORD_64_BYTES`), type (`MINER_RECORD`), the author policy (`UNAUTHORISED_AUTHOR`),
   * already pending or confirmed (`ALREADY_PENDING`, `ALREADY_CONFIRMED`), room for the source's share
   * (`MEMPOOL_FULL`), then the signature (`BAD_SIGNATURE`); only then are records evicted for it. Never
   * throws for bad input; a failing `isConfirmed` (the node's index) rejects the promise with its error.
   */
  async admit(record: BlockRecord | Uint8Array, source: RecordSource): Promise<AdmitResult> {
    const result = await this.admitAt(record, source, this.now(), sourceShare(source));
    if (!result.ok) this.emit("refused", result.error.code, source.kind, source);
    return result;
  }

  private async admitAt(
    record: BlockRecord | Uint8Array,
    source: RecordSource,
    time: number,
    share: string,
  ): Promise<AdmitResult> {
    const next = (this.chain?.tip.height ?? 0) + 1; // the next block's height (1 without a chain, in tests)
    const checked = precheck(record, this.params.maxRecordSize, this.params.authors, next);
    if (!checked.ok) return checked;
    const { rec, bytes, id } = checked;
    const reject = (error: MempoolError): AdmitResult => ({ ok: false, id, error });
    if (this.pool.has(id)) return reject(new MempoolError({ code: "ALREADY_PENDING", id }));
    // A block may connect while we wait for the index; ask again so a record confirmed meanwhile is not
    // admitted after the connect removed it (a template would then repeat a confirmed record).
    for (;;) {
      const generation = this.generation;
      // A failing index lookup is the node's problem, not the sender's: it propagates.
      if (await this.isConfirmed(id)) return reject(new MempoolError({ code: "ALREADY_CONFIRMED", id }));
      if (generation === this.generation) break;
    }
    if (this.pool.has(id)) return reject(new MempoolError({ code: "ALREADY_PENDING", id }));
    // From here on nothing awaits: the room found is the room there is.
    const room = this.room(share, 1, bytes.length);
    if (room === "full") return reject(fullError(this.stats()));
    // Before any eviction: a bad record must not cost anyone their place.
    if (rec.type === "signed" && !verifyRecordSignature(rec))
      return reject(new MempoolError({ code: "BAD_SIGNATURE" }));
    if (room === "evict" && !this.evictFor(share, bytes.length)) return reject(fullError(this.stats()));
    const entry: MempoolEntry = { id, record: rec, bytes, time, source, share };
    this.insert(entry);
    // Verified and admitted: its block need not verify it again (only a successful verification is cached).
    if (rec.type === "signed") this.signatures?.add(hexToHash(id));
    this.emit("added", entry);
    return { ok: true, entry };
  }

  /**
   * Room for `count` records of `bytes` from `share`: free room (`fits`, after dropping expired
   * records), room that sources using more than `share` then would can give up (`evict`), or none.
   */
  private room(share: string, count: number, bytes: number): "fits" | "evict" | "full" {
    if (this.pool.fits(count, bytes)) return "fits";
    this.expire();
    if (this.pool.fits(count, bytes)) return "fits";
    return this.pool.canEvictFor(share, count, bytes) ? "evict" : "full";
  }

  /** Evicts for one record of `bytes` from `share` (entries.ts `evictFor`); true when it then fits. */
  private evictFor(share: string, bytes: number): boolean {
    this.evicted(this.pool.evictFor(share, bytes), share);
    return this.pool.fits(1, bytes);
  }

  private evicted(ids: string[], forShare: string): void {
    if (ids.length === 0) return;
    this.dirty = true;
    this.log.debug({ count: ids.length, for: forShare }, "evicted pending records");
    this.emit("removed", ids, "evicted");
  }

  private insert(entry: MempoolEntry): void {
    this.pool.insert(entry);
    this.dirty = true;
  }

  private delete(id: string): boolean {
    if (!this.pool.delete(id)) return false;
    this.dirty = true;
    return true;
  }

  /**
   * Pending records whose bytes add up to at most `maxBytes`, for a block template (the caller passes the
   * space left after header, count and miner record): the records a reorg returned first, then every
   * source in turn, each in arrival order (template.ts). A record that does not fit is skipped, and a
   * later, smaller one may take its place; the skipped one stays first in its source's line. After
   * MAX_CONSECUTIVE_SKIPS misfits in a row the block is taken as full (Core's miner gives up the same
   * way), so a take costs the records taken, not the whole pool. Does not remove anything: records
   * leave when their block connects.
   */
  take(maxBytes: number): MempoolEntry[] {
    this.expire();
    return this.pool.take(maxBytes, MAX_CONSECUTIVE_SKIPS);
  }

  /** Removes records included in a connected block (ids as display hex); returns how many were pending. */
  removeForBlock(ids: Iterable<string>): number {
    this.generation++;
    const removed: string[] = [];
    for (const id of ids) if (this.delete(id)) removed.push(id);
    if (removed.length > 0) this.emit("removed", removed, "block");
    return removed.length;
  }

  /** Following the chain (its `disconnected` event, with the block's entry): it left the main chain; see `onTip`. */
  onDisconnected(block: Block, entry?: Pick<ChainEntry, "seq">): void {
    this.announced.disconnected.push(block);
    this.tip = hashToHex(block.header.prevHash);
    if (entry && entry.seq > this.seen) this.seen = entry.seq;
  }

  /**
   * Following the chain (its `connected` event, with the block's entry): `block` joined the main chain, so
   * its records leave the pool at once, and admissions waiting on the index ask it again.
   */
  onConnected(block: Block, entry?: Pick<ChainEntry, "seq">): void {
    this.announced.connected.push(block);
    this.tip = headerHash(block.header);
    if (entry && entry.seq > this.seen) this.seen = entry.seq;
    // Ids are hashed only when something is pending; the call bumps the generation either way.
    this.removeForBlock(this.pool.size > 0 ? blockRecordIds(block) : []);
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
   * before it; a pending copy of one moves up with them. They get a fresh arrival time, so a deep reorg
   * cannot expire them at once. The bounds hold, as after Core's reorg (LimitMempoolSize): pending records
   * make room for them, newest first from the sources using the most, and should they alone exceed the
   * bounds, those of the newest blocks are dropped. The pool is then saved at once (when it has a file):
   * until it is, only `load`'s check of the saved tip would bring them back after a kill.
   * Returns the ids that came back.
   */
  reorg(change: ChainSwitch): string[] {
    this.generation++;
    const { confirmed, returned: back } = planSwitch(change);
    const removed: string[] = [];
    for (const id of confirmed) if (this.delete(id)) removed.push(id);
    if (removed.length > 0) this.emit("removed", removed, "block");
    if (back.length === 0) return [];

    // A record resubmitted meanwhile moves up to its old place, and counts as returned, not as its sender's.
    const returned = this.pool.returnFirst(back, this.now());
    this.dirty = true;
    const { evicted, dropped } = this.pool.trim();
    this.evicted(evicted, REORG_SHARE);
    if (dropped.length > 0)
      this.log.warn(
        { dropped: dropped.length, count: this.pool.size, bytes: this.pool.bytes },
        "a reorg returned more records than the mempool holds: those of the newest blocks were dropped",
      );
    const back2 = returned.filter((e) => this.pool.get(e.id) === e);
    for (const entry of back2) this.emit("added", entry);
    if (this.file)
      this.save().catch((err: unknown) => this.log.warn({ err }, "saving the mempool after a reorg failed"));
    return back2.map((e) => e.id);
  }

  /** Drops records older than `expiryMs`; returns their ids. Cheap when nothing can be due. */
  expire(): string[] {
    const expired = this.pool.expire(this.now() - this.expiryMs);
    if (expired.length > 0) {
      this.dirty = true;
      this.log.info({ count: expired.length }, "expired pending records");
      this.emit("removed", expired, "expired");
    }
    return expired;
  }

  /**
   * Writes the pool to its file atomically (temp file, fsync, rename), with the chain tip it has followed
   * to. Saves are serialized; with `onlyIfChanged` nothing is written when the pool is unchanged since
   * the last save.
   */
  save(opts: { onlyIfChanged?: boolean } = {}): Promise<void> {
    const run = async (): Promise<void> => {
      if (!this.file || (opts.onlyIfChanged && !this.dirty)) return;
      // Records and tip are read in one synchronous step: the pool and its tip change together.
      const records: SavedRecord[] = [];
      for (const e of this.pool.values()) records.push({ time: e.time, bytes: e.bytes, share: e.share });
      const followed = this.tip === undefined ? undefined : { tip: this.tip, seen: this.seen };
      this.dirty = false;
      try {
        await writeFileAtomic(this.file, mempoolFileParts(this.params.networkId, records, followed));
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
   * keeping arrival times, order and shares; expired ones are dropped. The records of blocks that left
   * the main chain after the save (a reorg, then a kill before the save that follows it) come back first,
   * as the reorg returned them (recover.ts). A torn, damaged or foreign file is logged and ignored: the
   * pool then starts empty. Returns what happened, for the caller to report.
   */
  async load(): Promise<
    | { status: "missing" }
    | { status: "damaged"; reason: string }
    | { status: "ok"; loaded: number; expired: number; refused: number; returned: number }
  > {
    if (this.chain && this.tip === undefined) {
      this.tip = this.chain.tip.hash;
      this.seen = newestArrival(this.chain);
    }
    if (!this.file) return { status: "missing" };
    const result = await readMempoolFile(this.file, this.params.networkId);
    if (result.status === "damaged")
      this.log.warn({ file: this.file, reason: result.reason }, "ignoring damaged mempool file");
    if (result.status !== "ok") {
      await this.saveFollowed();
      return result;
    }
    const returned = result.followed === undefined ? 0 : await this.recover(result.followed);
    const { loaded, expired, refused } = await admitSaved(
      result.records,
      this.now() - this.expiryMs,
      (saved) => this.admitAt(saved.bytes, { kind: "disk" }, saved.time, saved.share ?? "disk"),
    );
    this.dirty = expired + refused + returned > 0;
    this.log.info({ loaded, expired, refused, returned }, "loaded mempool");
    if (result.followed?.tip !== this.tip || this.dirty) await this.saveFollowed();
    return { status: "ok", loaded, expired, refused, returned };
  }

  /**
   * A save at load, when the pool follows a chain: from then on the file says where the pool starts, so
   * a reorg before the first periodic save is found again too (recover.ts). A failure is logged.
   */
  private async saveFollowed(): Promise<void> {
    if (!this.chain) return;
    await this.save().catch((err: unknown) => this.log.warn({ err }, "saving the mempool failed"));
  }

  /** The records of blocks that left the main chain after the save (recover.ts), admitted; how many. */
  private async recover(saved: FollowedTo): Promise<number> {
    if (!this.chain) return 0;
    const time = this.now();
    return returnLeft(this.chain, saved, this.log, (bytes) =>
      this.admitAt(bytes, { kind: "reorg" }, time, REORG_SHARE),
    );
  }
}
