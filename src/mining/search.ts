import { sha256d } from "../consensus/hash.ts";
import { HEADER_SIZE } from "../consensus/header.ts";
import type { Kernel } from "./kernels/index.ts";
import { prepareWork } from "./sha256.ts";

const NONCE_OFFSET = 76;

/** Whether a header hash (internal byte order) is <= target, compared as a 256-bit number. */
export function hashMeetsTarget(hash: Uint8Array, target: bigint): boolean {
  // The hash is a little-endian number: compare from its most significant (last) byte down.
  let value = 0n;
  for (let i = 31; i >= 0; i--) value = (value << 8n) | BigInt(hash[i]!);
  return value <= target;
}

/** A header prepared for scanning: its bytes (nonce rewritten per candidate) and kernel work vector. */
export interface PreparedHeader {
  readonly header: Uint8Array;
  readonly target: bigint;
  readonly work: Uint32Array;
}

/** Prepares an 80-byte header for scanning against `target` (the nonce field is ignored). */
export function prepareHeader(header: Uint8Array, target: bigint): PreparedHeader {
  if (header.length !== HEADER_SIZE) throw new RangeError(`header must be ${HEADER_SIZE} bytes`);
  const copy = Uint8Array.from(header);
  return { header: copy, target, work: prepareWork(copy, target) };
}

/**
 * The first nonce in [start, start + count) whose double SHA-256 is <= the target, or null. The kernel
 * only rejects early on the top 32 bits; each candidate is confirmed here with the reference hash, so a
 * kernel can never make this return a nonce the consensus check would refuse.
 */
export function findNonce(kernel: Kernel, job: PreparedHeader, start: number, count: number): number | null {
  if (
    !Number.isInteger(start) ||
    !Number.isInteger(count) ||
    start < 0 ||
    count < 0 ||
    start + count > 2 ** 32
  )
    throw new RangeError("nonce range must lie within [0, 2^32)");
  const view = new DataView(job.header.buffer, job.header.byteOffset, HEADER_SIZE);
  let from = start;
  const end = start + count;
  while (from < end) {
    const offset = kernel.scan(job.work, from, Math.min(end - from, 1 << 30));
    if (offset < 0) {
      from += Math.min(end - from, 1 << 30);
      continue;
    }
    const nonce = from + offset;
    view.setUint32(NONCE_OFFSET, nonce, true);
    if (hashMeetsTarget(sha256d(job.header), job.target)) return nonce;
    from = nonce + 1;
  }
  return null;
}
