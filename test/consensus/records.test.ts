import assert from "node:assert/strict";
import { createPublicKey, verify } from "node:crypto";
import { describe, it } from "node:test";
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha512 } from "@noble/hashes/sha2.js";
import fc from "fast-check";
import { concatBytes, DecodeError, fromHex, toHex } from "../../src/consensus/bytes.ts";
import { sha256d } from "../../src/consensus/hash.ts";
import {
  type BlockRecord,
  decodeRecord,
  ed25519PublicKey,
  ed25519Verify,
  encodeRecord,
  MAX_RECORD_SIZE,
  recordId,
  type SignedRecord,
  signedMessage,
  signRecord,
  verifyRecordSignature,
} from "../../src/consensus/records.ts";
import { recordArb } from "./arbitraries.ts";

const utf8 = new TextEncoder();

const isDecodeError = (e: unknown) => e instanceof DecodeError;

describe("record encoding", () => {
  it("lays a miner record out as type, u32 height, u64 extra-nonce, CompactSize name", () => {
    const bytes = encodeRecord({ type: "miner", height: 0x01020304, extraNonce: 0x0506070809n, miner: "ab" });
    assert.equal(toHex(bytes), `00${"04030201"}${"0908070605000000"}02${"6162"}`);
  });

  it("lays a data record out as type and CompactSize-prefixed bytes", () => {
    assert.equal(toHex(encodeRecord({ type: "data", data: fromHex("abcdef") })), "0103abcdef");
    assert.equal(toHex(encodeRecord({ type: "data", data: new Uint8Array(0) })), "0100");
  });

  it("lays a signed record out as type, key, CompactSize data, signature", () => {
    const publicKey = new Uint8Array(32).fill(0x11);
    const signature = new Uint8Array(64).fill(0x22);
    const bytes = encodeRecord({ type: "signed", data: fromHex("beef"), publicKey, signature });
    assert.equal(toHex(bytes), `02${"11".repeat(32)}02beef${"22".repeat(64)}`);
  });

  it("uses the CompactSize boundaries 0xfc / 0xfd / 0xffff / 0x10000 for the data length", () => {
    for (const [n, prefix] of [
      [0xfc, "01fc"],
      [0xfd, "01fdfd00"],
      [0xffff, "01fdffff"],
      [0x10000, "01fe00000100"],
    ] as const) {
      const bytes = encodeRecord({ type: "data", data: new Uint8Array(n) });
      assert.equal(toHex(bytes.subarray(0, prefix.length / 2)), prefix, `length ${n}`);
      assert.equal(bytes.length, prefix.length / 2 + n);
      assert.equal((decodeRecord(bytes) as { data: Uint8Array }).data.length, n);
    }
  });

  it("identifies a record by the double SHA-256 of its bytes", () => {
    const rec: BlockRecord = { type: "data", data: utf8.encode("hello") };
    assert.equal(toHex(recordId(rec)), toHex(sha256d(encodeRecord(rec))));
    assert.notEqual(toHex(recordId(rec)), toHex(recordId({ type: "data", data: utf8.encode("hellp") })));
  });

  it("round-trips every record (property)", () => {
    fc.assert(
      fc.property(recordArb, (rec) => {
        const bytes = encodeRecord(rec);
        assert.deepEqual(decodeRecord(bytes), rec);
        assert.equal(toHex(encodeRecord(decodeRecord(bytes))), toHex(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it("keeps a multi-byte miner name exactly, up to 64 bytes", () => {
    const name = "é✓😀".repeat(7); // 2+3+4 = 9 bytes each, 63 in all
    assert.equal(utf8.encode(name).length, 63);
    const rec: BlockRecord = { type: "miner", height: 7, extraNonce: 0n, miner: name };
    assert.deepEqual(decodeRecord(encodeRecord(rec)), rec);
  });

  it("keeps a leading byte-order mark in a miner name, so two encodings never decode to one record", () => {
    // TextDecoder strips a leading U+FEFF unless told not to; then "\uFEFFab" and "ab" would both
    // decode to "ab", and the record id (hashed from the re-encoding) would not match the bytes sent.
    const raw = fromHex("0001000000000000000000000005efbbbf6162");
    const rec = decodeRecord(raw);
    assert.deepEqual(rec, { type: "miner", height: 1, extraNonce: 0n, miner: "\uFEFFab" });
    assert.equal(toHex(encodeRecord(rec)), toHex(raw));
  });

  it("refuses a miner name over 64 bytes both ways", () => {
    const rec: BlockRecord = { type: "miner", height: 1, extraNonce: 0n, miner: "x".repeat(65) };
    assert.throws(() => encodeRecord(rec), isDecodeError);
    const raw = concatBytes(
      fromHex("00010000000000000000000000"),
      Uint8Array.of(65),
      new Uint8Array(65).fill(0x78),
    );
    assert.throws(() => decodeRecord(raw), isDecodeError);
  });

  it("refuses out-of-range miner heights and extra-nonces when encoding", () => {
    for (const height of [-1, 2 ** 32, 1.5]) {
      assert.throws(() => encodeRecord({ type: "miner", height, extraNonce: 0n, miner: "" }), isDecodeError);
    }
    for (const extraNonce of [-1n, 1n << 64n]) {
      assert.throws(() => encodeRecord({ type: "miner", height: 0, extraNonce, miner: "" }), isDecodeError);
    }
  });

  it("refuses signed records whose key or signature has the wrong length when encoding", () => {
    const ok = { type: "signed" as const, data: new Uint8Array(1) };
    assert.throws(
      () => encodeRecord({ ...ok, publicKey: new Uint8Array(31), signature: new Uint8Array(64) }),
      isDecodeError,
    );
    assert.throws(
      () => encodeRecord({ ...ok, publicKey: new Uint8Array(32), signature: new Uint8Array(65) }),
      isDecodeError,
    );
  });

  it("decodes data of exactly MAX_RECORD_SIZE bytes and refuses one more", () => {
    assert.equal(MAX_RECORD_SIZE, 65536);
    const at = encodeRecord({ type: "data", data: new Uint8Array(MAX_RECORD_SIZE) });
    assert.equal((decodeRecord(at) as { data: Uint8Array }).data.length, MAX_RECORD_SIZE);
    const over = encodeRecord({ type: "data", data: new Uint8Array(MAX_RECORD_SIZE + 1) });
    assert.throws(() => decodeRecord(over), isDecodeError);
  });
});

describe("record decoding rejects", () => {
  const cases: { name: string; hex: string }[] = [
    { name: "an empty input", hex: "" },
    { name: "an unknown record type", hex: "0300" },
    { name: "type 0xff", hex: "ff00" },
    { name: "trailing bytes", hex: "0101aa00" },
    { name: "data shorter than its length", hex: "0103aabb" },
    { name: "a truncated miner record", hex: "00010000" },
    { name: "a signed record without a signature", hex: `02${"11".repeat(32)}00` },
    // CompactSize must use the shortest form (Bitcoin's ReadCompactSize "non-canonical").
    { name: "length 3 written as 0xfd 0x0003", hex: "01fd0300aabbcc" },
    { name: "length 0xfc written as 0xfd 0x00fc", hex: `01fdfc00${"00".repeat(0xfc)}` },
    { name: "length 3 written as 0xfe 0x00000003", hex: "01fe03000000aabbcc" },
    { name: "length 0xffff written as 0xfe", hex: `01feffff0000${"00".repeat(0xffff)}` },
    { name: "length 3 written as 0xff (64-bit)", hex: "01ff0300000000000000aabbcc" },
    { name: "a 64-bit length", hex: "01ff0000000001000000" },
    { name: "a non-canonical miner-name length", hex: "00010000000000000000000000fd0100" },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.throws(() => decodeRecord(fromHex(c.hex)), isDecodeError);
    });
  }

  it("accepts the shortest forms at each boundary (0xfc in one byte, 0xfd in three)", () => {
    assert.doesNotThrow(() => decodeRecord(fromHex(`01fc${"00".repeat(0xfc)}`)));
    assert.doesNotThrow(() => decodeRecord(fromHex(`01fdfd00${"00".repeat(0xfd)}`)));
    assert.doesNotThrow(() => decodeRecord(fromHex(`01fe00000100${"00".repeat(0x10000)}`)));
  });

  const badUtf8: { name: string; hex: string }[] = [
    { name: "a lone 0xff", hex: "ff" },
    { name: "a continuation byte with no lead", hex: "80" },
    { name: "a lead byte followed by ASCII", hex: "c328" },
    { name: "an overlong '/' (0xc0 0xaf)", hex: "c0af" },
    { name: "an encoded surrogate (U+D800)", hex: "eda080" },
    { name: "a code point above U+10FFFF", hex: "f4908080" },
    { name: "a truncated 3-byte sequence", hex: "e282" },
  ];
  for (const c of badUtf8) {
    it(`a miner name that is not UTF-8: ${c.name}`, () => {
      const name = fromHex(c.hex);
      const raw = concatBytes(fromHex("00010000000000000000000000"), Uint8Array.of(name.length), name);
      assert.throws(
        () => decodeRecord(raw),
        (e: unknown) => isDecodeError(e) && /UTF-8/.test(String(e)),
      );
    });
  }
});

const seedArb = fc.uint8Array({ minLength: 32, maxLength: 32 });
const dataArb = fc.uint8Array({ minLength: 1, maxLength: 200 });
const flip = (bytes: Uint8Array, bit: number) => {
  const out = bytes.slice();
  const i = Math.floor(bit / 8) % out.length;
  out[i] = out[i]! ^ (1 << (bit % 8));
  return out;
};

describe("signed records", () => {
  // RFC 8032 section 7.1, TEST 1 and TEST 2: secret key (seed) → public key.
  it("derives RFC 8032's public keys from their seeds", () => {
    assert.equal(
      toHex(ed25519PublicKey(fromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))),
      "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    );
    assert.equal(
      toHex(ed25519PublicKey(fromHex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"))),
      "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    );
  });

  it("signs 'jbc record v1\\n' || data, as an independent ed25519 (noble) computes it", () => {
    const seed = fromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
    const data = utf8.encode("hello, chain");
    const rec = signRecord(data, seed);
    const message = concatBytes(utf8.encode("jbc record v1\n"), data);
    assert.equal(toHex(signedMessage(data)), toHex(message));
    assert.equal(toHex(rec.signature), toHex(ed25519.sign(message, seed)));
    assert.ok(ed25519.verify(rec.signature, message, rec.publicKey));
    // A signature over the bare data (no domain tag) must not verify as a record signature.
    assert.equal(verifyRecordSignature({ ...rec, signature: ed25519.sign(data, seed) }), false);
  });

  it("verifies what it signs, also after an encode/decode round trip (property)", () => {
    fc.assert(
      fc.property(seedArb, dataArb, (seed, data) => {
        const rec = signRecord(data, seed);
        assert.equal(verifyRecordSignature(rec), true);
        assert.equal(verifyRecordSignature(decodeRecord(encodeRecord(rec)) as SignedRecord), true);
      }),
      { numRuns: 200 },
    );
  });

  it("fails after one flipped bit in the data, the key or the signature (property)", () => {
    fc.assert(
      fc.property(
        seedArb,
        dataArb,
        fc.nat(),
        fc.constantFrom("data", "publicKey", "signature"),
        (seed, data, bit, field) => {
          const rec = signRecord(data, seed);
          const bad: SignedRecord = { ...rec, [field]: flip(rec[field], bit) };
          assert.equal(verifyRecordSignature(bad), false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("returns false, never throws, for malformed keys and signatures", () => {
    const rec = signRecord(utf8.encode("x"), new Uint8Array(32).fill(7));
    for (const publicKey of [
      new Uint8Array(0),
      new Uint8Array(31),
      new Uint8Array(33),
      new Uint8Array(32).fill(0xff),
    ]) {
      assert.equal(verifyRecordSignature({ ...rec, publicKey }), false, `key of ${publicKey.length} bytes`);
    }
    for (const signature of [new Uint8Array(0), rec.signature.subarray(0, 63), new Uint8Array(64)]) {
      assert.equal(
        verifyRecordSignature({ ...rec, signature }),
        false,
        `signature of ${signature.length} bytes`,
      );
    }
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (publicKey) => {
        assert.equal(verifyRecordSignature({ ...rec, publicKey }), false);
      }),
      { numRuns: 300 },
    );
  });
});

describe("ed25519 rule: the same answers as node:crypto (OpenSSL) on the edge cases", () => {
  const SPKI = Buffer.from("302a300506032b6570032100", "hex");
  const openssl = (sig: Uint8Array, msg: Uint8Array, pub: Uint8Array): boolean => {
    try {
      const key = createPublicKey({ key: Buffer.concat([SPKI, pub]), format: "der", type: "spki" });
      return verify(null, msg, key, sig);
    } catch {
      return false;
    }
  };
  const Point = ed25519.Point;
  const L = Point.Fn.ORDER;
  const P = Point.Fp.ORDER;
  const le = (n: bigint): Uint8Array => {
    const out = new Uint8Array(32);
    for (let i = 0; i < 32; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn);
    return out;
  };
  const num = (b: Uint8Array): bigint => BigInt(`0x${toHex(Uint8Array.from(b).reverse()) || "0"}`);
  /** A signature by scalar `a` under the key bytes `pub` (which need not be [a]B), nonce scalar r. */
  const signAs = (a: bigint, pub: Uint8Array, r: bigint, msg: Uint8Array): Uint8Array => {
    const R = Point.BASE.multiply(r).toBytes();
    const k = num(sha512(concatBytes(R, pub, msg))) % L;
    return concatBytes(R, le((r + k * a) % L));
  };
  const check = (what: string, sig: Uint8Array, msg: Uint8Array, pub: Uint8Array, expected?: boolean) => {
    const want = openssl(sig, msg, pub);
    if (expected !== undefined) assert.equal(want, expected, `${what}: node:crypto`);
    assert.equal(ed25519Verify(sig, msg, pub), want, what);
  };
  // A point of order 8, the generator of the curve's small subgroup.
  const T8 = Point.fromBytes(fromHex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"));

  it("checks the test point is of order 8", () => {
    assert.ok(T8.isSmallOrder() && !T8.is0() && !T8.multiply(4n).is0());
  });

  it("ordinary signatures, and ones with a flipped bit (property)", () => {
    fc.assert(
      fc.property(seedArb, dataArb, fc.nat(511), (seed, msg, bit) => {
        const sig = ed25519.sign(msg, seed);
        const pub = ed25519.getPublicKey(seed);
        check("valid", sig, msg, pub, true);
        check("flipped", flip(sig, bit), msg, pub);
      }),
      { numRuns: 100 },
    );
  });

  it("S at or above the group order is refused", () => {
    const seed = new Uint8Array(32).fill(3);
    const msg = utf8.encode("s");
    const sig = ed25519.sign(msg, seed);
    const pub = ed25519.getPublicKey(seed);
    const s = num(sig.subarray(32));
    check("S + L", concatBytes(sig.subarray(0, 32), le(s + L)), msg, pub, false);
    check("S = L", concatBytes(sig.subarray(0, 32), le(L)), msg, pub, false);
  });

  it("keys of small order, and their non-canonical encodings, verify as OpenSSL lets them", () => {
    const msg = utf8.encode("anything");
    const identity = le(1n);
    for (const [what, pub] of [
      ["identity", identity],
      ["identity, y + p", le(P + 1n)],
      ["identity, x sign bit set", concatBytes(identity.subarray(0, 31), Uint8Array.of(0x80))],
      ["order 8", T8.toBytes()],
      ["order 2", le(P - 1n)],
    ] as const) {
      for (const s of [0n, 1n, 12345n]) {
        // Under a small-order key, [S]B is the whole check: R = [S]B verifies (cofactorless).
        const R = s === 0n ? identity : Point.BASE.multiply(s).toBytes();
        check(`${what}, S=${s}`, concatBytes(R, le(s)), msg, pub);
      }
    }
    // R must be the canonical encoding: the identity written as y = p + 1 is refused.
    check("R non-canonical", concatBytes(le(P + 1n), le(0n)), msg, identity, false);
  });

  it("a key with a small-order part verifies only when the cofactorless equation holds", () => {
    const a = 0x1234567890abcdefn;
    const pub = Point.BASE.multiply(a).add(T8).toBytes();
    let accepted = 0;
    for (let i = 0; i < 64; i++) {
      const msg = utf8.encode(`message ${i}`);
      const sig = signAs(a, pub, 1000n + BigInt(i), msg);
      check(`mixed-order key, message ${i}`, sig, msg, pub);
      if (ed25519Verify(sig, msg, pub)) accepted++;
    }
    // About one in eight (k ≡ 0 mod 8); a cofactored check would accept all 64.
    assert.ok(accepted > 0 && accepted < 32, `${accepted} of 64 accepted`);
  });

  it("R with a small-order part is refused", () => {
    const seed = new Uint8Array(32).fill(5);
    const msg = utf8.encode("torsion");
    const sig = ed25519.sign(msg, seed);
    const pub = ed25519.getPublicKey(seed);
    const R = Point.fromBytes(sig.subarray(0, 32)).add(T8).toBytes();
    check("R + T8", concatBytes(R, sig.subarray(32)), msg, pub, false);
  });
});
