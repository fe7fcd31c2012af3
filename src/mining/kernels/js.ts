import { bswap32, IV, K } from "../sha256.ts";

/**
 * The portable kernel: plain TypeScript, used when neither the native addon nor WebAssembly SIMD is
 * available. Same contract as the others: offset of the first nonce in [start, start + count) whose top
 * 32 hash bits are <= work[11], or -1.
 *
 * Per nonce it runs rounds 3..63 of the header's second block (rounds 0..2 do not see the nonce and
 * are run once per call) and rounds 0..60 of the second hash: the hash's last state word, the only
 * one the early reject needs, equals e after round 60 plus IV[7].
 */

const W1 = new Int32Array(64);
const W2 = new Int32Array(64);
// Int32 copies keep every value a small integer in V8, which avoids heap numbers in the hot loop.
const KI = Int32Array.from(K);
const IV7 = IV[7]! | 0;

// Padding words of the header's second block (W4..W15) and of the second hash (W8..W15) never change.
W1[4] = 0x80000000 | 0;
W1[15] = 640;
W2[8] = 0x80000000 | 0;
W2[15] = 256;

function sig0(x: number): number {
  return ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
}

function sig1(x: number): number {
  return ((x >>> 17) | (x << 15)) ^ ((x >>> 19) | (x << 13)) ^ (x >>> 10);
}

/** The portable kernel's scan: the first nonce offset in [start, start + count) that meets work[11], or -1. */
export function scanJs(work: Uint32Array, start: number, count: number): number {
  const s0 = work[0]! | 0;
  const s1 = work[1]! | 0;
  const s2 = work[2]! | 0;
  const s3 = work[3]! | 0;
  const s4 = work[4]! | 0;
  const s5 = work[5]! | 0;
  const s6 = work[6]! | 0;
  const s7 = work[7]! | 0;
  W1[0] = work[8]! | 0;
  W1[1] = work[9]! | 0;
  W1[2] = work[10]! | 0;
  const top = work[11]! >>> 0;

  // Rounds 0..2 of the second block: nonce-independent.
  let a = s0;
  let b = s1;
  let c = s2;
  let d = s3;
  let e = s4;
  let f = s5;
  let g = s6;
  let h = s7;
  for (let t = 0; t < 3; t++) {
    const t1 =
      (h +
        (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
        ((e & f) ^ (~e & g)) +
        KI[t]! +
        W1[t]!) |
      0;
    const t2 =
      ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
        ((a & b) ^ (a & c) ^ (b & c))) |
      0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  const a3 = a;
  const b3 = b;
  const c3 = c;
  const d3 = d;
  const e3 = e;
  const f3 = f;
  const g3 = g;
  const h3 = h;
  // Schedule words 16 and 17 do not involve W3 (the nonce); 18 and 19 only partly.
  const w16 = (sig0(W1[1]!) + W1[0]!) | 0;
  const w17 = (sig1(640) + sig0(W1[2]!) + W1[1]!) | 0;
  const w18base = (sig1(w16) + W1[2]!) | 0;
  const w19base = (sig1(w17) + sig0(0x80000000 | 0)) | 0;
  W1[16] = w16;
  W1[17] = w17;

  for (let i = 0; i < count; i++) {
    const w3 = bswap32((start + i) >>> 0) | 0;
    W1[3] = w3;
    W1[18] = (w18base + sig0(w3)) | 0;
    W1[19] = (w19base + w3) | 0;
    for (let t = 20; t < 64; t++) {
      W1[t] = (sig1(W1[t - 2]!) + W1[t - 7]! + sig0(W1[t - 15]!) + W1[t - 16]!) | 0;
    }
    a = a3;
    b = b3;
    c = c3;
    d = d3;
    e = e3;
    f = f3;
    g = g3;
    h = h3;
    for (let t = 3; t < 64; t++) {
      const t1 =
        (h +
          (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
          ((e & f) ^ (~e & g)) +
          KI[t]! +
          W1[t]!) |
        0;
      const t2 =
        ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
          ((a & b) ^ (a & c) ^ (b & c))) |
        0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }

    // Second hash over the 32-byte digest.
    W2[0] = (s0 + a) | 0;
    W2[1] = (s1 + b) | 0;
    W2[2] = (s2 + c) | 0;
    W2[3] = (s3 + d) | 0;
    W2[4] = (s4 + e) | 0;
    W2[5] = (s5 + f) | 0;
    W2[6] = (s6 + g) | 0;
    W2[7] = (s7 + h) | 0;
    for (let t = 16; t < 61; t++) {
      W2[t] = (sig1(W2[t - 2]!) + W2[t - 7]! + sig0(W2[t - 15]!) + W2[t - 16]!) | 0;
    }
    a = IV[0]! | 0;
    b = IV[1]! | 0;
    c = IV[2]! | 0;
    d = IV[3]! | 0;
    e = IV[4]! | 0;
    f = IV[5]! | 0;
    g = IV[6]! | 0;
    h = IV7;
    for (let t = 0; t < 61; t++) {
      const t1 =
        (h +
          (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
          ((e & f) ^ (~e & g)) +
          KI[t]! +
          W2[t]!) |
        0;
      const t2 =
        ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
          ((a & b) ^ (a & c) ^ (b & c))) |
        0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    // e is now e61, which rounds 61..63 only shift down into h.
    if (bswap32((e + IV7) | 0) <= top) return i;
  }
  return -1;
}
