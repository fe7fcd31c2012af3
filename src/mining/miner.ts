import { EventEmitter } from "node:events";
import type { BlockSink, ChainEventSource, ChainReader } from "../chain/interfaces.ts";
import type { NextBlockContext, ProcessResult } from "../chain/types.ts";
import type { Block } from "../consensus/block.ts";
import { hashToHex } from "../consensus/header.ts";
import {
  type BlockRecord,
  encodeRecord,
  FORBIDDEN_RECORD_SIZE,
  minerNameProblem,
} from "../consensus/records.ts";
import { errorMessage } from "../util/errors.ts";
import { type Logger, silentLogger } from "../util/logger.ts";
import { type Throttled, throttle } from "../util/throttle.ts";
import type { KernelChoice, KernelName } from "./kernels/index.ts";
import { MiningPool, type PoolSolution } from "./pool.ts";

/** Templates are rebuilt at most this often when pending records change (docs/ledger-design.md). */
export const RECORDS_REFRESH_MS = 250;

export interface MinerOptions {
  /** What to build on now (the chain's nextBlockContext). */
  getContext(nowSeconds: number): NextBlockContext;
  /** Where found blocks go: the same processBlock as blocks from the network. */
  submit(block: Block): Promise<ProcessResult>;
  /**
   * Subscribes to tip changes (returns an unsubscribe function). Without it, call `newTip()` whenever
   * the tip changes.
   */
  onTip?(listener: () => void): () => void;
  /** Name written into the miner record of every block. */
  minerName: string;
  /** Records to include after the miner record (pending data), read for each new template. */
  records?(): BlockRecord[];
  /**
   * Subscribes to changes of the pending records (returns an unsubscribe function): while mining, the
   * template on the same tip is then rebuilt, at most once per RECORDS_REFRESH_MS (leading and trailing).
   */
  onRecords?(listener: () => void): () => void;
  threads?: number;
  kernel?: KernelChoice;
  logger?: Logger;
  /** How often `stats` is emitted; default 1000 ms, 0 disables. */
  statsIntervalMs?: number;
  /** Clock in seconds (tests pass the chain's clock). */
  now?(): number;
  /** Nonces per extra-nonce (tests only; default 2^32). */
  nonceSpace?: number;
}

/**
 * The options that tie a miner to a chain: templates on its tip, found blocks into its processBlock (the
 * same entry as blocks from the network), and its tip events.
 */
export function chainHooks(
  chain: Pick<ChainReader, "nextBlockContext"> & Pick<BlockSink, "processBlock"> & ChainEventSource,
): Pick<MinerOptions, "getContext" | "submit" | "onTip"> {
  return {
    getContext: (now) => chain.nextBlockContext(now),
    submit: (block) => chain.processBlock(block),
    onTip: (listener) => {
      chain.on("tip", listener);
      return () => chain.off("tip", listener);
    },
  };
}

/** What happened to a block the miner found. */
export type SubmitOutcome = ProcessResult | { status: "rejected"; hash: string; reason: string };

export interface BlockFound {
  height: number;
  /** Display hash. */
  hash: string;
  nonce: number;
  extraNonce: bigint;
  /** Milliseconds from the first template at this height to the find. */
  elapsedMs: number;
  block: Block;
  result: SubmitOutcome;
}

export interface HashRateStats {
  kernel: KernelName | "none";
  /** Hashes per second of each thread over the last interval. */
  perThread: number[];
  /** Sum of perThread. */
  total: number;
  /** Hashes tried since the miner started. */
  hashes: number;
  intervalMs: number;
}

export interface MinerEvents {
  block: [found: BlockFound];
  /** A template was handed to the workers (a new tip, or new records on the same tip). */
  template: [event: { height: number; records: number }];
  stats: [stats: HashRateStats];
  error: [error: Error];
}

/**
 * Mines on the tip it is given, through a worker pool, and submits every block it finds through the
 * caller's `submit` (processBlock): it never writes to the store and knows nothing of networking.
 *
 * Each template gets a fresh extra-nonce range (job number << 32), so restarting on the same tip never
 * repeats work. On a tip change the running job is aborted at once and the next one started; after a
 * find, the pool is idle until the submit settles, then mining resumes on whatever the tip is then.
 */
