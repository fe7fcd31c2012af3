import { type Block, encodeBlock, recordIds } from "../consensus/block.ts";
import { bytesEqual, toHex } from "../consensus/bytes.ts";
import { BlockError, type BlockErrorData } from "../consensus/errors.ts";
import { hashToHex, headerHashBytes } from "../consensus/header.ts";
import type { NetworkParams } from "../consensus/params.ts";
import type { SignatureCache } from "../consensus/sigcache.ts";
import type { BlockFacts } from "../consensus/validate.ts";
import { BoundedMap } from "../util/bounded.ts";
import { type Logger, silentLogger } from "../util/logger.ts";
import { Acceptor, type Change } from "./accept.ts";
import { type CheckOptions, checkBlockSliced, type Position } from "./connect.ts";
import type { HeaderLimits } from "./headers.ts";
import { type Arrival, decode, type Incoming, Intake, LOCAL_SOURCE } from "./intake.ts";
import type { BlockSink } from "./interfaces.ts";
import { readTree, recheck, writeGenesis } from "./load.ts";
import type { PoolLimits } from "./pools.ts";
import { BlockQueue, DEFAULT_QUEUE_LIMITS, type QueueLimits } from "./queue.ts";
import { ChainReads } from "./reads.ts";
import type { ChainStore } from "./store.ts";
import { type RunItem, reorgOf } from "./switch.ts";
import { isInvalid } from "./tree.ts";
import type { ChainEntry, ChainEvents, ProcessResult } from "./types.ts";
import { DEFAULT_WAITING_LIMITS, Waiting } from "./waiting.ts";

export interface ChainOptions {
  params: NetworkParams;
  store: ChainStore;
  /** The node's clock in seconds (tests pass their own). */
  now?: () => number;
  logger?: Logger;
  /** Bounds of the orphan pool (pools.ts DEFAULT_ORPHAN_LIMITS). */
  orphanLimits?: Partial<PoolLimits>;
  /** Bounds of the pool of blocks from the future (pools.ts DEFAULT_FUTURE_LIMITS). */
  futureLimits?: Partial<PoolLimits>;
  /** Bounds of the headers held without bodies (headers.ts DEFAULT_HEADER_LIMITS). */
  headerLimits?: Partial<HeaderLimits>;
  /** Bounds of the block queue for blocks nobody asked for (DEFAULT_QUEUE_LIMITS). */
  queueLimits?: Partial<QueueLimits>;
  /** Least chain work for blocks nobody asked for (default: the network's `minChainWork`). */
  minChainWork?: bigint;
  /** Main-chain blocks whose bodies are re-checked at startup (default 6, as Bitcoin Core's -checkblocks). */
  checkBlocks?: number;
  /** Invalid block hashes remembered beyond those in the store (default 10,000). */
  invalidCacheSize?: number;
  /** Signatures the mempool verified: not verified again when their block connects (sigcache.ts). */
  signatures?: SignatureCache;
}

/** Most blocks processBlocks commits in one batch. */
const EXTEND_BATCH = 500;

/**
 * The one entry point of the chain. Every block, mined here or received, enters through processBlock,
 * which runs (after btcd's ProcessBlock, with Bitcoin Core's headers-before-bodies for blocks nobody asked
 * for), cheapest first, so that a block the node will not keep costs it no more than its header:
 *   1. duplicate / known-invalid lookup (tree, invalid cache, this source's copy in the pools);
 *   2. the header alone: proof of work, size and record count from the first bytes, then time (a block that
 *      is only early is held as bytes in the future pool);
 *   3. parent lookup: unknown parent → the orphan pool, as bytes (or BAD_GENESIS for a block claiming to
 *      start a chain);
 *   4. the header against its parent (invalid parent, checkpoints, bits, median time past); then the policy
 *      for blocks nobody asked for (docs/protocol.md, "Blocks nobody asked for"): below `minChainWork`
 *      → LOW_WORK; a branch without a chance (below the tip by more than SIDE_MARGIN_BLOCKS, or its fork
 *      point at its share) → only the header is kept (waiting.ts), the body is dropped;
 *   5. the body (decoded only now) through sanity and context, then accept (accept.ts): more work than the
 *      tip → the whole new branch is validated (record signatures) before anything changes, then the switch
 *      (planned by switch.ts) is one atomic store batch; otherwise the block is stored as a side block;
 *   6. orphans waiting on the block are placed in turn.
 * Steps 5's checks are the stages of the one checkBlock (connect.ts), which the batched path, the startup
 * re-check and verifyChain run too; steps 2 and 4 run its header part first. A rejection is recorded one way on every path: a
 * block refused before it joins the tree is remembered by hash in the bounded `invalid` cache (when the rule
 * says the hash itself is bad); a block whose records fail is stored with status "invalid", its descendants
 * "invalid-child", so the node still knows after a restart.
 * Here live the queue (bounded for blocks nobody asked for), the processing, the events and loading; the
 * pools and held headers are a Waiting (waiting.ts); the reads are the ChainReads it extends (reads.ts),
 * over a BlockTree (tree.ts) and a RecordView (records.ts). Calls run one at a time (`exclusive`), so every
 * read of the in-memory tree sees a committed state; a private step that changes or relies on that state
 * says "Runs inside the queue".
 */
