/**
 * SipHash-2-4 (Aumasson and Bernstein, 2012), the keyed hash BIP 152 takes its short ids from. Pure
 * JavaScript on 32-bit halves (no BigInt in the loop: a compact block's receiver hashes every pending
 * record id once per announcement). Checked against the reference implementation's vectors
 * (test/util/siphash.test.ts).
 */

/** A 128-bit SipHash key as the reference reads it: k0 = bytes 0..7, k1 = bytes 8..15, little-endian. */
export interface SipKey {
  /** k0 low and high 32 bits, k1 low and high 32 bits. */
  readonly words: Uint32Array;
}

/** Reads a 16-byte key (k0 ‖ k1, each little-endian) into its four 32-bit words. */
export function sipKey(key: Uint8Array): SipKey {
  if (key.length !== 16) throw new RangeError(`a SipHash key is 16 bytes, got ${key.length}`);
  const v = new DataView(key.buffer, key.byteOffset, 16);
  return {
    words: Uint32Array.of(
      v.getUint32(0, true),
      v.getUint32(4, true),
      v.getUint32(8, true),
      v.getUint32(12, true),
    ),
  };
}

// The state v0..v3 as [lo, hi] pairs: s[0]=v0.lo, s[1]=v0.hi, s[2]=v1.lo, … s[7]=v3.hi.
const s = new Uint32Array(8);

/** v[a] += v[b] (64-bit, mod 2^64). */
function add(a: number, b: number): void {
  const lo = (s[a]! + s[b]!) >>> 0;
  s[a + 1] = (s[a + 1]! + s[b + 1]! + (lo < s[a]! ? 1 : 0)) >>> 0;
  s[a] = lo;
}

/** v[a] = rotl(v[a], r) for 0 < r < 32. */
function rotl(a: number, r: number): void {
  const lo = s[a]!;
  const hi = s[a + 1]!;
  s[a + 1] = ((hi << r) | (lo >>> (32 - r))) >>> 0;
  s[a] = ((lo << r) | (hi >>> (32 - r))) >>> 0;
}

/** v[a] = rotl(v[a], 32): the halves swap. */
function swap(a: number): void {
  const lo = s[a]!;
  s[a] = s[a + 1]!;
  s[a + 1] = lo;
}

/** v[a] ^= v[b]. */
function xor(a: number, b: number): void {
  s[a] = (s[a]! ^ s[b]!) >>> 0;
  s[a + 1] = (s[a + 1]! ^ s[b + 1]!) >>> 0;
}

function sipRound(): void {
  add(0, 2);
  rotl(2, 13);
  xor(2, 0);
  swap(0);
  add(4, 6);
  rotl(6, 16);
  xor(6, 4);
  add(0, 6);
  rotl(6, 21);
  xor(6, 0);
  add(4, 2);
  rotl(2, 17);
  xor(2, 4);
  swap(4);
}

/** One message word m = (lo, hi): v3 ^= m, two rounds, v0 ^= m. */
function compress(lo: number, hi: number): void {
  s[6] = (s[6]! ^ lo) >>> 0;
  s[7] = (s[7]! ^ hi) >>> 0;
  sipRound();
  sipRound();
  s[0] = (s[0]! ^ lo) >>> 0;
  s[1] = (s[1]! ^ hi) >>> 0;
}

/** Runs SipHash-2-4 over `msg`; the result is left as v0 ^ v1 ^ v2 ^ v3 in (lo, hi) of the return. */
function run(key: SipKey, msg: Uint8Array): [number, number] {
  const k = key.words;
  // "somepseudorandomlygeneratedbytes", the reference's initial constants.
  s[0] = (k[0]! ^ 0x70736575) >>> 0;
  s[1] = (k[1]! ^ 0x736f6d65) >>> 0;
  s[2] = (k[2]! ^ 0x6e646f6d) >>> 0;
  s[3] = (k[3]! ^ 0x646f7261) >>> 0;
  s[4] = (k[0]! ^ 0x6e657261) >>> 0;
  s[5] = (k[1]! ^ 0x6c796765) >>> 0;
  s[6] = (k[2]! ^ 0x79746573) >>> 0;
  s[7] = (k[3]! ^ 0x74656462) >>> 0;
  const n = msg.length;
  const whole = n - (n % 8);
  for (let i = 0; i < whole; i += 8) {
    compress(
      (msg[i]! | (msg[i + 1]! << 8) | (msg[i + 2]! << 16) | (msg[i + 3]! << 24)) >>> 0,
      (msg[i + 4]! | (msg[i + 5]! << 8) | (msg[i + 6]! << 16) | (msg[i + 7]! << 24)) >>> 0,
    );
  }
  // The last word: the remaining bytes, little-endian, with the length's low byte on top.
  let lo = 0;
  let hi = (n & 0xff) << 24;
  for (let i = whole; i < n; i++) {
    const j = i - whole;
    if (j < 4) lo |= msg[i]! << (8 * j);
    else hi |= msg[i]! << (8 * (j - 4));
  }
  compress(lo >>> 0, hi >>> 0);
  s[4] = (s[4]! ^ 0xff) >>> 0;
  for (let r = 0; r < 4; r++) sipRound();
  return [(s[0]! ^ s[2]! ^ s[4]! ^ s[6]!) >>> 0, (s[1]! ^ s[3]! ^ s[5]! ^ s[7]!) >>> 0];
}

/** SipHash-2-4 of `msg` under `key`, as the unsigned 64-bit integer the reference returns. */
export function siphash24(key: SipKey, msg: Uint8Array): bigint {
  const [lo, hi] = run(key, msg);
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** The low 48 bits of SipHash-2-4 of `msg` (BIP 152's short id), exact as a JavaScript number. */
export function siphash48(key: SipKey, msg: Uint8Array): number {
  const [lo, hi] = run(key, msg);
  return (hi & 0xffff) * 0x1_0000_0000 + lo;
}
