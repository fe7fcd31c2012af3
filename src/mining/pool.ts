import { EventEmitter } from "node:events";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { Block } from "../consensus/block.ts";
import { bitsToTarget } from "../consensus/compact.ts";
import { headerHashBytes } from "../consensus/header.ts";
import type { BlockRecord } from "../consensus/records.ts";
import { recordId } from "../consensus/records.ts";
import { buildBlock } from "../consensus/template.ts";
import { type Logger, silentLogger } from "../util/logger.ts";
import { type KernelChoice, type KernelName, loadKernel } from "./kernels/index.ts";
import {
  GENERATION,
  type JobMessage,
  type SharedViews,
  sharedLayout,
  sharedViews,
  type WorkerInit,
  type WorkerMessage,
} from "./protocol.ts";
import { hashMeetsTarget } from "./search.ts";

export interface PoolOptions {
  /** Worker threads; default one per core. */
  threads?: number;
  /** Kernel every worker runs; "auto" (default) picks the fastest available here. */
  kernel?: KernelChoice;
  logger?: Logger;
  /** Nonces tried per extra-nonce before rolling it. Default 2^32; tests shrink it to exercise rolling. */
  nonceSpace?: number;
  /**
   * Nice value of the worker threads on Linux (default 10; 0 keeps normal priority). Lower priority
   * costs no hash rate on an otherwise idle machine, and keeps the main thread responsive when every
   * core mines.
   */
  niceness?: number;
}

/** A block template for the pool: what buildBlock needs, minus the nonce and extra-nonce. */
export interface PoolJob {
  prevHash: Uint8Array;
  height: number;
  bits: number;
  /** Header time to start from; workers move it forward with the clock when they roll the extra-nonce. */
  time: number;
  miner: string;
  /** Records after the miner record. */
  records?: BlockRecord[];
  version?: number;
  /** First extra-nonce; worker i uses base + i + k * threads. Give each job a fresh range. */
  extraNonceBase?: bigint;
  /** Defaults to the target `bits` encodes; tests pass an impossible one to mine without finding. */
  target?: bigint;
}

/** A solved job: the complete block, ready for processBlock. */
export interface PoolSolution {
  generation: number;
  job: PoolJob;
  block: Block;
  /** Internal-order header hash. */
  hash: Uint8Array;
  worker: number;
}

export interface PoolEvents {
  found: [solution: PoolSolution];
  error: [error: Error];
}

interface ActiveJob {
  generation: number;
  job: PoolJob;
  target: bigint;
}

/**
 * Worker threads that search one job at a time. Each worker scans its own extra-nonce lane of the job,
 * so no two threads ever hash the same header and none has to wait for another.
 *
 * Abort protocol: `mine` and `abort` bump a generation counter in shared memory; every worker checks it
 * between kernel chunks (about 0.1-0.2 ms of work), stops, and acknowledges by writing the generation it
 * stopped and the time (Atomics). The next job is posted right after the bump, so a worker that sees the
 * change picks the new job up as soon as it returns to its event loop. When a worker finds a block, the
 * pool aborts the others at once (the template is spent) and emits `found`.
 */
export class MiningPool extends EventEmitter<PoolEvents> {
  readonly threads: number;
  readonly kernel: KernelName;
  private readonly workers: Worker[] = [];
  private readonly views: SharedViews;
  private readonly log: Logger;
  private readonly nonceSpace: number;
  /** Generation of the last job sent to each worker (0: none yet). */
  private readonly sent: number[];
  private active: ActiveJob | undefined;
  private closing = false;

  private constructor(threads: number, kernel: KernelName, opts: PoolOptions) {
    super();
    this.threads = threads;
    this.kernel = kernel;
    this.log = opts.logger ?? silentLogger;
    this.nonceSpace = opts.nonceSpace ?? 2 ** 32;
    this.sent = new Array<number>(threads).fill(0);
    const shared = new SharedArrayBuffer(sharedLayout(threads).bytes);
    this.views = sharedViews(shared, threads);
    for (let index = 0; index < threads; index++) {
      const init: WorkerInit = { index, threads, kernel, shared, niceness: opts.niceness ?? 10 };
      this.workers.push(new Worker(workerEntry(), { workerData: init }));
    }
  }

  /** Starts the workers and resolves once every one has loaded its kernel. */
  static async start(opts: PoolOptions = {}): Promise<MiningPool> {
    const threads = opts.threads ?? availableParallelism();
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError("threads must be a positive integer");
    const space = opts.nonceSpace ?? 2 ** 32;
    if (!Number.isInteger(space) || space < 1 || space > 2 ** 32) throw new RangeError("bad nonceSpace");
    // Resolve "auto" once here so every worker runs the same kernel, and fail early if it is missing.
    const kernel = loadKernel(opts.kernel ?? "auto").name;
    const pool = new MiningPool(threads, kernel, opts);
    try {
      await pool.ready();
    } catch (err) {
      await pool.close();
      throw err;
    }
    pool.log.info({ threads, kernel }, "mining pool started");
    return pool;
  }

