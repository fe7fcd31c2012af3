import { EventEmitter } from "node:events";
import { type Block, decodeBlock, encodeBlock, recordIds } from "../consensus/block.ts";
import { bytesEqual, DecodeError, fromHex, toHex } from "../consensus/bytes.ts";
import { blockWork } from "../consensus/compact.ts";
import { type AsertAnchor, anchorFromBlockOne, requiredBits } from "../consensus/difficulty.ts";
import { BlockError, type BlockErrorData } from "../consensus/errors.ts";
import { claimsGenesis, lastCheckpoint } from "../consensus/genesis.ts";
import { hashToHex, headerHashBytes, hexToHash } from "../consensus/header.ts";
import type { NetworkParams } from "../consensus/params.ts";
import { MEDIAN_TIME_SPAN, medianTimePast } from "../consensus/time.ts";
import type { BlockContext, BlockFacts, ConfirmedIn } from "../consensus/validate.ts";
import { BoundedMap } from "../util/bounded.ts";
import { type Logger, silentLogger } from "../util/logger.ts";
import { type CheckOptions, checkBlock, type ParentView, type Position } from "./connect.ts";
import { genesisEntry, readTree, recheck, toStored } from "./load.ts";
import { DEFAULT_ORPHAN_LIMITS, type OrphanLimits, OrphanPool } from "./orphans.ts";
import { readStoredRecord, type StoredRecord } from "./proofs.ts";
import {
  type ChainStore,
  type IndexedRecord,
  indexedRecords,
  type RecordPlace,
  StoreError,
  type StoreWrite,
  storedBlock,
} from "./store.ts";
import type {
  ChainEntry,
  ChainEvents,
  NextBlockContext,
  ProcessResult,
  RecordLocation,
  Reorg,
} from "./types.ts";

export interface ChainOptions {
  params: NetworkParams;
  store: ChainStore;
  /** The node's clock in seconds (tests pass their own). */
  now?: () => number;
  logger?: Logger;
  orphanLimits?: Partial<OrphanLimits>;
  /** Main-chain blocks whose bodies are re-checked at startup (default 6, as Bitcoin Core's -checkblocks). */
  checkBlocks?: number;
  /** Invalid block hashes remembered beyond those in the store (default 10,000). */
  invalidCacheSize?: number;
  /** Blocks from the future held for a retry (default 64). */
  maxFutureBlocks?: number;
}

/** Most blocks processBlocks commits in one batch. */
const EXTEND_BATCH = 500;

/** A block of a processBlocks run, checked and waiting for its batch. */
interface RunItem {
  entry: ChainEntry;
  block: Block;
  raw: Uint8Array;
  ids: Uint8Array[];
  upper: Uint8Array | undefined;
}

/** A 32-byte public key from 64 hex digits (DecodeError otherwise). */
function fromHexKey(hex: string): Uint8Array {
  if (hex.length !== 64) throw new DecodeError("public key must be 64 hex digits");
  return fromHex(hex);
}

const isInvalid = (e: ChainEntry): boolean => e.status === "invalid" || e.status === "invalid-child";

/**
 * The block tree and the main chain. Every block, mined here or received, enters through processBlock,
 * which runs (after btcd's ProcessBlock):
 *   1. duplicate / known-invalid lookup (tree, invalid cache, orphan and future pools);
 *   2. context-free sanity checks (proof of work first, then size, records, merkle, time);
 *   3. parent lookup: unknown parent → orphan pool (or BAD_GENESIS for a block claiming to start a chain);
 *   4. the position checks against the parent (invalid parent, checkpoints, bits, median time past, height),
 *      then the block joins the tree with its cumulative work;
 *   5. fork choice: more work than the tip → the whole new branch is validated (record signatures) before
 *      anything changes, then the switch is one atomic store batch; otherwise it is stored as a side block;
 *   6. orphans waiting on the block are processed in turn.
 * Steps 2, 4 and the records of step 5 are the stages of the one checkBlock (connect.ts), which the batched
 * path, the startup re-check and verifyChain run too. A rejection is recorded one way on every path: a
 * block refused before it joins the tree is remembered by hash in the bounded `invalid` cache (when the rule
 * says the hash itself is bad); a block whose records fail is stored with status "invalid", its descendants
 * "invalid-child", so the node still knows after a restart.
 * Calls run one at a time (`exclusive`), so every read of the in-memory tree sees a committed state.
 */
