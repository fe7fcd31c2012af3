import { type Block, encodeBlock, recordIds } from "../consensus/block.ts";
import { bytesEqual, toHex } from "../consensus/bytes.ts";
import { BlockError, type BlockErrorData } from "../consensus/errors.ts";
import { claimsGenesis } from "../consensus/genesis.ts";
import { hashToHex, headerHashBytes, hexToHash } from "../consensus/header.ts";
import type { NetworkParams } from "../consensus/params.ts";
import type { BlockFacts } from "../consensus/validate.ts";
import { BoundedMap } from "../util/bounded.ts";
import { type Logger, silentLogger } from "../util/logger.ts";
import { Acceptor, type Change } from "./accept.ts";
import { type CheckOptions, checkBlock, type Position } from "./connect.ts";
import { ChainError } from "./errors.ts";
import type { BlockSink } from "./interfaces.ts";
import { readTree, recheck, writeGenesis } from "./load.ts";
import { DEFAULT_ORPHAN_LIMITS, type OrphanLimits, OrphanPool } from "./orphans.ts";
import { ChainReads } from "./reads.ts";
import type { ChainStore } from "./store.ts";
import { type RunItem, reorgOf } from "./switch.ts";
import { isInvalid, knownInvalidError } from "./tree.ts";
import type { ChainEntry, ChainEvents, ProcessResult } from "./types.ts";

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

/**
 * The one entry point of the chain. Every block, mined here or received, enters through processBlock,
 * which runs (after btcd's ProcessBlock):
 *   1. duplicate / known-invalid lookup (tree, invalid cache, orphan and future pools);
 *   2. context-free sanity checks (proof of work first, then size, records, merkle, time);
 *   3. parent lookup: unknown parent → orphan pool (or BAD_GENESIS for a block claiming to start a chain);
 *   4. the position checks against the parent (invalid parent, checkpoints, bits, median time past, height);
 *   5. accept (accept.ts): more work than the tip → the whole new branch is validated (record signatures)
 *      before anything changes, then the switch (planned by switch.ts) is one atomic store batch; otherwise
 *      the block is stored as a side block;
 *   6. orphans waiting on the block are processed in turn.
 * Steps 2, 4 and the records of step 5 are the stages of the one checkBlock (connect.ts), which the batched
 * path, the startup re-check and verifyChain run too. A rejection is recorded one way on every path: a
 * block refused before it joins the tree is remembered by hash in the bounded `invalid` cache (when the rule
 * says the hash itself is bad); a block whose records fail is stored with status "invalid", its descendants
 * "invalid-child", so the node still knows after a restart.
 * Here live the queue, the processing, the pools, the events and loading; the reads are the ChainReads it
 * extends (reads.ts), over a BlockTree (tree.ts) and a RecordView (records.ts). Calls run one at a time
 * (`exclusive`), so every read of the in-memory tree sees a committed state; a private step that changes
 * or relies on that state says "Runs inside the queue".
 */
export class Chain extends ChainReads implements BlockSink {
  private readonly log: Logger;
  private readonly acceptor: Acceptor;
  /** Hash → why it is invalid, for blocks never stored (bounded, oldest dropped first). */
  private readonly invalid: BoundedMap<string, BlockErrorData>;
  /** Blocks from the future held for a retry (bounded, oldest dropped first). */
  private readonly future: BoundedMap<string, Block>;
  /** Work counters, for monitoring and for tests that a cached rejection costs no second validation. */
  readonly stats = { sanityChecks: 0, recordChecks: 0, reorgs: 0 };
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(opts: ChainOptions) {
    const orphans = new OrphanPool({ ...DEFAULT_ORPHAN_LIMITS, ...opts.orphanLimits });
    super(opts.params, opts.store, orphans, opts.now ?? (() => Math.floor(Date.now() / 1000)));
    this.log = opts.logger ?? silentLogger;
    const { params, store, tree, records, now, stats } = this;
    this.acceptor = new Acceptor({ params, store, tree, records, now, stats });
    this.invalid = new BoundedMap(opts.invalidCacheSize ?? 10_000);
    this.future = new BoundedMap(opts.maxFutureBlocks ?? 64);
  }

  /** Opens the chain on a store: loads the block tree (headers only), checks it, re-checks the last ones. */
  static async open(opts: ChainOptions): Promise<Chain> {
    const chain = new Chain(opts);
    await chain.load(opts.checkBlocks ?? 6);
    return chain;
  }

