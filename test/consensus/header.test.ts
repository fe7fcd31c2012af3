import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { DecodeError, fromHex, toHex } from "../../src/consensus/bytes.ts";
import {
  decodeHeader,
  encodeHeader,
  HEADER_SIZE,
  hashToHex,
  headerHash,
  hexToHash,
} from "../../src/consensus/header.ts";

// Real Bitcoin mainnet headers (raw 80 bytes) and the hashes block explorers show for them.
const VECTORS = [
  {
    name: "genesis (height 0)",
    raw: "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c",
    hash: "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
    time: 1231006505,
    bits: 0x1d00ffff,
    nonce: 2083236893,
  },
  {
    name: "height 1",
    raw: "010000006fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000982051fd1e4ba744bbbe680e1fee14677ba1a3c3540bf7b1cdb606e857233e0e61bc6649ffff001d01e36299",
    hash: "00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048",
    time: 1231469665,
    bits: 0x1d00ffff,
    nonce: 2573394689,
  },
  {
    name: "height 2",
    raw: "010000004860eb18bf1b1620e37e9490fc8a427514416fd75159ab86688e9a8300000000d5fdcc541e25de1c7a5addedf24858b8bb665c9f36ef744ee42c316022c90f9bb0bc6649ffff001d08d2bd61",
    hash: "000000006a625f06636b8bb6ac7b960a8d03705d1ace08b1a19da3fdcc99ddbd",
    time: 1231469744,
    bits: 0x1d00ffff,
    nonce: 1639830024,
  },
  {
    name: "height 100000",
    raw: "0100000050120119172a610421a6c3011dd330d9df07b63616c2cc1f1cd00200000000006657a9252aacd5c0b2940996ecff952228c3067cc38d4885efb5a4ac4247e9f337221b4d4c86041b0f2b5710",
    hash: "000000000003ba27aa200b1cecaad478d2b00432346c3f1f3986da1afd33e506",
    time: 1293623863,
    bits: 0x1b04864c,
    nonce: 274148111,
  },
];

describe("block header", () => {
  for (const v of VECTORS) {
    it(`decodes, re-encodes and hashes Bitcoin's ${v.name}`, () => {
      const h = decodeHeader(fromHex(v.raw));
      assert.equal(h.time, v.time);
      assert.equal(h.bits, v.bits);
      assert.equal(h.nonce, v.nonce);
      assert.equal(toHex(encodeHeader(h)), v.raw);
      assert.equal(headerHash(h), v.hash);
    });
  }

  it("links consecutive Bitcoin headers through prevHash", () => {
    const one = decodeHeader(fromHex(VECTORS[1]!.raw));
    assert.equal(hashToHex(one.prevHash), VECTORS[0]!.hash);
    assert.deepEqual(hexToHash(VECTORS[0]!.hash), one.prevHash);
  });

  it("copies its hashes even out of a Buffer, so a kept header does not keep the message it came in", () => {
    // A Buffer's slice() is a view: a header read out of a 64 KiB block message kept all of it.
    const message = Buffer.alloc(64 * 1024);
    message.set(fromHex(VECTORS[1]!.raw), 0);
    const h = decodeHeader(message.subarray(0, HEADER_SIZE));
    assert.equal(hashToHex(h.prevHash), VECTORS[0]!.hash);
    for (const field of [h.prevHash, h.merkleRoot]) {
      assert.notEqual(field.buffer, message.buffer);
      assert.ok(field.buffer.byteLength <= 64, `a backing store of ${field.buffer.byteLength} bytes`);
    }
  });

  it("rejects any length other than 80 with a DecodeError", () => {
    for (const n of [0, 1, 79, 81, 160]) {
      assert.throws(() => decodeHeader(new Uint8Array(n)), DecodeError);
    }
  });

  it("round-trips random headers (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: HEADER_SIZE, maxLength: HEADER_SIZE }), (bytes) => {
        assert.deepEqual(encodeHeader(decodeHeader(bytes)), bytes);
      }),
      { numRuns: 2000 },
    );
  });
});