export class Chain extends EventEmitter<ChainEvents> {
  readonly params: NetworkParams;
  private readonly store: ChainStore;
  private readonly now: () => number;
  private readonly log: Logger;
  private entries = new Map<string, ChainEntry>();
  /**
   * Every entry by height (main and side), so tree views and children cost O(entries shown). A height
   * with one entry holds it directly: an array per height cost 18 MB at 100,000 blocks.
   */
  private readonly byHeight: Array<ChainEntry | ChainEntry[]> = [];
  /** Main chain by height. */
  private main: ChainEntry[] = [];
  private readonly orphans: OrphanPool;
  /** Hash → why it is invalid, for blocks never stored (bounded, oldest dropped first). */
  private readonly invalid: BoundedMap<string, BlockErrorData>;
  /** Blocks from the future held for a retry (bounded, oldest dropped first). */
  private readonly future: BoundedMap<string, Block>;
  private readonly anchors = new Map<string, AsertAnchor>();
  private readonly lastCheckpoint: { height: number; hash: string } | undefined;
  private seq = 0;
  /** Work counters, for monitoring and for tests that a cached rejection costs no second validation. */
  readonly stats = { sanityChecks: 0, recordChecks: 0, reorgs: 0 };
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /**
   * Odd while a batch that moves the main chain (and the record index) is written and applied to memory:
   * readers outside the queue (findRecord, recordsByAuthor) read again when it changed under them.
   */
  private epoch = 0;

  private constructor(opts: ChainOptions) {
    super();
    this.params = opts.params;
    this.store = opts.store;
    this.now = opts.now ?? (() => Math.floor(Date.now() / 1000));
    this.log = opts.logger ?? silentLogger;
    this.orphans = new OrphanPool({ ...DEFAULT_ORPHAN_LIMITS, ...opts.orphanLimits });
    this.invalid = new BoundedMap(opts.invalidCacheSize ?? 10_000);
    this.future = new BoundedMap(opts.maxFutureBlocks ?? 64);
    this.lastCheckpoint = lastCheckpoint(this.params);
  }

  /** Opens the chain on a store: loads the block tree (headers only), checks it, re-checks the last blocks. */
  static async open(opts: ChainOptions): Promise<Chain> {
    const chain = new Chain(opts);
    await chain.load(opts.checkBlocks ?? 6);
    return chain;
  }

  // ---------------------------------------------------------------- reading

  /** The main-chain tip. */
  get tip(): ChainEntry {
    return this.main[this.main.length - 1]!;
  }

  get height(): number {
    return this.main.length - 1;
  }

  /** A block-tree entry by display hash (main or side, valid or not). */
  getEntry(hash: string): ChainEntry | undefined {
    return this.entries.get(hash);
  }

  /** The main-chain entry at a height. */
  getEntryAt(height: number): ChainEntry | undefined {
    return this.main[height];
  }

  isMain(entry: ChainEntry): boolean {
    return this.main[entry.height] === entry;
  }

  /** Entries of the whole tree (main and side) at heights >= `height`, by height, then arrival order. */
  entriesFrom(height: number): ChainEntry[] {
    const out: ChainEntry[] = [];
    for (let h = Math.max(0, height); h < this.byHeight.length; h++) out.push(...this.entriesAt(h));
    return out;
  }

  /** Every entry at a height, main and side, in arrival order. */
  entriesAt(height: number): ChainEntry[] {
    const level = this.byHeight[height];
    return level === undefined ? [] : Array.isArray(level) ? level : [level];
  }

  /** Children of an entry, main and side. */
  childrenOf(entry: ChainEntry): ChainEntry[] {
    return this.entriesAt(entry.height + 1).filter((c) => c.parent === entry);
  }

  private addEntry(e: ChainEntry): void {
    this.entries.set(e.hash, e);
    this.addToHeight(e);
  }

  private addToHeight(e: ChainEntry): void {
    const level = this.byHeight[e.height];
    if (level === undefined) this.byHeight[e.height] = e;
    else if (Array.isArray(level)) level.push(e);
    else this.byHeight[e.height] = [level, e];
  }

  /** The serialized block, or undefined when it is not stored. */
  async getRawBlock(hash: string): Promise<Uint8Array | undefined> {
    const e = this.entries.get(hash);
    if (!e) return undefined;
    return this.store.getBlock(e.hashBytes);
  }

  async getBlock(hash: string): Promise<Block | undefined> {
    const raw = await this.getRawBlock(hash);
    return raw ? decodeBlock(raw) : undefined;
  }

  /** Serialized main-chain blocks for heights [from, from + count), in order. */
  async getMainBlocks(from: number, count: number): Promise<Uint8Array[]> {
    const entries = this.main.slice(from, from + count);
    const raws = await this.store.getBlocks(entries.map((e) => e.hashBytes));
    return raws.map((r, i) => {
      if (!r) throw new StoreError("CORRUPT", `block ${entries[i]!.hash} is missing from the store`);
      return r;
    });
  }

