/**
 * What the pool's main thread and its workers share: the job message, the worker's replies, and the
 * layout of the shared memory through which jobs are aborted and progress is reported.
 *
 * Shared memory (one SharedArrayBuffer, written with Atomics only):
 *   control[GENERATION]   the current job's generation; the main thread bumps it to abort a job.
 *   acks[i]               the generation worker i last stopped working on.
 *   ackTimes[i]           process.hrtime.bigint() when worker i wrote that ack (same clock in all threads).
 *   hashes[i]             hashes worker i has tried since it started (monotonic).
 */
import type { KernelName } from "./kernels/index.ts";

export const GENERATION = 0;

/** Byte layout of the pool's SharedArrayBuffer for `threads` workers. */
export function sharedLayout(threads: number): {
  bytes: number;
  control: [offset: number, length: number];
  acks: [offset: number, length: number];
  ackTimes: [offset: number, length: number];
  hashes: [offset: number, length: number];
} {
  // Int32 regions first, then 8-byte aligned BigInt64 regions.
  const control: [number, number] = [0, 4];
  const acks: [number, number] = [16, threads];
  const bigStart = Math.ceil((16 + 4 * threads) / 8) * 8;
  const ackTimes: [number, number] = [bigStart, threads];
  const hashes: [number, number] = [bigStart + 8 * threads, threads];
  return { bytes: bigStart + 16 * threads, control, acks, ackTimes, hashes };
}

export interface SharedViews {
  control: Int32Array;
  acks: Int32Array;
  ackTimes: BigInt64Array;
  hashes: BigInt64Array;
}

export function sharedViews(buffer: SharedArrayBuffer, threads: number): SharedViews {
  const l = sharedLayout(threads);
  return {
    control: new Int32Array(buffer, l.control[0], l.control[1]),
    acks: new Int32Array(buffer, l.acks[0], l.acks[1]),
    ackTimes: new BigInt64Array(buffer, l.ackTimes[0], l.ackTimes[1]),
    hashes: new BigInt64Array(buffer, l.hashes[0], l.hashes[1]),
  };
}

/** workerData of each pool worker. */
export interface WorkerInit {
  index: number;
  threads: number;
  kernel: KernelName;
  shared: SharedArrayBuffer;
  /** Nice value the worker gives its own thread (Linux only); 0 leaves it alone. */
  niceness: number;
}

/**
 * One block template to search. The worker builds the miner record for each extra-nonce it tries,
 * hashes it into the merkle root with the other records' ids, and scans the nonce space.
 */
export interface JobMessage {
  type: "job";
  generation: number;
  version: number;
  prevHash: Uint8Array;
  height: number;
  bits: number;
  /** Header time when the job was made; workers advance it by the real seconds elapsed since `issuedAt`. */
  time: number;
  /** Date.now() when the job was made. */
  issuedAt: number;
  target: bigint;
  miner: string;
  /** Ids of the records after the miner record, in block order. */
  recordIds: Uint8Array[];
  /** Worker i tries extraNonceBase + i, then + threads, + 2 * threads…: no two workers share a header. */
  extraNonceBase: bigint;
  /** Nonces per extra-nonce: 2^32 except in tests that exercise rolling. */
  nonceSpace: number;
}

/** Messages from a worker to the main thread. */
export type WorkerMessage =
  | { type: "ready"; index: number; kernel: KernelName }
  | {
      type: "found";
      index: number;
      generation: number;
      extraNonce: bigint;
      time: number;
      nonce: number;
    }
  | { type: "error"; index: number; message: string };
