import assert from "node:assert/strict";
import { test } from "node:test";
import { siphash24, siphash48, sipKey } from "../../src/util/siphash.ts";

// The reference implementation's vectors (veorq/SipHash vectors.h, vectors_sip64): key 00..0f, message
// i = bytes 00..(i-1), output as the 8 little-endian bytes of the 64-bit result.
const VECTORS: Record<number, string> = {
  0: "310e0edd47db6f72",
  1: "fd67dc93c539f874",
  2: "5a4fa9d909806c0d",
  3: "2d7efbd796666785",
  4: "b7877127e09427cf",
  5: "8da699cd64557618",
  6: "cee3fe586e46c9cb",
  7: "37d1018bf50002ab",
  8: "6224939a79f5f593",
  9: "b0e4a90bdf82009e",
  10: "f3b9dd94c5bb5d7a",
  11: "a7ad6b22462fb3f4",
  12: "fbe50e86bc8f1e75",
  13: "903d84c02756ea14",
  14: "eef27a8e90ca23f7",
  15: "e545be4961ca29a1",
  16: "db9bc2577fcc2a3f",
  // 32 bytes, a record id's length: Bitcoin Core's hash_tests (SipHashUint256 of 00..1f) gives the same.
  32: "ce7cf2722f512771",
};

const KEY = sipKey(Uint8Array.from({ length: 16 }, (_, i) => i));

function le(hex: string): bigint {
  let v = 0n;
  for (let i = hex.length - 2; i >= 0; i -= 2)
    v = (v << 8n) | BigInt(Number.parseInt(hex.slice(i, i + 2), 16));
  return v;
}

test("siphash24 matches the reference vectors", () => {
  for (const [len, want] of Object.entries(VECTORS)) {
    const msg = Uint8Array.from({ length: Number(len) }, (_, i) => i);
    assert.equal(
      siphash24(KEY, msg).toString(16).padStart(16, "0"),
      le(want).toString(16).padStart(16, "0"),
      `length ${len}`,
    );
  }
});

test("siphash48 is the low 48 bits of siphash24", () => {
  for (let len = 0; len < 40; len++) {
    const msg = Uint8Array.from({ length: len }, (_, i) => (i * 37 + len) & 0xff);
    assert.equal(BigInt(siphash48(KEY, msg)), siphash24(KEY, msg) & 0xffff_ffff_ffffn);
  }
});

test("sipKey refuses a key that is not 16 bytes", () => {
  assert.throws(() => sipKey(new Uint8Array(15)), RangeError);
});