  /** Bitcoin-style block locator: the last 10 main blocks, then exponentially sparser, then genesis. */
  locator(from: ChainEntry = this.tip): string[] {
    const out: string[] = [];
    let step = 1;
    let e: ChainEntry | undefined = from;
    while (e) {
      out.push(e.hash);
      if (e.height === 0) break;
      if (out.length >= 10) step *= 2;
      e = this.ancestor(e, Math.max(0, e.height - step));
    }
    return out;
  }

  /** The highest main-chain entry among `locator`'s hashes (genesis if none is known). */
  findFork(locator: readonly string[]): ChainEntry {
    for (const h of locator) {
      const e = this.entries.get(h);
      if (e && this.isMain(e)) return e;
    }
    return this.main[0]!;
  }

  /** What a miner needs to build on the current tip. */
  nextBlockContext(now = this.now()): NextBlockContext {
    const tip = this.tip;
    return {
      prevHash: tip.hashBytes,
      prevHashHex: tip.hash,
      height: tip.height + 1,
      bits: this.nextBits(tip),
      minTime: this.medianTimePast(tip) + 1,
      maxTime: now + this.params.maxFutureDrift,
    };
  }

  // ---------------------------------------------------------------- records

  /** Where a record (display-hex id) is confirmed on the main chain, or undefined. Throws DecodeError on a bad id. */
  findRecord(id: string): Promise<RecordLocation | undefined> {
    const idBytes = hexToHash(id);
    return this.stable(async () => {
      const [place] = await this.store.getRecordPlaces([idBytes]);
      return place && this.locate(place);
    });
  }

  /**
   * The record at a place `findRecord` or `recordsByAuthor` gave, with its inclusion proof when `proof`
   * is set (src/chain/proofs.ts); undefined when its block is not stored.
   */
  async readRecord(place: RecordLocation, opts: { proof: boolean }): Promise<StoredRecord | undefined> {
    const e = this.entries.get(place.blockHash);
    return e && readStoredRecord(this.store, e.hashBytes, place.index, opts.proof);
  }

  /** Whether a record (display-hex id) is confirmed on the main chain (the mempool's isConfirmed). */
  async isRecordConfirmed(id: string): Promise<boolean> {
    const [place] = await this.store.getRecordPlaces([hexToHash(id)]);
    return place !== undefined;
  }

  /**
   * A signer's confirmed records (public key in hex), newest first: at most `limit`, strictly before the
   * cursor `before` (the height and index of the last record of the previous page).
   */
  recordsByAuthor(
    publicKeyHex: string,
    opts: { limit: number; before?: { height: number; index: number } },
  ): Promise<Array<RecordLocation & { id: string }>> {
    const key = fromHexKey(publicKeyHex);
    return this.stable(async () => {
      const rows = await this.store.recordsByAuthor(key, opts.limit, opts.before);
      const out: Array<RecordLocation & { id: string }> = [];
      for (const r of rows) {
        const loc = this.locate(r);
        if (loc) out.push({ id: hashToHex(r.id), ...loc });
      }
      return out;
    });
  }

  private locate(place: RecordPlace): RecordLocation | undefined {
    const entry = this.main[place.height];
    return entry && { blockHash: entry.hash, height: place.height, index: place.index };
  }

  /** Runs a read of the index against a settled main chain: again, in the queue, if a batch moved it meanwhile. */
  private async stable<T>(read: () => Promise<T>): Promise<T> {
    const before = this.epoch;
    const out = await read();
    if (before % 2 === 0 && before === this.epoch) return out;
    return this.exclusive(read);
  }

  /** Writes a batch that moves the main chain, then `apply`s it to memory, with `epoch` odd in between. */
  private async writeMain(w: StoreWrite, apply: () => void): Promise<void> {
    this.epoch++;
    try {
      await this.store.write(w);
      apply();
    } finally {
      this.epoch++;
    }
  }

  /**
   * The exactly-once view for blocks about to join the main chain above `fork`: the ids' places in the
   * index (one read for all), where a place above the fork is in a block this switch disconnects and so
   * counts as absent; `overlay` holds the ids of blocks earlier in the branch or run (display hash of the
   * block), which count as present.
   */
  private async confirmedView(
    ids: Uint8Array[],
    fork: ChainEntry,
    overlay: ReadonlyMap<string, string>,
  ): Promise<ConfirmedIn> {
    const places = await this.store.getRecordPlaces(ids);
    const found = new Map<string, RecordPlace>();
    places.forEach((p, i) => {
      if (p && p.height <= fork.height) found.set(toHex(ids[i]!), p);
    });
    if (found.size === 0 && overlay.size === 0) return () => undefined;
    return (id) => {
      const k = toHex(id);
      const earlier = overlay.get(k);
      if (earlier !== undefined) return earlier;
      const p = found.get(k);
      return p && (this.main[p.height]?.hash ?? `height ${p.height}`);
    };
  }

