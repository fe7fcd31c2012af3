import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  type Block,
  blockMerkle,
  decodeBlock,
  encodeBlock,
  MAX_BLOCK_SIZE,
  readBlockPrefix,
  recordOffsets,
} from "../../src/consensus/block.ts";
import { concatBytes, DecodeError, toHex } from "../../src/consensus/bytes.ts";
import { decodeHeader, encodeHeader, HEADER_SIZE } from "../../src/consensus/header.ts";
import { merkleRoot } from "../../src/consensus/merkle.ts";
import { decodeRecord, encodeRecord, recordId } from "../../src/consensus/records.ts";
import { buildBlock } from "../../src/consensus/template.ts";
import { blockArb } from "./arbitraries.ts";

const utf8 = new TextEncoder();

/** Runs a decoder on `bytes`: it must return a value or throw a DecodeError, and nothing else. */
function decodesOrDecodeError(decode: (b: Uint8Array) => unknown, bytes: Uint8Array): void {
  try {
    decode(bytes);
  } catch (e) {
    if (!(e instanceof DecodeError)) throw new Error(`${decode.name} threw ${String(e)} on ${toHex(bytes)}`);
  }
}

const sample: Block = buildBlock({
  prevHash: new Uint8Array(32).fill(0xab),
  height: 42,
  bits: 0x207fffff,
  time: 1_800_000_000,
  miner: "node-1",
  records: [
    { type: "data", data: utf8.encode("hello") },
    { type: "signed", data: utf8.encode("x"), publicKey: new Uint8Array(32), signature: new Uint8Array(64) },
  ],
});

describe("block encoding", () => {
  it("is the 80-byte header, a CompactSize record count, then the records", () => {
    const bytes = encodeBlock(sample);
    const expected = concatBytes(
      encodeHeader(sample.header),
      Uint8Array.of(3),
      ...sample.records.map((r) => encodeRecord(r)),
    );
    assert.equal(toHex(bytes), toHex(expected));
    const header = decodeHeader(bytes.subarray(0, HEADER_SIZE));
    assert.equal(toHex(header.merkleRoot), toHex(sample.header.merkleRoot));
    assert.equal(header.time, sample.header.time);
  });

  it("builds a template whose merkle root commits to the miner record and the given records", () => {
    assert.deepEqual(sample.records[0], { type: "miner", height: 42, extraNonce: 0n, miner: "node-1" });
    assert.equal(toHex(sample.header.merkleRoot), toHex(merkleRoot(sample.records.map(recordId))));
    assert.equal(toHex(blockMerkle(sample).root), toHex(sample.header.merkleRoot));
    assert.equal(sample.header.nonce, 0);
  });

  it("round-trips blocks (property)", () => {
    fc.assert(
      fc.property(blockArb, (block) => {
        const bytes = encodeBlock(block);
        const back = decodeBlock(bytes);
        assert.deepEqual(back, block);
        assert.equal(toHex(encodeBlock(back)), toHex(bytes));
      }),
      { numRuns: 1000 },
    );
  });

  it("round-trips a block with 253 records (three-byte record count)", () => {
    const block = buildBlock({
      prevHash: new Uint8Array(32),
      height: 1,
      bits: 0x207fffff,
      time: 0,
      miner: "",
      records: Array.from({ length: 252 }, (_, i) => ({ type: "data" as const, data: Uint8Array.of(i) })),
    });
    const bytes = encodeBlock(block);
    assert.equal(toHex(bytes.subarray(HEADER_SIZE, HEADER_SIZE + 3)), "fdfd00");
    const back = decodeBlock(bytes);
    assert.deepEqual(back.records, block.records);
    assert.equal(toHex(encodeBlock(back)), toHex(bytes));
  });
});

/** The records of a serialized block as recordOffsets splits it, hex. */
function spans(bytes: Uint8Array): string[] {
  const offsets = recordOffsets(bytes);
  return Array.from({ length: offsets.length - 1 }, (_, i) =>
    toHex(bytes.subarray(offsets[i]!, offsets[i + 1]!)),
  );
}

describe("recordOffsets", () => {
  it("splits a serialized block into exactly its records' encodings (property)", () => {
    fc.assert(
      fc.property(blockArb, (block) => {
        const bytes = encodeBlock(block);
        assert.deepEqual(
          spans(bytes),
          block.records.map((r) => toHex(encodeRecord(r))),
        );
        assert.equal(recordOffsets(bytes).at(-1), bytes.length);
      }),
      { numRuns: 300 },
    );
  });

  it("refuses trailing bytes and a cut record as decodeBlock does", () => {
    const bytes = encodeBlock(sample);
    assert.throws(() => recordOffsets(concatBytes(bytes, Uint8Array.of(0))), DecodeError);
    assert.throws(() => recordOffsets(bytes.subarray(0, bytes.length - 1)), DecodeError);
  });
});

describe("readBlockPrefix", () => {
  it("reads the header and the record count without reading a record (property)", () => {
    fc.assert(
      fc.property(blockArb, (block) => {
        const bytes = encodeBlock(block);
        const prefix = readBlockPrefix(bytes);
        assert.deepEqual(prefix, { header: block.header, count: block.records.length });
      }),
      { numRuns: 100 },
    );
  });

  it("does not read the records: junk after a valid count passes; bytes too few for the count do not", () => {
    const bytes = encodeBlock(sample);
    const junk = bytes.slice();
    junk.fill(0xff, HEADER_SIZE + 1);
    assert.equal(readBlockPrefix(junk).count, sample.records.length);
    assert.throws(() => decodeBlock(junk), DecodeError);
    // 3 records declared need at least 6 bytes after the count.
    const short = concatBytes(encodeHeader(sample.header), Uint8Array.of(3, 1, 0, 1, 0, 1, 0));
    assert.equal(readBlockPrefix(short).count, 3);
    assert.throws(() => readBlockPrefix(short.subarray(0, short.length - 1)), DecodeError);
    assert.throws(() => readBlockPrefix(bytes.subarray(0, HEADER_SIZE)), DecodeError);
    assert.throws(() => readBlockPrefix(new Uint8Array(MAX_BLOCK_SIZE + 1)), DecodeError);
  });
});