export class Chain extends ChainReads implements BlockSink {
  private readonly log: Logger;
  private readonly acceptor: Acceptor;
  /** Hash → why it is invalid, for blocks never stored (bounded, oldest dropped first). */
  private readonly invalid: BoundedMap<string, BlockErrorData>;
  private readonly queue: BlockQueue;
  /** Steps 1 to 4 and 6 (intake.ts). */
  private readonly intake: Intake;
  /** Work counters, for monitoring and for tests that a cached rejection costs no second validation. */
  readonly stats = { sanityChecks: 0, recordChecks: 0, reorgs: 0 };

  private constructor(opts: ChainOptions) {
    const d = DEFAULT_WAITING_LIMITS;
    const waiting = new Waiting({
      orphans: { ...d.orphans, ...opts.orphanLimits },
      future: { ...d.future, ...opts.futureLimits },
      headers: { ...d.headers, ...opts.headerLimits },
    });
    super(opts.params, opts.store, waiting, opts.now ?? (() => Math.floor(Date.now() / 1000)));
    this.log = opts.logger ?? silentLogger;
    const { params, store, tree, records, now, stats } = this;
    this.acceptor = new Acceptor({ params, store, tree, records, now, stats, signatures: opts.signatures });
    this.invalid = new BoundedMap(opts.invalidCacheSize ?? 10_000);
    this.queue = new BlockQueue({ ...DEFAULT_QUEUE_LIMITS, ...opts.queueLimits });
    this.intake = new Intake({
      params,
      tree,
      waiting,
      invalid: this.invalid,
      minChainWork: opts.minChainWork ?? opts.params.minChainWork,
      now,
      log: this.log,
      rejected: (err, hash) => this.rejected(err, hash),
      accept: (item, parent) => this.accept(item, parent),
    });
  }

  /** Opens the chain on a store: loads the block tree (headers only), checks it, re-checks the last ones. */
  static async open(opts: ChainOptions): Promise<Chain> {
    const chain = new Chain(opts);
    await chain.load(opts.checkBlocks ?? 6);
    return chain;
  }

  // ---------------------------------------------------------------- entries (BlockSink) and the queue