  get orphanCount(): number {
    return this.orphans.count;
  }

  // ---------------------------------------------------------------- processBlock

  /**
   * The one entry for every block. Resolves with what happened, or rejects with a BlockError saying which
   * rule the block broke (with the penalty the sender deserves). `raw` is the serialized block when the
   * caller has it (saves re-encoding).
   */
  processBlock(block: Block, raw?: Uint8Array): Promise<ProcessResult> {
    const start = performance.now();
    const settled = (outcome: ChainEvents["processed"][0]["outcome"]): void => {
      this.emit("processed", { seconds: (performance.now() - start) / 1000, outcome });
    };
    return this.exclusive(() => this.process(block, raw)).then(
      (result) => {
        settled(result.status);
        return result;
      },
      (err: unknown) => {
        settled(err instanceof BlockError ? "invalid" : "error");
        throw err;
      },
    );
  }

  /**
   * Processes a run of blocks in order, as a sync delivers them, with the same rules and outcomes as
   * processBlock. Blocks that extend the tip one after another are validated one by one and committed
   * together in one atomic batch per up to EXTEND_BATCH blocks (one LevelDB write instead of one per
   * block); any other block takes the processBlock path. Stops at the first rejected block: the result
   * list then ends with its BlockError, and later blocks are not looked at. Events are emitted after each
   * commit, one `tip` event per committed run.
   */
  processBlocks(
    items: ReadonlyArray<{ block: Block; raw?: Uint8Array }>,
  ): Promise<Array<ProcessResult | BlockError>> {
    return this.exclusive(async () => {
      const results: Array<ProcessResult | BlockError> = [];
      let run: RunItem[] = [];
      /** Record ids of the run's blocks, not yet in the index: present for the blocks after them. */
      const runIds = new Map<string, string>();
      const flush = async (): Promise<void> => {
        if (run.length) await this.commitRun(run);
        run = [];
        runIds.clear();
      };
      for (const { block, raw } of items) {
        const base = run.length ? run[run.length - 1]!.entry : this.tip;
        const hashBytes = headerHashBytes(block.header);
        const hash = hashToHex(hashBytes);
        const fast =
          bytesEqual(block.header.prevHash, base.hashBytes) &&
          !this.entries.has(hash) &&
          !this.invalid.has(hash) &&
          !this.orphans.has(hash) &&
          !this.future.has(hash);
        try {
          if (!fast) {
            await flush();
            results.push(await this.process(block, raw));
            continue;
          }
          const facts = this.check(
            block,
            hashBytes,
            { parent: this.view(base) },
            { size: raw?.length, to: "context" },
          );
          const entry = this.newEntry(block, facts, base);
          const bytes = raw ?? encodeBlock(block);
          const ids = facts.ids ?? recordIds(block);
          const confirmedIn = await this.confirmedView(ids.slice(1), this.tip, runIds);
          const failure = this.recordsError(entry, block, confirmedIn, ids);
          if (failure) {
            // Recorded as processBlock records it: stored as invalid (activate), so a restart remembers it.
            await flush();
            await this.activate(entry, block, bytes, { failure, ids, upper: facts.upper });
          }
          entry.status = "valid";
          for (const id of ids) runIds.set(toHex(id), entry.hash);
          run.push({ entry, block, raw: bytes, ids, upper: facts.upper });
          results.push({ status: "main", hash, height: entry.height });
          if (run.length >= EXTEND_BATCH) await flush();
        } catch (err) {
          if (!(err instanceof BlockError)) throw err;
          await flush();
          results.push(err);
          break;
        }
      }
      await flush();
      return results;
    });
  }

  /** Commits blocks that extend the tip one after another (all validated) as one batch, then announces them. */
  private async commitRun(run: RunItem[]): Promise<void> {
    const previous = this.tip;
    const last = run[run.length - 1]!.entry;
    const recordsPut: IndexedRecord[] = [];
    for (const r of run) for (const x of indexedRecords(r.block, r.entry.height, r.ids)) recordsPut.push(x);
    const w: StoreWrite = {
      blocks: run.map((r) => storedBlock(r.entry.hashBytes, r.raw, r.block, r)),
      entries: run.map((r) => toStored(r.entry)),
      mainPut: run.map((r) => ({ height: r.entry.height, hash: r.entry.hashBytes })),
      tip: last.hashBytes,
      recordsPut,
    };
    await this.writeMain(w, () => {
      for (const { entry } of run) {
        this.addEntry(entry);
        this.main.push(entry);
      }
    });
    for (const { entry, block } of run) this.emit("connected", entry, block);
    this.emit("tip", { tip: last, previous });
    // Orphans that were waiting for one of these blocks (rare during a sync, common after a gap).
    for (const { entry } of run) await this.connectOrphans(entry);
  }

