import { EventEmitter } from "node:events";
import { type Block, decodeBlock, encodeBlock } from "../consensus/block.ts";
import { bytesEqual } from "../consensus/bytes.ts";
import { blockWork } from "../consensus/compact.ts";
import { type AsertAnchor, anchorFromBlockOne, asertBits } from "../consensus/difficulty.ts";
import { BlockError, type BlockErrorData } from "../consensus/errors.ts";
import { hashToHex, headerHashBytes, hexToHash } from "../consensus/header.ts";
import type { NetworkParams } from "../consensus/params.ts";
import { MEDIAN_TIME_SPAN } from "../consensus/time.ts";
import {
  type BlockFacts,
  checkBlockContext,
  checkBlockRecords,
  checkBlockSanity,
} from "../consensus/validate.ts";
import { type Logger, silentLogger } from "../util/logger.ts";
import { DEFAULT_ORPHAN_LIMITS, type OrphanLimits, OrphanPool } from "./orphans.ts";
import { type ChainStore, type StoredEntry, StoreError } from "./store.ts";
import type { ChainEntry, ChainEvents, NextBlockContext, ProcessResult, Reorg } from "./types.ts";

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

const ZERO_HASH = new Uint8Array(32);
/** Most blocks processBlocks commits in one batch. */
const EXTEND_BATCH = 500;

const isInvalid = (e: ChainEntry): boolean => e.status === "invalid" || e.status === "invalid-child";

/**
 * The block tree and the main chain. Every block, mined here or received, enters through processBlock,
 * which runs (after btcd's ProcessBlock):
 *   1. duplicate / known-invalid lookup (tree, invalid cache, orphan and future pools);
 *   2. context-free sanity checks (proof of work first, then time, size, records, merkle);
 *   3. parent lookup: unknown parent → orphan pool; invalid parent → INVALID_PARENT;
 *   4. contextual checks against the parent (bits, median time past, height, checkpoints), then the block
 *      joins the tree with its cumulative work;
 *   5. fork choice: more work than the tip → the whole new branch is validated (record signatures) before
 *      anything changes, then the switch is one atomic store batch; otherwise it is stored as a side block;
 *   6. orphans waiting on the block are processed in turn.
 * Calls are serialized: one block at a time, so every read of the in-memory tree sees a committed state.
 */
