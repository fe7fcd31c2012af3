/**
 * The SHA-256 pieces the mining kernels share: round constants, the initial state, one compression
 * function, and the per-template "work" vector every kernel consumes.
 *
 * Only mining needs a raw compression function (to hash the first 64 header bytes once per template);
 * consensus code hashes whole messages through node:crypto (src/consensus/hash.ts).
 */
import { HEADER_SIZE } from "../consensus/header.ts";

/** SHA-256 round constants. */
export const K: Uint32Array = Uint32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);

/** SHA-256 initial hash value. */
export const IV: Uint32Array = Uint32Array.from([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

/** Number of 32-bit words in a work vector (see `prepareWork`). */
export const WORK_WORDS = 12;

const W = new Uint32Array(64);

/** Runs one SHA-256 compression of the 64 bytes at `block[offset..]` into `state` (in place). */
export function compress(state: Uint32Array, block: Uint8Array, offset = 0): void {
  for (let t = 0; t < 16; t++) {
    const o = offset + 4 * t;
    W[t] = ((block[o]! << 24) | (block[o + 1]! << 16) | (block[o + 2]! << 8) | block[o + 3]!) >>> 0;
  }
  for (let t = 16; t < 64; t++) {
    const x = W[t - 15]!;
    const y = W[t - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    W[t] = (W[t - 16]! + s0 + W[t - 7]! + s1) >>> 0;
  }
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  let e = state[4]!;
  let f = state[5]!;
  let g = state[6]!;
  let h = state[7]!;
  for (let t = 0; t < 64; t++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[t]! + W[t]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  state[0] = state[0]! + a;
  state[1] = state[1]! + b;
  state[2] = state[2]! + c;
  state[3] = state[3]! + d;
  state[4] = state[4]! + e;
  state[5] = state[5]! + f;
  state[6] = state[6]! + g;
  state[7] = state[7]! + h;
}

/** Top 32 bits of a 256-bit target, the bound the kernels' early reject compares against. */
export function targetTopWord(target: bigint): number {
  if (target < 0n) throw new RangeError("target must be non-negative");
  const top = target >> 224n;
  return top > 0xffffffffn ? 0xffffffff : Number(top);
}

/**
 * The per-template input of every kernel, 12 words: the midstate after the first 64 header bytes,
 * the three big-endian words before the nonce (end of the merkle root, time, bits) and the target's
 * top word. The nonce field of `header` is ignored.
 */
export function prepareWork(header: Uint8Array, target: bigint): Uint32Array {
  if (header.length !== HEADER_SIZE) throw new RangeError(`header must be ${HEADER_SIZE} bytes`);
  const work = new Uint32Array(WORK_WORDS);
  const state = IV.slice();
  compress(state, header, 0);
  work.set(state, 0);
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  work[8] = view.getUint32(64, false);
  work[9] = view.getUint32(68, false);
  work[10] = view.getUint32(72, false);
  work[11] = targetTopWord(target);
  return work;
}

/** Byte-swaps a 32-bit word: the nonce is little-endian in the header, SHA-256 reads words big-endian. */
export function bswap32(x: number): number {
  return ((x << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;
}