  private ready(): Promise<void> {
    return new Promise((resolve, reject) => {
      let pending = this.threads;
      this.workers.forEach((w, i) => {
        const onStartup = (msg: WorkerMessage): void => {
          if (msg.type === "ready") {
            w.off("message", onStartup);
            w.on("message", (m: WorkerMessage) => this.onMessage(m));
            if (--pending === 0) resolve();
          } else if (msg.type === "error") {
            reject(new Error(`mining worker ${i} failed to start: ${msg.message}`));
          }
        };
        w.on("message", onStartup);
        // Before startup completes a failure rejects start(); after it, it is an `error` event.
        w.on("error", (err) => {
          reject(err);
          if (pending === 0) this.emit("error", err);
        });
        w.on("exit", (code) => {
          if (this.closing) return;
          const err = new Error(`mining worker ${i} exited (code ${code})`);
          reject(err);
          if (pending === 0) this.emit("error", err);
        });
      });
    });
  }

  /** The current job's generation (bumped by every mine/abort and by every block found). */
  get generation(): number {
    return Atomics.load(this.views.control, GENERATION);
  }

  /** Whether a job is being searched. */
  get busy(): boolean {
    return this.active !== undefined;
  }

  /** Aborts whatever is running and starts searching `job`. Returns the job's generation. */
  mine(job: PoolJob): number {
    if (this.closing) throw new Error("mining pool is closed");
    const target = job.target ?? bitsToTarget(job.bits);
    if (target === null || target <= 0n)
      throw new RangeError(`bits ${job.bits.toString(16)} encode no target`);
    const generation = Atomics.add(this.views.control, GENERATION, 1) + 1;
    this.active = { generation, job, target };
    const msg: JobMessage = {
      type: "job",
      generation,
      version: job.version ?? 1,
      prevHash: job.prevHash,
      height: job.height,
      bits: job.bits,
      time: job.time,
      issuedAt: Date.now(),
      target,
      miner: job.miner,
      recordIds: (job.records ?? []).map(recordId),
      extraNonceBase: job.extraNonceBase ?? 0n,
      nonceSpace: this.nonceSpace,
    };
    this.workers.forEach((w, i) => {
      this.sent[i] = generation;
      w.postMessage(msg);
    });
    return generation;
  }

  /** Stops the current job (workers go idle). Returns the new generation. */
  abort(): number {
    this.active = undefined;
    return Atomics.add(this.views.control, GENERATION, 1) + 1;
  }

  /** Resolves when every worker has stopped all jobs it was sent (after abort, or after a find). */
  async idle(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; i < this.threads; i++) {
      for (;;) {
        const acked = Atomics.load(this.views.acks, i);
        const want = this.sent[i]!;
        if (want === 0 || acked === want) break;
        if (this.generation === want) throw new Error("idle() while a job is running: abort it first");
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`mining worker ${i} did not stop within ${timeoutMs} ms`);
        await Atomics.waitAsync(this.views.acks, i, acked, left).value;
      }
    }
  }

  /** Hashes each worker has tried since the pool started. */
  hashCounts(): number[] {
    return Array.from(this.views.hashes, Number);
  }

  /**
   * For each worker, the process.hrtime.bigint() at which it acknowledged stopping `generation`, or
   * undefined if it has not (yet). Lets a benchmark measure abort latency without a message round trip.
   */
  ackTimes(generation: number): (bigint | undefined)[] {
    return this.workers.map((_, i) =>
      Atomics.load(this.views.acks, i) === generation ? Atomics.load(this.views.ackTimes, i) : undefined,
    );
  }

  /** Aborts the job and terminates the workers. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.abort();
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.removeAllListeners();
  }

  private onMessage(msg: WorkerMessage): void {
    if (msg.type === "error") {
      this.emit("error", new Error(`mining worker ${msg.index}: ${msg.message}`));
      return;
    }
    if (msg.type !== "found") return;
    const active = this.active;
    if (!active || msg.generation !== active.generation) {
      this.log.debug({ generation: msg.generation }, "solution for an aborted job dropped");
      return;
    }
    // The template is spent: stop every other worker before doing anything else.
    this.abort();
    const { job, target } = active;
    const block = buildBlock({
      prevHash: job.prevHash,
      height: job.height,
      bits: job.bits,
      time: msg.time,
      miner: job.miner,
      extraNonce: msg.extraNonce,
      records: job.records ?? [],
      version: job.version ?? 1,
    });
    block.header.nonce = msg.nonce;
    const hash = headerHashBytes(block.header);
    // Workers confirm every hit with the reference hash; a mismatch here means the job and the block
    // were assembled differently, which must never be submitted.
    if (!hashMeetsTarget(hash, target)) {
      this.emit("error", new Error(`worker ${msg.index} reported a nonce that does not solve the block`));
      return;
    }
    this.emit("found", { generation: msg.generation, job, block, hash, worker: msg.index });
  }
}

/**
 * Worker threads do not inherit the tsx loader: from sources (this module is .ts) start the small .mjs
 * entry that registers tsx first; compiled (.js) start the compiled worker directly.
 */
function workerEntry(): URL {
  const fromSource = import.meta.url.endsWith(".ts");
  return new URL(fromSource ? "./worker-entry.mjs" : "./worker.js", import.meta.url);
}
