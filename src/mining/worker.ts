/**
 * A pool worker: loads its kernel, then mines each job it is sent until the job's generation changes
 * (abort), it finds a block, or it is terminated. Between chunks of `kernel.chunk` nonces it publishes
 * its hash count and checks the generation, so an abort is seen within one chunk (about 0.1-0.2 ms).
 */
import { setPriority } from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import { encodeHeader } from "../consensus/header.ts";
import { merkleRoot } from "../consensus/merkle.ts";
import { recordId } from "../consensus/records.ts";
import { errorMessage } from "../util/errors.ts";
import { loadKernel } from "./kernels/index.ts";
import { GENERATION, type JobMessage, sharedViews, type WorkerInit, type WorkerMessage } from "./protocol.ts";
import { findNonce, prepareHeader } from "./search.ts";

const init = workerData as WorkerInit;
const port = parentPort!;
const { control, acks, ackTimes, hashes } = sharedViews(init.shared, init.threads);
const me = init.index;
let counted = 0;

function post(msg: WorkerMessage): void {
  port.postMessage(msg);
}

/** Tells the main thread this worker stopped working on `generation`. */
function ack(generation: number): void {
  Atomics.store(ackTimes, me, process.hrtime.bigint());
  Atomics.store(acks, me, generation);
  Atomics.notify(acks, me);
}

function headerFor(job: JobMessage, extraNonce: bigint, time: number): Uint8Array {
  const minerId = recordId({ type: "miner", height: job.height, extraNonce, miner: job.miner });
  return encodeHeader({
    version: job.version,
    prevHash: job.prevHash,
    merkleRoot: merkleRoot([minerId, ...job.recordIds]),
    time,
    bits: job.bits,
    nonce: 0,
  });
}

function mine(job: JobMessage, kernel: ReturnType<typeof loadKernel>): void {
  const generation = job.generation;
  const stride = BigInt(init.threads);
  let extraNonce = job.extraNonceBase + BigInt(me);
  for (;;) {
    // A fresh extra-nonce gives a new merkle root and midstate, so no header repeats; the time follows
    // the clock, as a fresh template's would, so a long search does not leave stale timestamps.
    const time = job.time + Math.max(0, Math.floor((Date.now() - job.issuedAt) / 1000));
    const prepared = prepareHeader(headerFor(job, extraNonce, time), job.target);
    for (let start = 0; start < job.nonceSpace; ) {
      if (Atomics.load(control, GENERATION) !== generation) {
        ack(generation);
        return;
      }
      const count = Math.min(kernel.chunk, job.nonceSpace - start);
      const nonce = findNonce(kernel, prepared, start, count);
      counted += nonce === null ? count : nonce - start + 1;
      Atomics.store(hashes, me, BigInt(counted));
      if (nonce !== null) {
        post({ type: "found", index: me, generation, extraNonce, time, nonce });
        ack(generation);
        return;
      }
      start += count;
    }
    extraNonce += stride;
  }
}

/**
 * Linux applies setpriority(PRIO_PROCESS, 0) to the calling thread only, so this lowers the priority of
 * this worker and leaves the main thread (event loop: networking, validation, API) at normal priority:
 * with every core mining, the scheduler then runs the main thread as soon as it wakes. Elsewhere the
 * call would renice the whole process, so it is skipped.
 */
function lowerPriority(niceness: number): void {
  if (niceness <= 0 || process.platform !== "linux") return;
  try {
    setPriority(niceness);
  } catch {
    // Not fatal: mining still works at normal priority.
  }
}

try {
  lowerPriority(init.niceness);
  const kernel = loadKernel(init.kernel);
  port.on("message", (job: JobMessage) => {
    try {
      mine(job, kernel);
    } catch (err) {
      post({
        type: "error",
        index: me,
        message: err instanceof Error ? (err.stack ?? err.message) : errorMessage(err),
      });
    }
  });
  post({ type: "ready", index: me, kernel: kernel.name });
} catch (err) {
  post({ type: "error", index: me, message: errorMessage(err) });
}