export class Miner extends EventEmitter<MinerEvents> {
  private readonly opts: MinerOptions;
  private readonly log: Logger;
  private readonly now: () => number;
  private pool: MiningPool | undefined;
  private unsubscribe: (() => void) | undefined;
  private unsubscribeRecords: (() => void) | undefined;
  private readonly refreshSoon: Throttled = throttle(() => this.refresh(), RECORDS_REFRESH_MS);
  private statsTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private job: { context: NextBlockContext; generation: number } | undefined;
  private jobSeq = 0;
  /** Start time of the first template per parent hash, for the time-to-find of each block. */
  private readonly heightStart = new Map<string, number>();
  /** Hash counts and time at the start of the current measurement interval. */
  private intervalCounts: number[] = [];
  private intervalStart = 0;
  private lastReport: HashRateStats | undefined;
  private found = 0;
  private active = false;
  private submitting = 0;
  /** Found blocks still on their way through submit; stop() waits for them. */
  private readonly submissions = new Set<Promise<void>>();

  /** Throws a RangeError when `opts.minerName` cannot be a miner's name (minerNameProblem says why). */
  constructor(opts: MinerOptions) {
    super();
    const problem = minerNameProblem(opts.minerName);
    if (problem !== undefined) throw new RangeError(problem);
    this.opts = opts;
    this.log = opts.logger ?? silentLogger;
    this.now = opts.now ?? (() => Math.floor(Date.now() / 1000));
  }

  /** The kernel in use (after start). */
  get kernel(): KernelName | undefined {
    return this.pool?.kernel;
  }

  get threads(): number | undefined {
    return this.pool?.threads;
  }

  /** True from start() until stop(). */
  get running(): boolean {
    return this.active;
  }

  /** Blocks found (and submitted, whatever the outcome) since this miner was made. */
  get blocksFound(): number {
    return this.found;
  }

  /** The last `stats` report while running: undefined before the first one and after stop(). */
  get lastStats(): HashRateStats | undefined {
    return this.lastReport;
  }

  /** The template being searched, if any: its height and parent. */
  get working(): { height: number; prevHashHex: string; generation: number } | undefined {
    if (!this.job || !this.pool?.busy) return undefined;
    return {
      height: this.job.context.height,
      prevHashHex: this.job.context.prevHashHex,
      generation: this.job.generation,
    };
  }

  /** Starts the workers and mining on the current tip. */
  async start(): Promise<void> {
    if (this.active) return;
    this.pool = await MiningPool.start({
      ...(this.opts.threads !== undefined ? { threads: this.opts.threads } : {}),
      ...(this.opts.kernel !== undefined ? { kernel: this.opts.kernel } : {}),
      ...(this.opts.nonceSpace !== undefined ? { nonceSpace: this.opts.nonceSpace } : {}),
      logger: this.log,
    });
    this.active = true;
    this.pool.on("found", (s) => {
      const p = this.onFound(s).finally(() => this.submissions.delete(p));
      this.submissions.add(p);
    });
    this.pool.on("error", (err) => this.fail(err));
    this.unsubscribe = this.opts.onTip?.(() => this.newTip());
    this.unsubscribeRecords = this.opts.onRecords?.(() => this.refreshSoon.call());
    this.startInterval();
    const interval = this.opts.statsIntervalMs ?? 1000;
    if (interval > 0) {
      this.statsTimer = setInterval(() => {
        this.lastReport = this.stats();
        this.startInterval();
        this.emit("stats", this.lastReport);
      }, interval);
      this.statsTimer.unref();
    }
    this.restart();
  }

  /** The tip changed: abort the current job and start on the new tip (no-op if already on it). */
  newTip(): void {
    if (!this.active || this.submitting > 0) return;
    this.restart(true);
  }

  /** Rebuilds the template on the same tip, e.g. because the pending records changed. */
  refresh(): void {
    if (this.active && this.submitting === 0) this.restart();
  }

  /** Hash rates (per thread and total) since the current measurement interval began. Reads only. */
  stats(): HashRateStats {
    const pool = this.pool;
    const counts = pool ? pool.hashCounts() : [];
    const seconds = Math.max(1e-3, (performance.now() - this.intervalStart) / 1000);
    const perThread = counts.map((c, i) => (c - (this.intervalCounts[i] ?? 0)) / seconds);
    return {
      kernel: pool?.kernel ?? "none",
      perThread,
      total: perThread.reduce((a, b) => a + b, 0),
      hashes: counts.reduce((a, b) => a + b, 0),
      intervalMs: seconds * 1000,
    };
  }