export class Chain extends EventEmitter<ChainEvents> {
  readonly params: NetworkParams;
  private readonly store: ChainStore;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly entries = new Map<string, ChainEntry>();
  /**
   * Every entry by height (main and side), so tree views and children cost O(entries shown). A height
   * with one entry holds it directly: an array per height cost 18 MB at 100,000 blocks.
   */
  private readonly byHeight: Array<ChainEntry | ChainEntry[]> = [];
  /** Main chain by height. */
  private main: ChainEntry[] = [];
  private readonly orphans: OrphanPool;
  /** Hash → why it is invalid, for blocks never stored (bounded, oldest dropped first). */
  private readonly invalid = new Map<string, BlockErrorData>();
  private readonly invalidCacheSize: number;
  private readonly future = new Map<string, Block>();
  private readonly maxFutureBlocks: number;
  private readonly anchors = new Map<string, AsertAnchor>();
  private readonly lastCheckpoint: { height: number; hash: string } | undefined;
  private seq = 0;
  /** Work counters, for monitoring and for tests that a cached rejection costs no second validation. */
  readonly stats = { sanityChecks: 0, recordChecks: 0, reorgs: 0 };
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(opts: ChainOptions) {
    super();
    this.params = opts.params;
    this.store = opts.store;
    this.now = opts.now ?? (() => Math.floor(Date.now() / 1000));
    this.log = opts.logger ?? silentLogger;
    this.orphans = new OrphanPool({ ...DEFAULT_ORPHAN_LIMITS, ...opts.orphanLimits });
    this.invalidCacheSize = opts.invalidCacheSize ?? 10_000;
    this.maxFutureBlocks = opts.maxFutureBlocks ?? 64;
    let last: { height: number; hash: string } | undefined;
    for (const [height, hash] of this.params.checkpoints)
      if (!last || height > last.height) last = { height, hash };
    this.lastCheckpoint = last;
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
    return this.serialize(() => this.process(block, raw));
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
    return this.serialize(async () => {
      const results: Array<ProcessResult | BlockError> = [];
      let run: Array<{ entry: ChainEntry; block: Block; raw: Uint8Array }> = [];
      const flush = async (): Promise<void> => {
        if (run.length) await this.commitRun(run);
        run = [];
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
          const facts = this.sanity(block, hashBytes, hash, raw?.length);
          const entry = this.contextualEntry(block, facts, base);
          try {
            this.stats.recordChecks++;
            checkBlockRecords(block, hash);
          } catch (err) {
            throw this.rejected(err, hash);
          }
          entry.status = "valid";
          run.push({ entry, block, raw: raw ?? encodeBlock(block) });
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
  private async commitRun(run: Array<{ entry: ChainEntry; block: Block; raw: Uint8Array }>): Promise<void> {
    const previous = this.tip;
    const last = run[run.length - 1]!.entry;
    await this.store.write({
      blocks: run.map((r) => ({ hash: r.entry.hashBytes, raw: r.raw })),
      entries: run.map((r) => toStored(r.entry)),
      mainPut: run.map((r) => ({ height: r.entry.height, hash: r.entry.hashBytes })),
      tip: last.hashBytes,
    });
    for (const { entry } of run) {
      this.addEntry(entry);
      this.main.push(entry);
    }
    for (const { entry, block } of run) this.emit("connected", entry, block);
    this.emit("tip", { tip: last, previous });
    // Orphans that were waiting for one of these blocks (rare during a sync, common after a gap).
    for (const { entry } of run) await this.connectOrphans(entry);
  }

  /** Retries blocks that were too far in the future, now that the clock has moved. */
  retryFutureBlocks(): Promise<ProcessResult[]> {
    return this.serialize(async () => {
      const out: ProcessResult[] = [];
      const limit = this.now() + this.params.maxFutureDrift;
      for (const [hash, block] of [...this.future]) {
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

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
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

    const facts = this.sanity(block, hashBytes, hash, raw?.length);

    const prevHex = hashToHex(block.header.prevHash);
    const parent = this.entries.get(prevHex);
    if (!parent) {
      if (this.invalid.has(prevHex)) {
        throw this.rejected(new BlockError({ code: "INVALID_PARENT", parent: prevHex }, hash), hash);
      }
      if (Buffer.compare(block.header.prevHash, ZERO_HASH) === 0) {
        throw this.rejected(new BlockError({ code: "BAD_GENESIS", hash }, hash), hash);
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

    const before = this.tip;
    const entry = await this.accept(block, facts, parent, raw);
    await this.connectOrphans(entry);
    return this.outcome(entry, before);
  }

  /** Step 2, context-free checks; a block that is only early is held for a retry, not forgotten. */
  private sanity(block: Block, hashBytes: Uint8Array, hash: string, size?: number): BlockFacts {
    this.stats.sanityChecks++;
    try {
      return checkBlockSanity(block, hashBytes, this.params, this.now(), size);
    } catch (err) {
      if (err instanceof BlockError && err.code === "TIME_TOO_NEW") this.holdFutureBlock(hash, block);
      throw this.rejected(err, hash);
    }
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

  /** Step 4: contextual checks against the parent; returns the block's tree entry (not yet added). */
  private contextualEntry(block: Block, facts: BlockFacts, parent: ChainEntry): ChainEntry {
    const hash = facts.hashHex;
    if (isInvalid(parent)) {
      throw this.rejected(new BlockError({ code: "INVALID_PARENT", parent: parent.hash }, hash), hash);
    }
    const height = parent.height + 1;
    try {
      if (
        this.lastCheckpoint &&
        height < this.lastCheckpoint.height &&
        this.entries.has(this.lastCheckpoint.hash)
      ) {
        throw new BlockError(
          { code: "FORK_BEFORE_CHECKPOINT", height, checkpointHeight: this.lastCheckpoint.height },
          hash,
        );
      }
      const ctx = {
        height,
        expectedBits: this.nextBits(parent),
        medianTimePast: this.medianTimePast(parent),
      };
      checkBlockContext(block, facts, ctx, this.params);
    } catch (err) {
      throw this.rejected(err, hash);
    }
    const miner = block.records[0];
    return {
      hash,
      hashBytes: facts.hash,
      header: block.header,
      height,
      chainWork: parent.chainWork + blockWork(block.header.bits),
      seq: this.seq++,
      size: facts.size,
      miner: miner?.type === "miner" ? miner.miner : "",
      recordCount: block.records.length,
      status: "accepted",
      parent,
    };
  }

  /** Steps 4 and 5: contextual checks, then store as side block or make it (part of) the main chain. */
  private async accept(
    block: Block,
    facts: BlockFacts,
    parent: ChainEntry,
    raw?: Uint8Array,
  ): Promise<ChainEntry> {
    const entry = this.contextualEntry(block, facts, parent);
    const hashBytes = facts.hash;
    const bytes = raw ?? encodeBlock(block);
    if (entry.chainWork <= this.tip.chainWork) {
      // Equal work keeps the block seen first: only strictly more work moves the tip.
      await this.store.write({ blocks: [{ hash: hashBytes, raw: bytes }], entries: [toStored(entry)] });
      this.addEntry(entry);
      this.emit("side", entry);
      return entry;
    }
    await this.activate(entry, block, bytes);
    return entry;
  }

  /**
   * Makes `candidate` (more work than the tip) the tip: finds the fork point, validates every block of the
   * new branch that was never connected, and only then writes the switch as one batch. If a block of the
   * branch is invalid, it and its descendants are marked invalid and the tip moves only as far as the
   * valid prefix allows (normally not at all).
   */
  private async activate(candidate: ChainEntry, block: Block, raw: Uint8Array): Promise<void> {
    const oldTip = this.tip;
    const branch: ChainEntry[] = [];
    let e = candidate;
    while (!this.isMain(e)) {
      branch.push(e);
      e = e.parent!;
    }
    const fork = e;
    branch.reverse();

    // Load the bodies of the branch (all but the candidate are on disk) for validation and events.
    const stored = branch.slice(0, -1);
    const raws = stored.length ? await this.store.getBlocks(stored.map((x) => x.hashBytes)) : [];
    const bodies = new Map<ChainEntry, Block>([[candidate, block]]);
    stored.forEach((x, i) => {
      const r = raws[i];
      if (!r) throw new StoreError("CORRUPT", `side block ${x.hash} is missing from the store`);
      bodies.set(x, decodeBlock(r));
    });

    let failed: { entry: ChainEntry; error: BlockError } | undefined;
    for (const x of branch) {
      if (x.status === "valid") continue;
      try {
        this.stats.recordChecks++;
        checkBlockRecords(bodies.get(x)!, x.hash);
      } catch (err) {
        if (!(err instanceof BlockError)) throw err;
        failed = { entry: x, error: err };
        break;
      }
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

    await this.store.write({
      blocks: [{ hash: candidate.hashBytes, raw }],
      entries: changed.map(toStored),
      mainDel,
      mainPut: connect.map((x) => ({ height: x.height, hash: x.hashBytes })),
      ...(connect.length ? { tip: target.hashBytes } : {}),
    });

    // Committed: now update memory, then tell the layers above.
    this.addEntry(candidate);
    for (const [x, s] of statusOf) {
      x.status = s.status;
      x.invalid = s.invalid;
    }
    if (connect.length) {
      this.main.length = fork.height + 1;
      for (const x of connect) this.main.push(x);
      for (const d of disconnect) this.emit("disconnected", d);
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
          queue.push(await this.accept(o.block, facts, p));
        } catch (err) {
          this.log.debug({ hash: o.hash, err }, "orphan rejected");
        }
      }
    }
  }

  /** Records a rejection: caches the hash when the rule says the hash itself is bad, emits `invalid`. */
  private rejected(err: unknown, hash: string): unknown {
    if (!(err instanceof BlockError)) return err;
    if (err.cacheable) {
      this.invalid.set(hash, err.data);
      if (this.invalid.size > this.invalidCacheSize) this.invalid.delete(this.invalid.keys().next().value!);
    }
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
    if (this.future.size > this.maxFutureBlocks) this.future.delete(this.future.keys().next().value!);
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

  private medianTimePast(e: ChainEntry): number {
    const times: number[] = [];
    let x: ChainEntry | undefined = e;
    for (let i = 0; i < MEDIAN_TIME_SPAN && x; i++, x = x.parent) times.push(x.header.time);
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)]!;
  }

  /** Bits required of the block after `parent`. */
  private nextBits(parent: ChainEntry): number {
    const p = this.params;
    const genesisBits = p.genesis.header.bits;
    if (p.noRetargeting || parent.height === 0) return genesisBits;
    const one = this.ancestor(parent, 1);
    let anchor = this.anchors.get(one.hash);
    if (!anchor) {
      anchor = anchorFromBlockOne(genesisBits, one.header.time, p.targetSpacing);
      this.anchors.set(one.hash, anchor);
    }
    return asertBits(anchor, parent.height, parent.header.time, p.targetSpacing, p.asertHalfLife, p.powLimit);
  }

  private reorgBetween(oldTip: ChainEntry, newTip: ChainEntry): Reorg {
    const disconnected: ChainEntry[] = [];
    let x = oldTip;
    while (!this.isMain(x)) {
      disconnected.push(x);
      x = x.parent!;
    }
    const fork = x;
    return {
      fork,
      disconnected: disconnected.reverse(),
      connected: this.main.slice(fork.height + 1, newTip.height + 1),
      depth: disconnected.length,
    };
  }

  // ---------------------------------------------------------------- startup

  private async load(checkBlocks: number): Promise<void> {
    const stored = await this.store.loadEntries();
    const genesisHash = this.params.genesisHash;
    if (stored.length === 0) {
      await this.initGenesis();
      return;
    }
    for (const s of stored) {
      const hash = hashToHex(s.hash);
      // As Bitcoin Core does when it loads its block index: an entry whose header does not hash to its
      // key is damage, and must not be trusted for fork choice or difficulty (about 1 µs an entry).
      if (!bytesEqual(headerHashBytes(s.header), s.hash)) {
        throw new StoreError("CORRUPT", `block-tree entry ${hash}: stored header hashes to something else`);
      }
      // The fields in accept()'s order, not a spread: every entry of the tree then shares one object shape
      // (measured at 100,000 blocks: startup about a fifth to a third faster, RSS 64 MB smaller).
      const e: ChainEntry = {
        hash,
        hashBytes: s.hash,
        header: s.header,
        height: s.height,
        chainWork: s.chainWork,
        seq: s.seq,
        size: s.size,
        miner: s.miner,
        recordCount: s.recordCount,
        status: s.status,
        parent: undefined,
      };
      if (s.invalid) e.invalid = s.invalid;
      this.addEntry(e);
      if (s.seq >= this.seq) this.seq = s.seq + 1;
    }
    for (const level of this.byHeight) if (Array.isArray(level)) level.sort((a, b) => a.seq - b.seq); // arrival order
    for (const e of this.entries.values()) {
      if (e.height === 0) {
        if (e.hash !== genesisHash)
          throw new StoreError("CORRUPT", `stored genesis ${e.hash} is not ${genesisHash}`);
        continue;
      }
      const parent = this.entries.get(hashToHex(e.header.prevHash));
      if (!parent || parent.height !== e.height - 1) {
        throw new StoreError(
          "CORRUPT",
          `block ${e.hash} at height ${e.height} has no parent in the block index`,
        );
      }
      e.parent = parent;
    }
    const tipHash = await this.store.getTip();
    if (!tipHash) throw new StoreError("CORRUPT", "the chain tip record is missing");
    const tip = this.entries.get(hashToHex(tipHash));
    if (!tip) throw new StoreError("CORRUPT", `the tip ${hashToHex(tipHash)} is not in the block index`);
    if (tip.status !== "valid")
      throw new StoreError("CORRUPT", `the tip ${tip.hash} is not a validated block`);
    const main: ChainEntry[] = new Array(tip.height + 1);
    for (let x: ChainEntry | undefined = tip; x; x = x.parent) main[x.height] = x;
    if (main[0]?.hash !== genesisHash)
      throw new StoreError("CORRUPT", "the main chain does not reach genesis");
    this.main = main;
    await this.recheck(checkBlocks);
    this.log.info({ height: tip.height, tip: tip.hash, entries: this.entries.size }, "chain loaded");
  }

  /** Re-checks the last `n` main-chain blocks: height index, body present, hash, merkle root, all rules. */
  private async recheck(n: number): Promise<void> {
    const from = Math.max(0, this.main.length - n);
    const entries = this.main.slice(from);
    const raws = await this.store.getBlocks(entries.map((e) => e.hashBytes));
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      const indexed = await this.store.getMainHash(e.height);
      if (!indexed || hashToHex(indexed) !== e.hash) {
        throw new StoreError(
          "CORRUPT",
          `height index at ${e.height} does not point to main-chain block ${e.hash}`,
        );
      }
      const raw = raws[i];
      if (!raw) throw new StoreError("CORRUPT", `main-chain block ${e.hash} (height ${e.height}) is missing`);
      let block: Block;
      try {
        block = decodeBlock(raw);
      } catch (err) {
        throw new StoreError(
          "CORRUPT",
          `main-chain block ${e.hash} (height ${e.height}) does not decode`,
          undefined,
          {
            cause: err,
          },
        );
      }
      const hash = headerHashBytes(block.header);
      try {
        if (hashToHex(hash) !== e.hash) throw new Error("stored body has another header");
        const facts = checkBlockSanity(block, hash, this.params, Number.MAX_SAFE_INTEGER, raw.length);
        if (e.parent) {
          const ctx = {
            height: e.height,
            expectedBits: this.nextBits(e.parent),
            medianTimePast: this.medianTimePast(e.parent),
          };
          checkBlockContext(block, facts, ctx, this.params);
        }
        checkBlockRecords(block, e.hash);
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        throw new StoreError(
          "CORRUPT",
          `main-chain block ${e.hash} (height ${e.height}) fails re-check: ${why}`,
        );
      }
    }
  }

  private async initGenesis(): Promise<void> {
    const g = this.params.genesis;
    const hashBytes = hexToHash(this.params.genesisHash);
    const raw = encodeBlock(g);
    const miner = g.records[0];
    const entry: ChainEntry = {
      hash: this.params.genesisHash,
      hashBytes,
      header: g.header,
      height: 0,
      chainWork: blockWork(g.header.bits),
      seq: this.seq++,
      size: raw.length,
      miner: miner?.type === "miner" ? miner.miner : "",
      recordCount: g.records.length,
      status: "valid",
      parent: undefined,
    };
    await this.store.write({
      blocks: [{ hash: hashBytes, raw }],
      entries: [toStored(entry)],
      mainPut: [{ height: 0, hash: hashBytes }],
      tip: hashBytes,
    });
    this.addEntry(entry);
    this.main = [entry];
  }
}

function toStored(e: ChainEntry): StoredEntry {
  return {
    hash: e.hashBytes,
    header: e.header,
    height: e.height,
    chainWork: e.chainWork,
    status: e.status,
    seq: e.seq,
    size: e.size,
    miner: e.miner,
    recordCount: e.recordCount,
    invalid: e.invalid,
  };
}