  // ---------------------------------------------------------------- entries (BlockSink) and the queue

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
        const base = run.length ? run[run.length - 1]!.entry : this.tree.tip;
        const hashBytes = headerHashBytes(block.header);
        try {
          if (!this.extends(block, hashToHex(hashBytes), base)) {
            await flush();
            results.push(await this.process(block, raw));
            continue;
          }
          const item = this.extension(block, hashBytes, raw, base);
          const failure = await this.acceptor.extensionFailure(item, runIds);
          if (failure) {
            // Recorded as processBlock records it: stored as invalid (activate), so a restart remembers it.
            await flush();
            const change = await this.acceptor.activate(item.entry, block, item.raw, {
              failure,
              ids: item.ids,
              upper: item.upper,
            });
            this.announce(change);
            results.push(change.refused);
            break;
          }
          item.entry.status = "valid";
          for (const id of item.ids) runIds.set(toHex(id), item.entry.hash);
          run.push(item);
          results.push({ status: "main", hash: item.entry.hash, height: item.entry.height });
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

  /** Waits for the block being processed, then refuses new calls (ChainError CLOSED). */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue.catch(() => {});
  }

  /** Queues `fn` behind every call before it: the chain runs one call at a time. */
  protected exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new ChainError("CLOSED", "chain is closed"));
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  // ---------------------------------------------------------------- processing (btcd's process.go)

  /** Steps 1 to 6 for one block. Runs inside the queue. */
  private async process(block: Block, raw?: Uint8Array): Promise<ProcessResult> {
    const hashBytes = headerHashBytes(block.header);
    const hash = hashToHex(hashBytes);

    const known = this.tree.get(hash);
    if (known) {
      if (isInvalid(known)) throw knownInvalidError(known);
      return { status: "duplicate", hash };
    }
    const cached = this.invalid.get(hash);
    if (cached) throw new BlockError(cached, hash);
    if (this.orphans.has(hash) || this.future.has(hash)) return { status: "duplicate", hash };

    const prevHex = hashToHex(block.header.prevHash);
    const parent = this.tree.get(prevHex);
    if (parent) {
      const before = this.tree.tip;
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
    const dropped = this.orphans.add({ hash, prevHash: prevHex, block, size: facts.size });
    if (dropped.length) this.log.debug({ dropped: dropped.length }, "orphan pool full: dropped oldest");
    if (!this.orphans.has(hash)) return { status: "orphan", hash, missingParent: prevHex };
    return { status: "orphan", hash, missingParent: this.orphans.missingRoot(hash)! };
  }

  /**
   * Steps 4 and 5 for a block whose parent is known: the checks up to the context (from the context on when
   * `facts` says sanity passed already: an orphan whose parent arrived), then accept.ts stores it as a side
   * block or makes it (part of) the main chain; throws the BlockError that refused it. Runs inside the queue.
   */
  private async accept(
    block: Block,
    hashBytes: Uint8Array,
    parent: ChainEntry,
    opts: { raw?: Uint8Array | undefined; facts?: BlockFacts },
  ): Promise<ChainEntry> {
    const at = { parent: this.tree.view(parent) };
    const facts = opts.facts
      ? this.check(block, hashBytes, at, { from: "context", facts: opts.facts, to: "context" })
      : this.check(block, hashBytes, at, { size: opts.raw?.length, to: "context" });
    const entry = this.tree.newEntry(block, facts, parent);
    const change = await this.acceptor.accept(entry, block, opts.raw ?? encodeBlock(block), facts);
    this.announce(change);
    if (change.kind === "switch" && change.refused) throw change.refused;
    return entry;
  }

  /** Whether a block extends a run ending at `base` and is nowhere yet. Runs inside the queue. */
  private extends(block: Block, hash: string, base: ChainEntry): boolean {
    if (!bytesEqual(block.header.prevHash, base.hashBytes)) return false;
    return (
      !this.tree.has(hash) && !this.invalid.has(hash) && !this.orphans.has(hash) && !this.future.has(hash)
    );
  }

  /** Steps 2 and 4 for a block extending a run at `base`: its item for the run. Runs inside the queue. */
  private extension(
    block: Block,
    hashBytes: Uint8Array,
    raw: Uint8Array | undefined,
    base: ChainEntry,
  ): RunItem {
    const at = { parent: this.tree.view(base) };
    const facts = this.check(block, hashBytes, at, { size: raw?.length, to: "context" });
    const entry = this.tree.newEntry(block, facts, base);
    const ids = facts.ids ?? recordIds(block);
    return { entry, block, raw: raw ?? encodeBlock(block), ids, upper: facts.upper };
  }

  /** Commits a run of checked extensions, announces it, connects orphans. Runs inside the queue. */
  private async commitRun(run: RunItem[]): Promise<void> {
    this.announce(await this.acceptor.commitRun(run));
    // Orphans that were waiting for one of these blocks (rare during a sync, common after a gap).
    for (const { entry } of run) await this.connectOrphans(entry);
  }

  /**
   * Steps 2 and 4: the stages of checkBlock a block passes before it joins the tree. A refusal is recorded
   * (rejected); a block that is only early is held for a retry, not forgotten. Runs inside the queue.
   */
  private check(
    block: Block,
    hashBytes: Uint8Array,
    at: Position,
    opts: Omit<CheckOptions, "now" | "heldCheckpoint">,
  ): BlockFacts {
    if ((opts.from ?? "sanity") === "sanity") this.stats.sanityChecks++;
    const heldCheckpoint = this.tree.heldCheckpoint();
    try {
      // A literal, not a spread of `opts`: one shape for checkBlock (a spread cost ~1/10 of processBlocks).
      const { size, from, facts, to } = opts;
      const now = this.now();
      return checkBlock(block, hashBytes, this.params, at, { now, size, from, facts, to, heldCheckpoint });
    } catch (err) {
      const hash = opts.facts?.hashHex ?? hashToHex(hashBytes);
      if (err instanceof BlockError && err.code === "TIME_TOO_NEW") this.future.set(hash, block);
      throw this.rejected(err, hash);
    }
  }

  /** Records a rejection: caches a bad hash (when cacheable), emits `invalid`. Runs inside the queue. */
  private rejected(err: unknown, hash: string): unknown {
    if (!(err instanceof BlockError)) return err;
    if (err.cacheable) this.invalid.set(hash, err.data);
    this.emit("invalid", { hash, code: err.code, penalty: err.penalty });
    return err;
  }

  /** Step 6: orphans whose parent arrived, breadth first; a bad one stops no other. Runs inside the queue. */
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

  /** Main or side for the block, with the net reorg this call caused. Runs inside the queue. */
  private outcome(entry: ChainEntry, before: ChainEntry): ProcessResult {
    if (!this.tree.isMain(entry)) return { status: "side", hash: entry.hash, height: entry.height };
    const result: ProcessResult = { status: "main", hash: entry.hash, height: entry.height };
    if (!this.tree.isMain(before)) return { ...result, reorg: this.tree.reorgBetween(before, this.tree.tip) };
    return result;
  }

  // ---------------------------------------------------------------- events

  /** A written change's events: side, or disconnected/connected/tip, then invalid. Runs inside the queue. */
  private announce(change: Change): void {
    if (change.kind === "side") {
      this.emit("side", change.entry);
      return;
    }
    if (change.kind === "run") {
      for (const { entry, block } of change.run) this.emit("connected", entry, block);
      this.emit("tip", { tip: change.run[change.run.length - 1]!.entry, previous: change.previous });
      return;
    }
    const { plan, bodies } = change;
    if (plan.connect.length) {
      for (const d of plan.disconnect) this.emit("disconnected", d, bodies.get(d)!);
      for (const x of plan.connect) this.emit("connected", x, bodies.get(x)!);
      const reorg = reorgOf(plan);
      if (reorg) {
        this.stats.reorgs++;
        this.log.info({ depth: reorg.depth, fork: reorg.fork.height, tip: plan.target.hash }, "reorg");
      }
      this.emit("tip", { tip: plan.target, previous: plan.previous, ...(reorg ? { reorg } : {}) });
    } else if (!isInvalid(plan.candidate)) {
      this.emit("side", plan.candidate);
    }
    if (plan.failed) {
      const { entry, error } = plan.failed;
      this.emit("invalid", { hash: entry.hash, code: error.code, penalty: error.penalty });
    }
  }

  // ---------------------------------------------------------------- startup (load.ts)

  /** Loads the stored tree and re-checks its last `checkBlocks` blocks, or starts a new one at genesis. */
  private async load(checkBlocks: number): Promise<void> {
    const tree = await readTree(this.store, this.params);
    if (!tree) {
      this.tree.initGenesis(await writeGenesis(this.store, this.params));
      return;
    }
    this.tree.initStored(tree);
    await recheck(this.store, this.params, tree.main, checkBlocks, (e) =>
      e.parent ? { parent: this.tree.view(e.parent) } : "genesis",
    );
    const tip = this.tree.tip;
    this.log.info({ height: tip.height, tip: tip.hash, entries: this.tree.size }, "chain loaded");
  }
}
