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
import { hashToHex, headerHash } from "../consensus/header.ts";
import type { NetworkParams } from "../consensus/params.ts";
import { type BlockRecord, verifyRecordSignature } from "../consensus/records.ts";
import { type Logger, silentLogger } from "../util/logger.ts";
import { MempoolError } from "./errors.ts";
import { encodeMempoolFile, readMempoolFile, type SavedRecord, writeFileAtomic } from "./persist.ts";
import { precheck } from "./precheck.ts";
import { type FollowedTo, leftSince, newestArrival } from "./recover.ts";
import { blockRecordIds, type ChainSwitch, planSwitch } from "./reorg.ts";
import { REORG_SHARE, Shares, sourceShare } from "./shares.ts";
import { takeFair } from "./template.ts";
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
  /** In arrival order: a Map iterates in insertion order and deletes in O(1). */
  private entries = new Map<string, MempoolEntry>();
  private totalBytes = 0;
  /** The same entries by share, for eviction and templates. */
  private shares: Shares;
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
    this.shares = new Shares(this.maxBytes, this.maxCount);
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

  /** What one source holds (bytes and records), for monitoring and tests. */
  held(source: RecordSource): { bytes: number; count: number } {
    const share = this.shares.get(sourceShare(source));
    return { bytes: share?.bytes ?? 0, count: share?.count ?? 0 };
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
   * Whether `count` records of `bytes` in all from `source` could get in now: there is room, or the
   * source would still use less of the pool than the source using the most (which would then give way).
   * For a caller that takes or refuses a batch whole (POST /api/records); `admit` decides per record.
   */
  hasRoom(source: RecordSource, count: number, bytes: number): boolean {
    return this.room(sourceShare(source), count, bytes) !== "full";
  }

  /**
   * The one admission path. Checks, cheapest first: size (`RECORD_TOO_LARGE`), decoding (`MALFORMED`),
   * the 64-byte rule (`RECORD_64_BYTES`), type (`MINER_RECORD`), already pending (`ALREADY_PENDING`), already confirmed (`ALREADY_CONFIRMED`),
   * room for the source's share (`MEMPOOL_FULL`), then the signature (`BAD_SIGNATURE`); only then are
   * records evicted for it. Never throws for bad input; a failing `isConfirmed` (the node's index, not
   * the sender's fault) rejects the promise with its error.
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
    // From here on nothing awaits: the room found is the room there is.
    const room = this.room(share, 1, bytes.length);
    if (room === "full") return reject(this.fullError());
    // Before any eviction: a bad record must not cost anyone their place.
    if (rec.type === "signed" && !verifyRecordSignature(rec))
      return reject(new MempoolError({ code: "BAD_SIGNATURE" }));
    if (room === "evict" && !this.evictFor(share, bytes.length)) return reject(this.fullError());
    const entry: MempoolEntry = { id, record: rec, bytes, time, source, share };
    this.insert(entry);
    this.emit("added", entry);
    return { ok: true, entry };
  }

  private fits(count: number, bytes: number): boolean {
    return this.entries.size + count <= this.maxCount && this.totalBytes + bytes <= this.maxBytes;
  }

  /**
   * Room for `count` records of `bytes` from `share`: free room (`fits`, after dropping expired
   * records), room that sources using more than `share` then would can give up (`evict`), or none.
   */
  private room(share: string, count: number, bytes: number): "fits" | "evict" | "full" {
    if (this.fits(count, bytes)) return "fits";
    this.expire();
    if (this.fits(count, bytes)) return "fits";
    const needBytes = this.totalBytes + bytes - this.maxBytes;
    const needCount = this.entries.size + count - this.maxCount;
    const level = this.useAfter(share, count, bytes);
    return this.shares.canFree(level, share, needBytes, needCount) ? "evict" : "full";
  }

  /** What `share` would use of the pool with `count` more records of `bytes`. */
  private useAfter(share: string, count: number, bytes: number): number {
    const mine = this.shares.get(share);
    return this.shares.use((mine?.bytes ?? 0) + bytes, (mine?.count ?? 0) + count);
  }

  /**
   * Evicts, newest first, from whichever share uses the most of the pool, while it would still use more
   * than `share` after admitting a record of `bytes`, until that record fits (`room` found that it will).
   * True when it fits.
   */
  private evictFor(share: string, bytes: number): boolean {
    const floor = this.useAfter(share, 1, bytes);
    const evicted: string[] = [];
    while (!this.fits(1, bytes)) {
      const victim = this.shares.largest(share);
      if (!victim || this.shares.use(victim.bytes, victim.count) <= floor) break;
      const newest = this.shares.newest(victim);
      if (!newest) break;
      this.delete(newest.id);
      evicted.push(newest.id);
    }
    this.evicted(evicted, share);
    return this.fits(1, bytes);
  }

  private evicted(ids: string[], forShare: string): void {
    if (ids.length === 0) return;
    this.log.debug({ count: ids.length, for: forShare }, "evicted pending records");
    this.emit("removed", ids, "evicted");
  }

  private fullError(): MempoolError {
    return new MempoolError({
      code: "MEMPOOL_FULL",
      count: this.entries.size,
      bytes: this.totalBytes,
      maxCount: this.maxCount,
      maxBytes: this.maxBytes,
    });
  }

  private insert(entry: MempoolEntry): void {
    this.entries.set(entry.id, entry);
    this.totalBytes += entry.bytes.length;
    this.shares.add(entry);
    if (entry.time < this.oldestTime) this.oldestTime = entry.time;
    this.dirty = true;
  }

  private delete(id: string): boolean {
    const entry = this.entries.get(id);
    if (!entry) return false;
    this.entries.delete(id);
    this.totalBytes -= entry.bytes.length;
    this.shares.remove(entry);
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
    const first = this.shares.get(REORG_SHARE)?.entries.values() ?? [];
    const rest: Iterable<MempoolEntry>[] = [];
    for (const share of this.shares.all()) if (share.key !== REORG_SHARE) rest.push(share.entries.values());
    return takeFair(first, rest, maxBytes, MAX_CONSECUTIVE_SKIPS);
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

    const time = this.now();
    const rest = this.entries;
    this.entries = new Map();
    this.totalBytes = 0;
    this.shares = new Shares(this.maxBytes, this.maxCount);
    const returned: MempoolEntry[] = [];
    for (const { id, record, bytes } of back) {
      const entry: MempoolEntry = { id, record, bytes, time, source: { kind: "reorg" }, share: REORG_SHARE };
      // Resubmitted meanwhile: it moves up to its old place, and counts as returned, not as its sender's.
      if (rest.delete(id)) this.insert(entry);
      else {
        this.insert(entry);
        returned.push(entry);
      }
    }
    for (const entry of rest.values()) this.insert(entry);
    this.trim();
    const back2 = returned.filter((e) => this.entries.get(e.id) === e);
    for (const entry of back2) this.emit("added", entry);
    if (this.file)
      this.save().catch((err: unknown) => this.log.warn({ err }, "saving the mempool after a reorg failed"));
    return back2.map((e) => e.id);
  }

  /** Brings the pool within its bounds after a reorg: see `reorg`. */
  private trim(): void {
    if (this.fits(0, 0)) return;
    const evicted: string[] = [];
    let dropped = 0;
    while (!this.fits(0, 0)) {
      const share = this.shares.largest() ?? this.shares.get(REORG_SHARE);
      const newest = share && this.shares.newest(share);
      if (!newest) break;
      this.delete(newest.id);
      if (newest.share === REORG_SHARE) dropped++;
      else evicted.push(newest.id);
    }
    this.evicted(evicted, REORG_SHARE);
    if (dropped > 0)
      this.log.warn(
        { dropped, count: this.entries.size, bytes: this.totalBytes },
        "a reorg returned more records than the mempool holds: those of the newest blocks were dropped",
      );
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
   * Writes the pool to its file atomically (temp file, fsync, rename), with the chain tip it has followed
   * to. Saves are serialized; with `onlyIfChanged` nothing is written when the pool is unchanged since
   * the last save.
   */
  save(opts: { onlyIfChanged?: boolean } = {}): Promise<void> {
    const run = async (): Promise<void> => {
      if (!this.file || (opts.onlyIfChanged && !this.dirty)) return;
      // Records and tip are read in one synchronous step: the pool and its tip change together.
      const records: SavedRecord[] = [];
      for (const e of this.entries.values()) records.push({ time: e.time, bytes: e.bytes, share: e.share });
      const followed = this.tip === undefined ? undefined : { tip: this.tip, seen: this.seen };
      this.dirty = false;
      try {
        await writeFileAtomic(this.file, encodeMempoolFile(this.params.networkId, records, followed));
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
   * as the reorg returned them (recover.ts). A torn,
   * damaged or foreign file is logged and ignored: the pool then starts empty. Returns what happened,
   * for the caller to report.
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
    let loaded = 0;
    let expired = 0;
    let refused = 0;
    const cutoff = this.now() - this.expiryMs;
    for (const saved of result.records) {
      if (saved.time <= cutoff) {
        expired++;
        continue;
      }
      const r = await this.admitAt(saved.bytes, { kind: "disk" }, saved.time, saved.share ?? "disk");
      if (r.ok) loaded++;
      else if (r.error.code !== "ALREADY_PENDING") refused++;
    }
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

  /**
   * The records of the blocks that left the main chain after the save (recover.ts), admitted as a reorg
   * returns them, oldest block first. Returns how many came back.
   */
  private async recover(saved: FollowedTo): Promise<number> {
    if (!this.chain) return 0;
    const blocks = await leftSince(this.chain, saved, this.log);
    let returned = 0;
    const time = this.now();
    for (const { bytes } of planSwitch({ disconnected: blocks, connected: [] }).returned) {
      const r = await this.admitAt(bytes, { kind: "reorg" }, time, REORG_SHARE);
      if (r.ok) returned++;
    }
    if (blocks.length > 0)
      this.log.info(
        { blocks: blocks.length, returned },
        "returned the records of blocks that left the main chain after the last save",
      );
    return returned;
  }
}