  /**
   * The one entry for every block, decoded or as its bytes. Resolves with what happened, or rejects with a
   * BlockError saying which rule the block broke (with the penalty the sender deserves), or a ChainError
   * (BUSY: the queue is full for this source; LOW_WORK, SIDE_QUOTA: a block nobody asked for that the node
   * will not keep). `arrival`: the serialized block, or who sent it and whether this node asked for it
   * (intake.ts Arrival; by default nobody did).
   */
  processBlock(block: Block | Uint8Array, arrival?: Uint8Array | Arrival): Promise<ProcessResult> {
    const start = performance.now();
    let began = start;
    const settled = (outcome: ChainEvents["processed"][0]["outcome"]): void => {
      const end = performance.now();
      this.emit("processed", { seconds: (end - start) / 1000, busy: (end - began) / 1000, outcome });
    };
    const a: Arrival = arrival instanceof Uint8Array ? { raw: arrival } : (arrival ?? {});
    const gated = a.requested ? undefined : (a.source ?? LOCAL_SOURCE);
    let run: Promise<ProcessResult>;
    try {
      if (gated !== undefined) this.queue.admit(gated);
      const turn = (): Promise<ProcessResult> => {
        began = performance.now();
        return this.intake.run(block, a);
      };
      run = this.exclusive(turn, gated);
    } catch (err) {
      run = Promise.reject(err);
    }
    return run.then(
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
            results.push(await this.intake.run(block, { raw, requested: true }));
            continue;
          }
          const item = await this.extension(block, hashBytes, raw, base);
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

  /** Retries blocks that were too far in the future, now that the clock has moved (as they first came). */
  retryFutureBlocks(): Promise<ProcessResult[]> {
    return this.exclusive(async () => {
      const out: ProcessResult[] = [];
      const limit = this.now() + this.params.maxFutureDrift;
      for (const p of this.waiting.future.takeWhere((x) => x.header.time <= limit)) {
        if (this.tree.has(p.hash)) continue;
        try {
          out.push(await this.intake.run(p.raw, { source: p.source, requested: p.requested }));
        } catch (err) {
          this.log.debug({ hash: p.hash, err }, "future block rejected on retry");
        }
      }
      return out;
    });
  }

  /** Waits for the block being processed, then refuses new calls (ChainError CLOSED). */
  close(): Promise<void> {
    return this.queue.close();
  }

  /** Queues `fn` behind every call before it (queue.ts); `source`: the sender of a block nobody asked for. */
  protected exclusive<T>(fn: () => Promise<T>, source?: string): Promise<T> {
    return this.queue.run(fn, source);
  }

  protected get queued(): number {
    return this.queue.depth;
  }

  // ---------------------------------------------------------------- processing (btcd's process.go)

  /**
   * Step 5 for a block the node keeps: decodes its body, runs checkBlock up to the context, then accept.ts
   * stores it as a side block or makes it (part of) the main chain; throws the BlockError that refused it.
   * Runs inside the queue.
   */
  private async accept(item: Incoming, parent: ChainEntry): Promise<ChainEntry> {
    const pre = this.takePrechecked(item.raw, parent);
    let block: Block;
    try {
      block = pre?.block ?? (await decode(item));
    } catch (err) {
      throw this.rejected(err, item.hash);
    }
    const at = { parent: this.tree.view(parent) };
    const facts =
      pre?.facts ?? (await this.check(block, item.hashBytes, at, { size: item.raw.length, to: "context" }));
    const entry = this.tree.newEntry(block, facts, parent);
    const change = await this.acceptor.accept(entry, block, item.raw, facts);
    this.announce(change);
    if (change.kind === "switch" && change.refused) throw change.refused;
    return entry;
  }

  /**
   * Whether a block extends a run ending at `base` and is not in the tree yet (a copy waiting in a pool, or
   * its header held, does not stop it: this one was asked for). Runs inside the queue.
   */
  private extends(block: Block, hash: string, base: ChainEntry): boolean {
    if (!bytesEqual(block.header.prevHash, base.hashBytes)) return false;
    return !this.tree.has(hash) && !this.invalid.has(hash);
  }

  /** Steps 2 and 4 for a block extending a run at `base`: its item for the run. Runs inside the queue. */
  private async extension(
    block: Block,
    hashBytes: Uint8Array,
    raw: Uint8Array | undefined,
    base: ChainEntry,
  ): Promise<RunItem> {
    const at = { parent: this.tree.view(base) };
    const facts = await this.check(block, hashBytes, at, { size: raw?.length, to: "context" });
    const entry = this.tree.newEntry(block, facts, base);
    const ids = facts.ids ?? recordIds(block);
    return { entry, block, raw: raw ?? encodeBlock(block), ids, upper: facts.upper };
  }

  /** Commits a run of checked extensions, announces it, connects orphans. Runs inside the queue. */
  private async commitRun(run: RunItem[]): Promise<void> {
    this.announce(await this.acceptor.commitRun(run));
    // Orphans that were waiting for one of these blocks (rare during a sync, common after a gap).
    for (const { entry } of run) await this.intake.connectOrphans(entry);
  }

  /** Step 5's checks before a block joins the tree, in time slices; refusals recorded. Inside the queue. */
  private async check(
    block: Block,
    hashBytes: Uint8Array,
    at: Position,
    opts: Omit<CheckOptions, "now" | "heldCheckpoint">,
  ): Promise<BlockFacts> {
    if ((opts.from ?? "sanity") === "sanity") this.stats.sanityChecks++;
    const heldCheckpoint = this.tree.heldCheckpoint();
    try {
      // A literal, not a spread of `opts`: one shape for checkBlock (a spread cost ~1/10 of processBlocks).
      const { size, from, facts, to } = opts;
      const now = this.now();
      const o = { now, size, from, facts, to, heldCheckpoint };
      return await checkBlockSliced(block, hashBytes, this.params, at, o);
    } catch (err) {
      throw this.rejected(err, opts.facts?.hashHex ?? hashToHex(hashBytes));
    }
  }

  /** Records a rejection: caches a bad hash (when cacheable), emits `invalid`. Runs inside the queue. */
  private rejected(err: unknown, hash: string): unknown {
    if (!(err instanceof BlockError)) return err;
    if (err.cacheable) this.invalid.set(hash, err.data);
    this.emit("invalid", { hash, code: err.code, penalty: err.penalty });
    return err;
  }

  // ---------------------------------------------------------------- events

  /**
   * A written change's events: side, or disconnected/connected/tip, then invalid; first, what waited for the
   * blocks that joined the tree is forgotten. Runs inside the queue.
   */
  private announce(change: Change): void {
    const joined =
      change.kind === "side"
        ? [change.entry]
        : change.kind === "run"
          ? change.run.map((r) => r.entry)
          : [change.plan.candidate];
    for (const e of joined) this.waiting.joined(e);
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