  /** Begins a new measurement interval: the next stats() counts from now. The stats timer calls it after each report. */
  startInterval(): void {
    this.intervalCounts = this.pool ? this.pool.hashCounts() : [];
    this.intervalStart = performance.now();
  }

  /**
   * Stops mining and terminates the workers. Safe to call more than once. Resolves once a block found
   * before the stop has been through submit, so no mined block lands after this returns; solutions
   * that arrive after the stop began are dropped.
   */
  async stop(): Promise<void> {
    this.active = false;
    this.lastReport = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.unsubscribeRecords?.();
    this.unsubscribeRecords = undefined;
    this.refreshSoon.cancel();
    clearInterval(this.statsTimer);
    clearTimeout(this.retryTimer);
    const pool = this.pool;
    this.pool = undefined;
    this.job = undefined;
    await pool?.close();
    await Promise.allSettled([...this.submissions]);
  }

  /**
   * Starts a job on the current tip (with `onlyIfMoved`, only when the tip differs from the job's).
   * Runs inside the chain's tip event and timers, so failures become `error` events, never throws.
   */
  private restart(onlyIfMoved = false): void {
    if (!this.pool || !this.active) return;
    try {
      const context = this.opts.getContext(this.now());
      const same = this.job && this.pool.busy && this.job.context.prevHashHex === context.prevHashHex;
      if (!(onlyIfMoved && same)) this.startJob(this.pool, context);
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(errorMessage(err)));
    }
  }

  private startJob(pool: MiningPool, context: NextBlockContext): void {
    clearTimeout(this.retryTimer);
    if (context.minTime > context.maxTime) {
      // Blocks came faster than the clock (easy networks): wait until a valid time exists.
      pool.abort();
      this.job = undefined;
      const waitMs = (context.minTime - context.maxTime) * 1000;
      this.log.debug({ height: context.height, waitMs }, "median time past is ahead of the clock; waiting");
      this.retryTimer = setTimeout(() => this.restart(), waitMs);
      return;
    }
    const time = Math.min(Math.max(this.now(), context.minTime), context.maxTime);
    this.jobSeq++;
    if (!this.heightStart.has(context.prevHashHex)) {
      // Keep the map small: only the current parent matters once it changed.
      this.heightStart.clear();
      this.heightStart.set(context.prevHashHex, performance.now());
    }
    // Consensus refuses 64-byte records (docs/consensus.md, "The 64-byte rule"): whatever the source
    // hands in, a template never carries one, so a found block is never thrown away for it.
    const offered = this.opts.records?.() ?? [];
    const records = offered.filter((r) => encodeRecord(r).length !== FORBIDDEN_RECORD_SIZE);
    if (records.length !== offered.length)
      this.log.warn({ dropped: offered.length - records.length }, "left 64-byte records out of the template");
    const generation = pool.mine({
      prevHash: context.prevHash,
      height: context.height,
      bits: context.bits,
      time,
      miner: this.opts.minerName,
      records,
      extraNonceBase: BigInt(this.jobSeq) << 32n,
    });
    this.job = { context, generation };
    this.emit("template", { height: context.height, records: records.length });
    this.log.debug({ height: context.height, bits: context.bits, generation }, "mining");
  }

  private async onFound(s: PoolSolution): Promise<void> {
    if (!this.active) return;
    const hash = hashToHex(s.hash);
    const started = this.heightStart.get(hashToHex(s.job.prevHash)) ?? performance.now();
    const elapsedMs = performance.now() - started;
    this.submitting++;
    let result: SubmitOutcome;
    try {
      result = await this.opts.submit(s.block);
    } catch (err) {
      result = { status: "rejected", hash, reason: errorMessage(err) };
      this.log.warn({ hash, err }, "mined block rejected");
    } finally {
      this.submitting--;
    }
    const miner = s.block.records[0];
    this.found++;
    this.emit("block", {
      height: s.job.height,
      hash,
      nonce: s.block.header.nonce,
      extraNonce: miner?.type === "miner" ? miner.extraNonce : 0n,
      elapsedMs,
      block: s.block,
      result,
    });
    // Listeners may have stopped the miner; otherwise continue on the tip as it is now.
    if (this.active && this.submitting === 0) this.restart();
  }

  private fail(err: Error): void {
    this.log.error({ err }, "mining error");
    if (this.listenerCount("error") > 0) this.emit("error", err);
  }
}
