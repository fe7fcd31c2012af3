import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  bitsToTarget,
  blockWork,
  decodeBits,
  targetToBits,
  targetWork,
} from "../../src/consensus/compact.ts";
import { BlockError } from "../../src/consensus/errors.ts";
import { defineNetwork, regtest } from "../../src/consensus/params.ts";
import { checkBlockSanity } from "../../src/consensus/validate.ts";
import { makeChild } from "../helpers/blocks.ts";

/**
 * Bitcoin Core's src/test/arith_uint256_tests.cpp, "bignum_SetCompact": compact → value, sign and
 * overflow flags, and what GetCompact gives back for the value (null: not checked there).
 */
const SET_COMPACT: {
  bits: number;
  target: bigint;
  negative: boolean;
  overflow: boolean;
  compact: number | null;
}[] = [
  { bits: 0, target: 0n, negative: false, overflow: false, compact: 0 },
  { bits: 0x00123456, target: 0n, negative: false, overflow: false, compact: 0 },
  { bits: 0x01003456, target: 0n, negative: false, overflow: false, compact: 0 },
  { bits: 0x02000056, target: 0n, negative: false, overflow: false, compact: 0 },
  { bits: 0x03000000, target: 0n, negative: false, overflow: false, compact: 0 },
  { bits: 0x04000000, target: 0n, negative: false, overflow: false, compact: 0 },
  { bits: 0x00923456, target: 0n, negative: false, overflow: false, compact: 0 },
  { bits: 0x01803456, target: 0n, negative: false, overflow: false, compact: 0 },
  { bits: 0x02800056, target: 0n, negative: false, overflow: false, compact: 0 },
  { bits: 0x03800000, target: 0n, negative: false, overflow: false, compact: 0 },
  { bits: 0x04800000, target: 0n, negative: false, overflow: false, compact: 0 },
  { bits: 0x01123456, target: 0x12n, negative: false, overflow: false, compact: 0x01120000 },
  // Core: GetCompact(true) of this gives 0x01fe0000; as a magnitude it is 0x7e.
  { bits: 0x01fedcba, target: 0x7en, negative: true, overflow: false, compact: null },
  { bits: 0x02123456, target: 0x1234n, negative: false, overflow: false, compact: 0x02123400 },
  { bits: 0x03123456, target: 0x123456n, negative: false, overflow: false, compact: 0x03123456 },
  { bits: 0x04123456, target: 0x12345600n, negative: false, overflow: false, compact: 0x04123456 },
  { bits: 0x04923456, target: 0x12345600n, negative: true, overflow: false, compact: null },
  { bits: 0x05009234, target: 0x92340000n, negative: false, overflow: false, compact: 0x05009234 },
  {
    bits: 0x20123456,
    target: 0x1234560000000000000000000000000000000000000000000000000000000000n,
    negative: false,
    overflow: false,
    compact: 0x20123456,
  },
  // Overflow: Core does not define the value, so only the flag is checked below.
  { bits: 0xff123456, target: -1n, negative: false, overflow: true, compact: null },
];

describe("compact targets (SetCompact / GetCompact)", () => {
  for (const v of SET_COMPACT) {
    const name = `0x${v.bits.toString(16).padStart(8, "0")}`;
    it(`decodes ${name} as Bitcoin Core does`, () => {
      const d = decodeBits(v.bits);
      assert.equal(d.negative, v.negative, "negative flag");
      assert.equal(d.overflow, v.overflow, "overflow flag");
      if (!v.overflow) assert.equal(d.target, v.target);
      if (v.compact !== null) assert.equal(targetToBits(d.target), v.compact);
    });
  }

  it("never sets the sign bit when encoding: 0x80 becomes 0x02008000", () => {
    assert.equal(targetToBits(0x80n), 0x02008000);
    assert.equal(targetToBits(0x800000n), 0x04008000);
  });

  it("encodes Bitcoin's mainnet limit and block 100000's target to their published bits", () => {
    assert.equal(targetToBits(0xffffn << 208n), 0x1d00ffff);
    assert.equal(targetToBits(0x04864cn << 192n), 0x1b04864c);
  });

  it("rejects negative, zero, overflowing and above-limit bits in bitsToTarget", () => {
    const limit = 0xffffn << 208n; // 0x1d00ffff
    assert.equal(bitsToTarget(0x04923456), null, "negative");
    assert.equal(bitsToTarget(0x01fedcba), null, "negative, small exponent");
    assert.equal(bitsToTarget(0), null, "zero");
    assert.equal(bitsToTarget(0x01003456), null, "zero after shifting the mantissa out");
    assert.equal(bitsToTarget(0xff123456), null, "overflow");
    assert.equal(bitsToTarget(0x23000001), null, "overflow: 0x01 shifted past 256 bits");
    assert.equal(bitsToTarget(0x1d00ffff, limit), limit, "exactly the limit");
    assert.equal(bitsToTarget(0x1d010000, limit), null, "one mantissa step above the limit");
    assert.equal(bitsToTarget(0x1e00ffff, limit), null, "an exponent above the limit");
    assert.equal(bitsToTarget(0x1d00fffe, limit), 0xfffen << 208n);
  });

  it("accepts the largest exponent each mantissa width allows, and not one more", () => {
    // A 1-byte mantissa fits up to exponent 34, 2 bytes up to 33, 3 bytes up to 32.
    assert.equal(bitsToTarget(0x22000001), 1n << 248n);
    assert.equal(bitsToTarget(0x23000001), null);
    assert.equal(bitsToTarget(0x21000100), 1n << 248n);
    assert.equal(bitsToTarget(0x22000100), null);
    assert.equal(bitsToTarget(0x20010000), 1n << 248n);
    assert.equal(bitsToTarget(0x21010000), null);
  });

  it("round-trips any target through GetCompact to its top 3 significant bytes (property)", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: (1n << 256n) - 1n }), (target) => {
        const bits = targetToBits(target);
        const back = bitsToTarget(bits);
        assert.ok(back !== null);
        assert.ok(back <= target, "truncates, never rounds up");
        // What is kept is the target with everything below its top 3 significant bytes zeroed, except
        // when the top byte has its high bit set: then only 2 bytes fit next to the sign bit.
        const bytes = Math.ceil(target.toString(16).length / 2);
        const topBit = (target >> BigInt(8 * (bytes - 1))) & 0x80n;
        const keep = topBit ? 2 : 3;
        const drop = BigInt(8 * Math.max(0, bytes - keep));
        assert.equal(back, (target >> drop) << drop);
        assert.equal(targetToBits(back), bits, "the kept value encodes to the same bits");
      }),
      { numRuns: 2000 },
    );
  });
});

