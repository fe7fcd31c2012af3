import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { DecodeError } from "../../src/consensus/bytes.ts";
import {
  COMPACT_HEADER_SIZE,
  CompactChainError,
  decodeCompactChain,
  encodeCompactChain,
  fromBase64,
  splitHeaders,
  toBase64,
} from "../../src/light/index.ts";
import { asertnet, extend, genesisLink, raws } from "../helpers/headers.ts";

/** The light client's byte formats: base64 without Buffer, and the compact header chain. */

describe("base64", () => {
  it("matches Node's base64 both ways, for any bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const text = toBase64(bytes);
        assert.equal(text, Buffer.from(bytes).toString("base64"));
        assert.deepEqual(fromBase64(text), bytes);
      }),
    );
  });

  it("refuses anything but canonical padded base64", () => {
    for (const bad of ["abc", "ab=c", "a===", "ab!=", "QR==", "QUI=x", "QUJD\n"])
      assert.throws(() => fromBase64(bad), DecodeError, bad);
    assert.deepEqual(fromBase64(""), new Uint8Array(0));
  });
});

describe("compact header chains", () => {
  const chain = raws(extend(asertnet, [genesisLink(asertnet)], 12));

  it("round-trips a chain in 80 bytes for the first header and 52 for each after it", () => {
    const c = encodeCompactChain(chain);
    assert.equal(c.length, 80 + COMPACT_HEADER_SIZE * 12);
    assert.deepEqual(decodeCompactChain(c), chain);
    assert.deepEqual(decodeCompactChain(encodeCompactChain(chain.slice(0, 1))), chain.slice(0, 1));
  });

  it("refuses to encode headers that do not follow each other", () => {
    assert.throws(() => encodeCompactChain([chain[0]!, chain[2]!]), /header 1 does not follow/);
    assert.throws(() => encodeCompactChain([]), RangeError);
  });

  it("names the first header that does not link, and a length that is not a chain", () => {
    const c = encodeCompactChain(chain);
    // Any change to header 4 changes its hash: header 5's link no longer matches it.
    const edited = Uint8Array.from(c);
    edited[80 + 3 * COMPACT_HEADER_SIZE + 48] ^= 1; // header 4's time
    assert.throws(
      () => decodeCompactChain(edited),
      (e: unknown) => e instanceof CompactChainError && e.code === "BAD_LINK" && e.index === 5,
    );
    assert.throws(
      () => decodeCompactChain(c.subarray(0, c.length - 1)),
      (e: unknown) => e instanceof CompactChainError && e.code === "MALFORMED",
    );
  });

  it("splits raw headers and refuses a partial one", () => {
    const joined = new Uint8Array(160);
    joined.set(chain[0]!, 0);
    joined.set(chain[1]!, 80);
    assert.deepEqual(splitHeaders(joined), chain.slice(0, 2));
    assert.throws(() => splitHeaders(joined.subarray(0, 159)), DecodeError);
  });
});