  /** Retries blocks that were too far in the future, now that the clock has moved. */
  retryFutureBlocks(): Promise<ProcessResult[]> {
    return this.exclusive(async () => {
      const out: ProcessResult[] = [];
      const limit = this.now() + this.params.maxFutureDrift;
      for (const [hash, block] of [...this.future.entries()]) {
        if (block.header.time > limit) continue;
        this.future.delete(hash);
        try {
          out.push(await this.process(block));
        } catch (err) {
          this.log.debug({ hash, err }, "future block rejected on retry");
        }
      }
      return out;
    });
  }

  /** Waits for the block being processed, then refuses new ones. */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue.catch(() => {});
  }

  /** Queues `fn` behind every call before it: the chain runs one call at a time. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error("chain is closed"));
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  private async process(block: Block, raw?: Uint8Array): Promise<ProcessResult> {
    const hashBytes = headerHashBytes(block.header);
    const hash = hashToHex(hashBytes);

    const known = this.entries.get(hash);
    if (known) {
      if (isInvalid(known)) throw this.knownInvalidError(known);
      return { status: "duplicate", hash };
    }
    const cached = this.invalid.get(hash);
    if (cached) throw new BlockError(cached, hash);
    if (this.orphans.has(hash) || this.future.has(hash)) return { status: "duplicate", hash };

    const prevHex = hashToHex(block.header.prevHash);
    const parent = this.entries.get(prevHex);
    if (parent) {
      const before = this.tip;
      const entry = await this.accept(block, hashBytes, parent, { raw });
      await this.connectOrphans(entry);
      return this.outcome(entry, before);
    }
    // No parent: the checks that need none. The genesis is in every tree, so a block that claims to start
    // a chain is another network's (BAD_GENESIS); any other waits for its parent.
    const at = claimsGenesis(block.header) ? "genesis" : "orphan";
    const facts = this.check(block, hashBytes, at, { size: raw?.length, to: "context" });
    if (this.invalid.has(prevHex)) {
      throw this.rejected(new BlockError({ code: "INVALID_PARENT", parent: prevHex }, hash), hash);
    }
    const dropped = this.orphans.add({
      hash,
      prevHash: hashToHex(block.header.prevHash),
      block,
      size: facts.size,
    });
    if (dropped.length) this.log.debug({ dropped: dropped.length }, "orphan pool full: dropped oldest");
    if (!this.orphans.has(hash))
      return { status: "orphan", hash, missingParent: hashToHex(block.header.prevHash) };
    return { status: "orphan", hash, missingParent: this.orphans.missingRoot(hash)! };
  }

  /**
   * Steps 2 and 4: the stages of checkBlock a block passes before it joins the tree. A refusal is recorded
   * (rejected); a block that is only early is held for a retry, not forgotten.
   */
  private check(
    block: Block,
    hashBytes: Uint8Array,
    at: Position,
    opts: Omit<CheckOptions, "now" | "heldCheckpoint">,
  ): BlockFacts {
    if ((opts.from ?? "sanity") === "sanity") this.stats.sanityChecks++;
    const last = this.lastCheckpoint;
    const heldCheckpoint = last && this.entries.has(last.hash) ? last : undefined;
    try {
      const { size, from, facts, to } = opts;
      return checkBlock(block, hashBytes, this.params, at, {
        now: this.now(),
        size,
        from,
        facts,
        to,
        heldCheckpoint,
      });
    } catch (err) {
      const hash = opts.facts?.hashHex ?? hashToHex(hashBytes);
      if (err instanceof BlockError && err.code === "TIME_TOO_NEW") this.holdFutureBlock(hash, block);
      throw this.rejected(err, hash);
    }
  }

  /** Step 5's check of a block about to join the main chain (its records), or undefined when it passes. */
  private recordsError(
    x: ChainEntry,
    body: Block,
    confirmedIn: ConfirmedIn,
    ids: Uint8Array[],
  ): BlockError | undefined {
    this.stats.recordChecks++;
    const facts = { hash: x.hashBytes, hashHex: x.hash, size: x.size, ids };
    try {
      checkBlock(
        body,
        x.hashBytes,
        this.params,
        { parent: this.view(x.parent!) },
        { now: this.now(), from: "records", facts, confirmedIn },
      );
      return undefined;
    } catch (err) {
      if (!(err instanceof BlockError)) throw err;
      return err;
    }
  }

  /** What checkBlock needs to know about `parent`. */
  private view(parent: ChainEntry): ParentView {
    return {
      hash: parent.hash,
      height: parent.height,
      invalid: isInvalid(parent),
      childContext: () => this.childContext(parent),
    };
  }

  /** Main or side for the block, with the net reorg this call caused. */
  private outcome(entry: ChainEntry, before: ChainEntry): ProcessResult {
    if (!this.isMain(entry)) return { status: "side", hash: entry.hash, height: entry.height };
    const result: ProcessResult = { status: "main", hash: entry.hash, height: entry.height };
    if (!this.isMain(before)) {
      const reorg = this.reorgBetween(before, this.tip);
      return { ...result, reorg };
    }
    return result;
  }

  /** The tree entry of a checked block under `parent` (not yet added). */
  private newEntry(block: Block, facts: BlockFacts, parent: ChainEntry): ChainEntry {
    const miner = block.records[0];
    return {
      hash: facts.hashHex,
      hashBytes: facts.hash,
      header: block.header,
      height: parent.height + 1,
      chainWork: parent.chainWork + blockWork(block.header.bits),
      seq: this.seq++,
      size: facts.size,
      miner: miner?.type === "miner" ? miner.miner : "",
      recordCount: block.records.length,
      status: "accepted",
      parent,
    };
  }

  /**
   * Steps 2 to 5 for a block whose parent is known: the checks up to the records (from the context on when
   * `facts` says sanity passed already: an orphan whose parent arrived), then store it as a side block or
   * make it (part of) the main chain.
   */
  private async accept(
    block: Block,
    hashBytes: Uint8Array,
    parent: ChainEntry,
    opts: { raw?: Uint8Array | undefined; facts?: BlockFacts },
  ): Promise<ChainEntry> {
    const { raw } = opts;
    const at = { parent: this.view(parent) };
    const facts = opts.facts
      ? this.check(block, hashBytes, at, { from: "context", facts: opts.facts, to: "context" })
      : this.check(block, hashBytes, at, { size: raw?.length, to: "context" });
    const entry = this.newEntry(block, facts, parent);
    const bytes = raw ?? encodeBlock(block);
    if (entry.chainWork <= this.tip.chainWork) {
      // Equal work keeps the block seen first: only strictly more work moves the tip.
      await this.store.write({
        blocks: [storedBlock(facts.hash, bytes, block, facts)],
        entries: [toStored(entry)],
      });
      this.addEntry(entry);
      this.emit("side", entry);
      return entry;
    }
    await this.activate(entry, block, bytes, { ids: facts.ids, upper: facts.upper });
    return entry;
  }

  /**
   * Makes `candidate` (more work than the tip) the tip: finds the fork point, validates every block of the
   * new branch that was never connected, and only then writes the switch as one batch. If a block of the
   * branch is invalid, it and its descendants are marked invalid and the tip moves only as far as the
   * valid prefix allows (normally not at all). `failure`: the candidate's records were already checked and
   * failed (processBlocks), so they are not checked twice; `ids`, `upper`: the candidate's record ids and
   * merkle upper levels, when known.
   */
  private async activate(
    candidate: ChainEntry,
    block: Block,
    raw: Uint8Array,
    opts: { failure?: BlockError; ids?: Uint8Array[] | undefined; upper?: Uint8Array | undefined } = {},
  ): Promise<void> {
    const oldTip = this.tip;
    const { fork, branch } = this.branchOf(candidate);

    // Load the bodies of the branch (all but the candidate are on disk) for validation and events.
    const stored = branch.slice(0, -1);
    const raws = stored.length ? await this.store.getBlocks(stored.map((x) => x.hashBytes)) : [];
    const bodies = new Map<ChainEntry, Block>([[candidate, block]]);
    stored.forEach((x, i) => {
      const r = raws[i];
      if (!r) throw new StoreError("CORRUPT", `side block ${x.hash} is missing from the store`);
      bodies.set(x, decodeBlock(r));
    });
    const ids = new Map<ChainEntry, Uint8Array[]>();
    for (const x of branch) ids.set(x, (x === candidate && opts.ids) || recordIds(bodies.get(x)!));

    // The exactly-once rule sees the index as of the fork, plus the blocks of the branch before each one.
    const unchecked = branch.filter((x) => x.status !== "valid" && !(x === candidate && opts.failure));
    const asked = unchecked.flatMap((x) => ids.get(x)!.slice(1));
    const overlay = new Map<string, string>();
    const confirmedIn = await this.confirmedView(asked, fork, overlay);
    let failed: { entry: ChainEntry; error: BlockError } | undefined;
    for (const x of branch) {
      if (x.status !== "valid") {
        const error =
          x === candidate && opts.failure
            ? opts.failure
            : this.recordsError(x, bodies.get(x)!, confirmedIn, ids.get(x)!);
        if (error) {
          failed = { entry: x, error };
          break;
        }
      }
      for (const id of ids.get(x)!) overlay.set(toHex(id), x.hash);
    }

    let target = candidate;
    const changed: ChainEntry[] = [];
    const statusOf = new Map<ChainEntry, Pick<ChainEntry, "status" | "invalid">>();
    if (failed) {
      statusOf.set(failed.entry, { status: "invalid", invalid: failed.error.data });
      for (const d of this.descendants(failed.entry, candidate)) statusOf.set(d, { status: "invalid-child" });
      const prefix = failed.entry.parent!;
      target = prefix.chainWork > oldTip.chainWork ? prefix : oldTip;
    }
    const connect = target === oldTip ? [] : branch.slice(0, branch.indexOf(target) + 1);
    for (const x of connect) if (x.status !== "valid") statusOf.set(x, { status: "valid" });
    const disconnect = connect.length ? this.main.slice(fork.height + 1).reverse() : [];

    // The candidate always has a status here: connected (valid), the failed block, or its descendant.
    for (const [x, s] of statusOf) changed.push({ ...x, ...s });
    const mainDel: number[] = [];
    if (connect.length) for (let h = target.height + 1; h <= oldTip.height; h++) mainDel.push(h);

    // The record index follows the main chain: the disconnected blocks' records out, the connected ones' in.
    const recordsDel: IndexedRecord[] = [];
    if (disconnect.length) {
      const gone = await this.store.getBlocks(disconnect.map((x) => x.hashBytes));
      gone.forEach((r, i) => {
        const x = disconnect[i]!;
        if (!r) throw new StoreError("CORRUPT", `main-chain block ${x.hash} is missing from the store`);
        const body = decodeBlock(r);
        bodies.set(x, body);
        for (const rec of indexedRecords(body, x.height)) recordsDel.push(rec);
      });
    }
    const recordsPut: IndexedRecord[] = [];
    for (const x of connect)
      for (const rec of indexedRecords(bodies.get(x)!, x.height, ids.get(x))) recordsPut.push(rec);

    const w: StoreWrite = {
      blocks: [storedBlock(candidate.hashBytes, raw, block, { ids: ids.get(candidate), upper: opts.upper })],
      entries: changed.map(toStored),
      mainDel,
      mainPut: connect.map((x) => ({ height: x.height, hash: x.hashBytes })),
      ...(connect.length ? { tip: target.hashBytes } : {}),
      recordsDel,
      recordsPut,
    };
    // Committed: now update memory, then tell the layers above.
    await this.writeMain(w, () => {
      this.addEntry(candidate);
      for (const [x, s] of statusOf) {
        x.status = s.status;
        x.invalid = s.invalid;
      }
      if (connect.length) {
        this.main.length = fork.height + 1;
        for (const x of connect) this.main.push(x);
      }
    });

    if (connect.length) {
      for (const d of disconnect) this.emit("disconnected", d, bodies.get(d)!);
      for (const x of connect) this.emit("connected", x, bodies.get(x)!);
      const reorg: Reorg | undefined = disconnect.length
        ? { fork, disconnected: disconnect.slice().reverse(), connected: connect, depth: disconnect.length }
        : undefined;
      if (reorg) this.stats.reorgs++;
      if (reorg) this.log.info({ depth: reorg.depth, fork: fork.height, tip: target.hash }, "reorg");
      this.emit("tip", { tip: target, previous: oldTip, ...(reorg ? { reorg } : {}) });
    } else if (!isInvalid(candidate)) {
      this.emit("side", candidate);
    }

    if (failed) {
      const err =
        failed.entry === candidate
          ? failed.error
          : new BlockError({ code: "INVALID_PARENT", parent: failed.entry.hash }, candidate.hash);
      this.emit("invalid", {
        hash: failed.entry.hash,
        code: failed.error.code,
        penalty: failed.error.penalty,
      });
      throw err;
    }
  }

  /** Entries of the tree that descend from `root` (plus `extra`, not yet in the tree). */
  private descendants(root: ChainEntry, extra: ChainEntry): ChainEntry[] {
    const out: ChainEntry[] = [];
    const all = [...this.entries.values(), extra];
    for (const e of all) {
      if (e.height <= root.height) continue;
      let p: ChainEntry | undefined = e;
      while (p && p.height > root.height) p = p.parent;
      if (p === root) out.push(e);
    }
    return out;
  }

  /** Step 6: orphans whose parent just arrived, breadth first; a bad orphan does not stop the others. */
  private async connectOrphans(parent: ChainEntry): Promise<void> {
    const queue = [parent];
    while (queue.length) {
      const p = queue.shift()!;
      for (const o of this.orphans.takeChildren(p.hash)) {
        try {
          // Sanity checks passed when the orphan arrived; they depend on nothing that has changed since.
          const facts = { hash: hexToHash(o.hash), hashHex: o.hash, size: o.size };
          queue.push(await this.accept(o.block, facts.hash, p, { facts }));
        } catch (err) {
          this.log.debug({ hash: o.hash, err }, "orphan rejected");
        }
      }
    }
  }

  /** Records a rejection: caches the hash when the rule says the hash itself is bad, emits `invalid`. */
  private rejected(err: unknown, hash: string): unknown {
    if (!(err instanceof BlockError)) return err;
    if (err.cacheable) this.invalid.set(hash, err.data);
    this.emit("invalid", { hash, code: err.code, penalty: err.penalty });
    return err;
  }

  private knownInvalidError(e: ChainEntry): BlockError {
    if (e.status === "invalid" && e.invalid) return new BlockError(e.invalid, e.hash);
    let p = e.parent;
    while (p && p.status !== "invalid") p = p.parent;
    return new BlockError({ code: "INVALID_PARENT", parent: p?.hash ?? e.parent?.hash ?? "" }, e.hash);
  }

  private holdFutureBlock(hash: string, block: Block): void {
    this.future.set(hash, block);
  }

  // ---------------------------------------------------------------- consensus context

  /** The ancestor of `e` at `height` (walks the branch down to the main chain, then indexes it). */
  private ancestor(e: ChainEntry, height: number): ChainEntry {
    let x = e;
    while (x.height > height) {
      if (this.main[x.height] === x) return this.main[height]!;
      x = x.parent!;
    }
    return x;
  }

  /** Median time past of the block after `e`: of `e` and the 10 blocks before it. */
  private medianTimePast(e: ChainEntry): number {
    const times: number[] = [];
    let x: ChainEntry | undefined = e;
    for (let i = 0; i < MEDIAN_TIME_SPAN && x; i++, x = x.parent) times.push(x.header.time);
    return medianTimePast(times);
  }

  /** Bits required of the block after `parent` (requiredBits, with the branch's anchor cached). */
  private nextBits(parent: ChainEntry): number {
    return requiredBits(this.params, parent.height, parent.header.time, () => {
      const one = this.ancestor(parent, 1);
      let anchor = this.anchors.get(one.hash);
      if (!anchor) {
        anchor = anchorFromBlockOne(
          this.params.genesis.header.bits,
          one.header.time,
          this.params.targetSpacing,
        );
        this.anchors.set(one.hash, anchor);
      }
      return anchor;
    });
  }

  /** What a child of `parent` must respect: the bits and the median time past. */
  private childContext(parent: ChainEntry): Omit<BlockContext, "height"> {
    return { expectedBits: this.nextBits(parent), medianTimePast: this.medianTimePast(parent) };
  }

  /** The walk down to the main chain: the fork point and the entries above it up to `e`, oldest first. */
  private branchOf(e: ChainEntry): { fork: ChainEntry; branch: ChainEntry[] } {
    const branch: ChainEntry[] = [];
    let x = e;
    while (!this.isMain(x)) {
      branch.push(x);
      x = x.parent!;
    }
    return { fork: x, branch: branch.reverse() };
  }

  private reorgBetween(oldTip: ChainEntry, newTip: ChainEntry): Reorg {
    const { fork, branch: disconnected } = this.branchOf(oldTip);
    return {
      fork,
      disconnected,
      connected: this.main.slice(fork.height + 1, newTip.height + 1),
      depth: disconnected.length,
    };
  }

  // ---------------------------------------------------------------- startup

  private async load(checkBlocks: number): Promise<void> {
    const tree = await readTree(this.store, this.params);
    if (!tree) {
      const { entry, raw } = genesisEntry(this.params, this.seq++);
      await this.store.write({
        blocks: [storedBlock(entry.hashBytes, raw, this.params.genesis)],
        entries: [toStored(entry)],
        mainPut: [{ height: 0, hash: entry.hashBytes }],
        tip: entry.hashBytes,
        recordsPut: indexedRecords(this.params.genesis, 0),
      });
      this.addEntry(entry);
      this.main = [entry];
      return;
    }
    this.entries = tree.entries;
    for (const e of tree.entries.values()) this.addToHeight(e);
    for (const level of this.byHeight) if (Array.isArray(level)) level.sort((a, b) => a.seq - b.seq); // arrival order
    this.seq = tree.nextSeq;
    this.main = tree.main;
    await recheck(this.store, this.params, this.main, checkBlocks, (e) =>
      e.parent ? { parent: this.view(e.parent) } : "genesis",
    );
    const tip = this.tip;
    this.log.info({ height: tip.height, tip: tip.hash, entries: this.entries.size }, "chain loaded");
  }
}