describe("work", () => {
  it("matches Bitcoin's chainwork: 0x100010001 per block at 0x1d00ffff", () => {
    // getblockheader reports chainwork 0x...0100010001 for the genesis block and 0x...0200020002 for block 1.
    assert.equal(blockWork(0x1d00ffff), 0x100010001n);
    assert.equal(2n * blockWork(0x1d00ffff), 0x200020002n);
  });

  it("is 2^256 / (target + 1), so the hardest and easiest targets give the extremes", () => {
    assert.equal(targetWork((1n << 256n) - 1n), 1n);
    assert.equal(targetWork(0n), 1n << 256n);
    assert.equal(targetWork(1n), 1n << 255n);
    // Halving the target (roughly) doubles the work.
    assert.equal(blockWork(0x1c7fff80), 0x200020002n);
  });

  it("is zero for bits that encode no valid target", () => {
    for (const bits of [0, 0x04923456, 0xff123456, 0x01003456]) assert.equal(blockWork(bits), 0n);
  });
});

describe("proof-of-work boundary (sanity check)", () => {
  // A block at regtest's genesis bits, whose target (0x7fffff << 232) is exactly regtest's powLimit.
  const block = makeChild(regtest.genesis, regtest, { mine: false, time: regtest.genesis.header.time + 1 });
  const now = block.header.time;
  const target = bitsToTarget(block.header.bits)!;

  // checkBlockSanity takes the hash from the caller (who computed it from the header bytes): feed
  // it values around the target to test the comparison and the byte order it reads the hash in.
  const hashBytes = (n: bigint): Uint8Array => {
    const out = new Uint8Array(32);
    for (let i = 0; i < 32; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn);
    return out;
  };
  const isCode = (code: string) => (e: unknown) => e instanceof BlockError && e.code === code;

  it("accepts a hash equal to the target", () => {
    assert.equal(target, 0x7fffffn << 232n);
    assert.doesNotThrow(() => checkBlockSanity(block, hashBytes(target), regtest, now));
  });

  it("rejects target + 1 with HIGH_HASH", () => {
    assert.throws(() => checkBlockSanity(block, hashBytes(target + 1n), regtest, now), isCode("HIGH_HASH"));
  });

  it("reads the hash as little-endian: a high last byte is large, a high first byte is small", () => {
    const high = new Uint8Array(32);
    high[31] = 0xff;
    assert.throws(() => checkBlockSanity(block, high, regtest, now), isCode("HIGH_HASH"));
    const low = new Uint8Array(32);
    low[0] = 0xff;
    assert.doesNotThrow(() => checkBlockSanity(block, low, regtest, now));
  });

  it("accepts a target equal to the powLimit and rejects it when the limit is one lower", () => {
    const exact = defineNetwork({ ...regtest, powLimit: target });
    assert.doesNotThrow(() => checkBlockSanity(block, hashBytes(0n), exact, now));
    const lower = defineNetwork({ ...regtest, powLimit: target - 1n });
    assert.throws(() => checkBlockSanity(block, hashBytes(0n), lower, now), isCode("BAD_TARGET"));
  });
});
