import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { fromHex } from "../../src/consensus/bytes.ts";
import { bitsToTarget } from "../../src/consensus/compact.ts";
import { sha256d } from "../../src/consensus/hash.ts";
import { decodeHeader, encodeHeader, hashToBigInt } from "../../src/consensus/header.ts";
import { KERNEL_NAMES, type Kernel, kernelStatus, loadKernel } from "../../src/mining/kernels/index.ts";
import { findNonce, hashMeetsTarget, prepareHeader } from "../../src/mining/search.ts";
import { bswap32, compress, IV, prepareWork, targetTopWord } from "../../src/mining/sha256.ts";

/** Deterministic generator (xorshift32) so a failure names a reproducible case. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

function randomBytes(next: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = next() & 0xff;
  return out;
}

function withNonce(header: Uint8Array, nonce: number): Uint8Array {
  const h = Uint8Array.from(header);
  new DataView(h.buffer).setUint32(76, nonce, true);
  return h;
}

/** The reference: double SHA-256 per nonce through node:crypto and a full 256-bit comparison. */
function referenceFind(header: Uint8Array, target: bigint, start: number, count: number): number | null {
  for (let n = start; n < start + count; n++) {
    if (hashToBigInt(sha256d(withNonce(header, n))) <= target) return n;
  }
  return null;
}

/** Top 32 bits of the display-order hash, which is what the kernels' early reject compares. */
function topWord(header: Uint8Array, nonce: number): number {
  return Number(hashToBigInt(sha256d(withNonce(header, nonce))) >> 224n);
}

const status = kernelStatus();
const kernels = KERNEL_NAMES.map((name) => {
  const s = status.find((x) => x.name === name)!;
  // The native kernel needs a compiler at install time and a CPU with SHA-NI: skip, with the reason,
  // where either is missing. The WebAssembly kernel is built by `npm run build` and is required.
  const skip = !s.available && name === "native" ? s.reason : false;
  return { name, skip, kernel: s.available ? loadKernel(name) : undefined };
});

// Bitcoin's genesis header: a real solved header whose nonce every kernel must find.
const GENESIS =
  "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c";

describe("sha256 helpers", () => {
  it("compress over two blocks reproduces node:crypto's SHA-256 of 80 bytes", () => {
    const next = rng(7);
    for (let i = 0; i < 50; i++) {
      const data = randomBytes(next, 80);
      const padded = new Uint8Array(128);
      padded.set(data);
      padded[80] = 0x80;
      new DataView(padded.buffer).setUint32(124, 640, false);
      const state = IV.slice();
      compress(state, padded, 0);
      compress(state, padded, 64);
      const out = new Uint8Array(32);
      const view = new DataView(out.buffer);
      for (let w = 0; w < 8; w++) view.setUint32(4 * w, state[w]!, false);
      assert.deepEqual(out, new Uint8Array(createHash("sha256").update(data).digest()));
    }
  });

  it("targetTopWord takes the top 32 bits and saturates", () => {
    assert.equal(targetTopWord(bitsToTarget(0x1d00ffff)!), 0x00000000);
    assert.equal(targetTopWord(bitsToTarget(0x207fffff)!), 0x7fffff00);
    assert.equal(targetTopWord((1n << 256n) - 1n), 0xffffffff);
    assert.equal(targetTopWord(1n << 300n), 0xffffffff);
  });

  it("prepareWork ignores the nonce field and carries the three words before it", () => {
    const header = fromHex(GENESIS);
    const a = prepareWork(header, 1n);
    const b = prepareWork(withNonce(header, 12345), 1n);
    assert.deepEqual(a, b);
    const view = new DataView(header.buffer);
    assert.equal(a[10], view.getUint32(72, false));
    assert.equal(bswap32(0x11223344), 0x44332211);
  });
});

for (const { name, skip, kernel } of kernels) {
  describe(`${name} kernel`, { skip }, () => {
    const k = kernel as Kernel;

    it("is loadable", () => {
      assert.ok(kernel, `${name} kernel should load: ${JSON.stringify(status)}`);
      assert.equal(k.name, name);
    });

    it("finds Bitcoin's genesis nonce", () => {
      const header = fromHex(GENESIS);
      const { nonce, bits } = decodeHeader(header);
      const job = prepareHeader(header, bitsToTarget(bits)!);
      assert.equal(findNonce(k, job, nonce - 3000, 6000), nonce);
      assert.equal(findNonce(k, job, nonce + 1, 5000), null);
    });

    it("returns the reference's first hit on 2000 random headers and targets", () => {
      const next = rng(0x6a626321 + name.length);
      for (let i = 0; i < 2000; i++) {
        const header = randomBytes(next, 80);
        // Targets from 2^240 to 2^256: hits every 1 to 65536 nonces, so ranges end both ways.
        const bitsOfTarget = 240 + (next() % 17);
        const target = hashToBigInt(randomBytes(next, 32)) >> BigInt(256 - bitsOfTarget);
        const count = 1 + (next() % 300);
        // Some ranges end exactly at 2^32 - 1 to catch wrap-around in the lane and pair arithmetic.
        const start = i % 10 === 0 ? 2 ** 32 - count : next() >>> 1;
        const job = prepareHeader(header, target);
        assert.equal(
          findNonce(k, job, start, count),
          referenceFind(header, target, start, count),
          `case ${i}: target ${target.toString(16)} range ${start}+${count}`,
        );
      }
    });

    it("accepts a hash equal to the target and refuses one just above it", () => {
      const next = rng(99);
      for (let i = 0; i < 200; i++) {
        const header = randomBytes(next, 80);
        const start = next() >>> 2;
        const pick = next() % 16;
        const exact = hashToBigInt(sha256d(withNonce(header, start + pick)));
        // With target == that hash, no earlier nonce may win unless its hash is smaller too.
        const expected = referenceFind(header, exact, start, 16);
        assert.equal(findNonce(k, prepareHeader(header, exact), start, 16), expected);
        assert.ok(expected !== null && expected <= start + pick);
        const below = referenceFind(header, exact - 1n, start, 16);
        assert.equal(findNonce(k, prepareHeader(header, exact - 1n), start, 16), below);
        assert.notEqual(below, start + pick);
      }
    });

    it("scan reports the first nonce passing the top-word check, for any range length", () => {
      const next = rng(2024);
      for (let i = 0; i < 300; i++) {
        const header = randomBytes(next, 80);
        const start = next();
        const count = Math.min(1 + (next() % 13), 2 ** 32 - start);
        const tops = Array.from({ length: count }, (_, j) => topWord(header, start + j));
        // Use one of the range's own top words as the bound, so hits sit at every lane position.
        const bound = tops[next() % count]!;
        const want = tops.findIndex((t) => t <= bound);
        const work = prepareWork(header, BigInt(bound) << 224n);
        assert.equal(k.scan(work, start, count), want, `case ${i}: start ${start} count ${count}`);
        assert.equal(k.scan(work, start, 0), -1);
      }
    });

    it("a hit it returns satisfies the consensus check", () => {
      const header = encodeHeader({
        version: 1,
        prevHash: new Uint8Array(32).fill(7),
        merkleRoot: new Uint8Array(32).fill(9),
        time: 1795478400,
        bits: 0x1f00ffff,
        nonce: 0,
      });
      const target = bitsToTarget(0x1f00ffff)!;
      const nonce = findNonce(k, prepareHeader(header, target), 0, 1 << 20);
      assert.notEqual(nonce, null);
      assert.ok(hashMeetsTarget(sha256d(withNonce(header, nonce!)), target));
    });
  });
}