describe("block decoding rejects", () => {
  const good = encodeBlock(sample);
  const header = good.subarray(0, HEADER_SIZE);
  const body = good.subarray(HEADER_SIZE + 1);

  const cases: { name: string; bytes: Uint8Array }[] = [
    { name: "an empty input", bytes: new Uint8Array(0) },
    { name: "a bare header (no record count)", bytes: header },
    { name: "a truncated last record", bytes: good.subarray(0, good.length - 1) },
    { name: "a trailing byte", bytes: concatBytes(good, Uint8Array.of(0)) },
    { name: "a count above the records present", bytes: concatBytes(header, Uint8Array.of(4), body) },
    { name: "a count below the records present", bytes: concatBytes(header, Uint8Array.of(2), body) },
    {
      name: "a non-canonical record count (0xfd 0x0003)",
      bytes: concatBytes(header, Uint8Array.of(0xfd, 3, 0), body),
    },
    {
      name: "a record count no block of this size could hold",
      bytes: concatBytes(header, Uint8Array.of(0xfe, 0x00, 0x00, 0x10, 0x00), body),
    },
    { name: "more than MAX_BLOCK_SIZE bytes", bytes: concatBytes(good, new Uint8Array(MAX_BLOCK_SIZE)) },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.throws(
        () => decodeBlock(c.bytes),
        (e: unknown) => e instanceof DecodeError,
      );
    });
  }
});

describe("decoders on hostile input (fuzz)", () => {
  const decoders = [decodeBlock, decodeRecord, decodeHeader];

  it("return a value or throw DecodeError on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        for (const d of decoders) decodesOrDecodeError(d, bytes);
      }),
      { numRuns: 5000 },
    );
  });

  it("return a value or throw DecodeError on arbitrary bytes behind a valid header", () => {
    // Past the header, so the fuzzer exercises the record parsers rather than the length check.
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (tail) => {
        decodesOrDecodeError(decodeBlock, concatBytes(encodeHeader(sample.header), tail));
      }),
      { numRuns: 5000 },
    );
  });

  // Edits of valid encodings reach deep into the parsers: a flipped bit, a cut, extra bytes, a splice.
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
    fc.record({
      kind: fc.constant("extend" as const),
      extra: fc.uint8Array({ minLength: 1, maxLength: 40 }),
    }),
    fc.record({
      kind: fc.constant("splice" as const),
      at: fc.nat(),
      extra: fc.uint8Array({ maxLength: 10 }),
    }),
    fc.record({
      kind: fc.constant("set" as const),
      at: fc.nat(),
      value: fc.constantFrom(0, 0xfc, 0xfd, 0xfe, 0xff),
    }),
  );
  type Mutation =
    | { kind: "flip"; at: number; bit: number }
    | { kind: "truncate"; at: number }
    | { kind: "extend"; extra: Uint8Array }
    | { kind: "splice"; at: number; extra: Uint8Array }
    | { kind: "set"; at: number; value: number };
  function mutate(bytes: Uint8Array, m: Mutation): Uint8Array {
    const out = bytes.slice();
    switch (m.kind) {
      case "flip":
        if (out.length > 0) out[m.at % out.length]! ^= 1 << m.bit;
        return out;
      case "truncate":
        return out.subarray(0, m.at % (out.length + 1));
      case "extend":
        return concatBytes(out, m.extra);
      case "splice": {
        const at = m.at % (out.length + 1);
        return concatBytes(out.subarray(0, at), m.extra, out.subarray(at));
      }
      case "set":
        if (out.length > 0) out[m.at % out.length] = m.value;
        return out;
    }
  }

  it("return a value or throw DecodeError on mutated valid blocks", () => {
    fc.assert(
      fc.property(blockArb, fc.array(mutation, { minLength: 1, maxLength: 4 }), (block, ms) => {
        let bytes = encodeBlock(block);
        for (const m of ms) bytes = mutate(bytes, m);
        decodesOrDecodeError(decodeBlock, bytes);
        decodesOrDecodeError(recordOffsets, bytes);
        // Whatever decodeBlock accepts, recordOffsets splits at the same places.
        let decoded: Block | undefined;
        try {
          decoded = decodeBlock(bytes);
        } catch {}
        if (decoded)
          assert.deepEqual(
            spans(bytes),
            decoded.records.map((r) => toHex(encodeRecord(r))),
          );
        // The same edits applied to each record's own encoding.
        for (const rec of block.records) {
          let r = encodeRecord(rec);
          for (const m of ms) r = mutate(r, m);
          decodesOrDecodeError(decodeRecord, r);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("re-encodes whatever they accept to the same bytes (no two encodings of one block)", () => {
    fc.assert(
      fc.property(blockArb, mutation, (block, m) => {
        const bytes = mutate(encodeBlock(block), m);
        let decoded: Block;
        try {
          decoded = decodeBlock(bytes);
        } catch {
          return;
        }
        assert.equal(toHex(encodeBlock(decoded)), toHex(bytes));
      }),
      { numRuns: 3000 },
    );
  });
});
