import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { type Block, encodeBlock } from "../../src/consensus/block.ts";
import { BlockError, type BlockErrorData } from "../../src/consensus/errors.ts";
import { hashToHex, headerHash, headerHashBytes } from "../../src/consensus/header.ts";
import { merkleRoot } from "../../src/consensus/merkle.ts";
import { defineNetwork, type NetworkParams, regtest } from "../../src/consensus/params.ts";
import { type BlockRecord, recordId, signRecord } from "../../src/consensus/records.ts";
import { checkBlockContext, checkBlockRecords, checkBlockSanity } from "../../src/consensus/validate.ts";
import { makeChild, mineBlock, mineHighHash } from "../helpers/blocks.ts";

const utf8 = new TextEncoder();
const data = (s: string): BlockRecord => ({ type: "data", data: utf8.encode(s) });
const genesis = regtest.genesis;
const seed = new Uint8Array(32).fill(3);

/** A valid block 1 on regtest with a data record and a correctly signed record. */
const good = makeChild(genesis, regtest, { records: [data("a"), signRecord(utf8.encode("signed"), seed)] });
const now = good.header.time;
const hashOf = (b: Block) => headerHashBytes(b.header);
const sanity = (b: Block, params: NetworkParams = regtest, at = now, size?: number) =>
  checkBlockSanity(b, hashOf(b), params, at, size);

/** A block with exactly these records (no miner record added) and a matching merkle root, mined. */
function blockWithRecords(records: BlockRecord[]): Block {
  return mineBlock({
    header: { ...good.header, nonce: 0, merkleRoot: merkleRoot(records.map(recordId)) },
    records,
  });
}

/** Asserts `fn` throws a BlockError with exactly this data, penalty and cacheability. */
function expectBlockError(
  fn: () => unknown,
  expected: BlockErrorData,
  opts: { penalty?: number; cacheable?: boolean } = {},
): BlockError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof BlockError, `expected a BlockError ${expected.code}, got ${String(caught)}`);
  assert.equal(caught.code, expected.code);
  assert.deepEqual(caught.data, expected);
  assert.equal(caught.penalty, opts.penalty ?? 100, "penalty");
  assert.equal(caught.cacheable, opts.cacheable ?? true, "cacheable");
  assert.equal(caught.toJSON().code, expected.code);
  return caught;
}

describe("checkBlockSanity", () => {
  it("accepts a valid block and reports its hash and serialized size", () => {
    const facts = sanity(good);
    assert.equal(facts.hashHex, headerHash(good.header));
    assert.equal(facts.size, encodeBlock(good).length);
    assert.equal(sanity(good, regtest, now, 1234).size, 1234, "uses the caller's size when given");
  });

  describe("BAD_TARGET", () => {
    const cases = [
      { bits: 0x04923456, reason: "encode a negative target" },
      { bits: 0xff123456, reason: "overflow 256 bits" },
      { bits: 0x01003456, reason: "encode a zero target" },
      { bits: 0, reason: "encode a zero target" },
      // 0xffff << 240: a valid 256-bit value, but easier than regtest's limit 0x7fffff << 232.
      { bits: 0x2100ffff, reason: "are easier than the proof-of-work limit" },
    ];
    for (const c of cases) {
      it(`bits 0x${c.bits.toString(16).padStart(8, "0")}: ${c.reason}`, () => {
        const b = makeChild(genesis, regtest, { bits: c.bits, mine: false });
        expectBlockError(() => sanity(b), { code: "BAD_TARGET", bits: c.bits, reason: c.reason });
      });
    }
  });

  it("HIGH_HASH: a header hash above its target", () => {
    const b = mineHighHash(makeChild(genesis, regtest, { mine: false }));
    expectBlockError(() => sanity(b), {
      code: "HIGH_HASH",
      hash: headerHash(b.header),
      target: `7fffff${"00".repeat(29)}`,
    });
  });

  it("TIME_TOO_NEW: time == now + maxFutureDrift passes, one second more fails (penalty 0, not cacheable)", () => {
    assert.equal(regtest.maxFutureDrift, 15);
    assert.doesNotThrow(() => sanity(good, regtest, good.header.time - 15));
    const at = good.header.time - 16;
    const err = expectBlockError(
      () => sanity(good, regtest, at),
      { code: "TIME_TOO_NEW", time: good.header.time, now: at, maxDrift: 15 },
      { penalty: 0, cacheable: false },
    );
    assert.equal(err.hash, headerHash(good.header));
  });

  it("BAD_SIZE: a block one byte over maxBlockSize (not cacheable); exactly at it passes", () => {
    const size = encodeBlock(good).length;
    assert.doesNotThrow(() => sanity(good, defineNetwork({ ...regtest, maxBlockSize: size })));
    const small = defineNetwork({ ...regtest, maxBlockSize: size - 1 });
    expectBlockError(
      () => sanity(good, small),
      { code: "BAD_SIZE", size, max: size - 1, what: "block" },
      { cacheable: false },
    );
    // The caller's byte count is what is checked when given.
    expectBlockError(
      () => sanity(good, regtest, now, regtest.maxBlockSize + 1),
      { code: "BAD_SIZE", size: regtest.maxBlockSize + 1, max: regtest.maxBlockSize, what: "block" },
      { cacheable: false },
    );
  });

  it("BAD_SIZE: a block over maxBlockRecords records (not cacheable), checked before any record; at it passes", () => {
    // `good` holds 3 records (its miner record included).
    assert.doesNotThrow(() => sanity(good, defineNetwork({ ...regtest, maxBlockRecords: 3 })));
    expectBlockError(
      () => sanity(good, defineNetwork({ ...regtest, maxBlockRecords: 2 })),
      { code: "BAD_SIZE", size: 3, max: 2, what: "records" },
      { cacheable: false, penalty: 100 },
    );
    // Before the records are read: a block that would also fail BAD_RECORD fails on its count first.
    const bad = {
      ...good,
      records: [...good.records, { type: "data" as const, data: new Uint8Array(70_000) }],
    };
    expectBlockError(
      () => sanity(bad, defineNetwork({ ...regtest, maxBlockRecords: 3 })),
      { code: "BAD_SIZE", size: 4, max: 3, what: "records" },
      { cacheable: false },
    );
  });

  describe("BAD_MINER_RECORD", () => {
    it("no records at all", () => {
      expectBlockError(() => sanity(blockWithRecords([])), {
        code: "BAD_MINER_RECORD",
        index: 0,
        reason: "first record must be the miner record",
      });
    });
    it("first record is not a miner record", () => {
      expectBlockError(() => sanity(blockWithRecords([data("x")])), {
        code: "BAD_MINER_RECORD",
        index: 0,
        reason: "first record must be the miner record",
      });
    });
    it("a second miner record later in the list", () => {
      const miner = good.records[0]!;
      const second: BlockRecord = { type: "miner", height: 1, extraNonce: 1n, miner: "other" };
      expectBlockError(() => sanity(blockWithRecords([miner, data("x"), second])), {
        code: "BAD_MINER_RECORD",
        index: 2,
        reason: "only the first record may be a miner record",
      });
    });
  });

  describe("BAD_RECORD", () => {
    // A data record encodes as 1 type byte + 3 length bytes + data at these sizes.
    it("a record whose encoding is one byte over maxRecordSize (not cacheable); exactly at it passes", () => {
      assert.equal(regtest.maxRecordSize, 65536);
      const at = makeChild(genesis, regtest, { records: [{ type: "data", data: new Uint8Array(65532) }] });
      assert.doesNotThrow(() => sanity(at));
      const over = makeChild(genesis, regtest, { records: [{ type: "data", data: new Uint8Array(65533) }] });
      expectBlockError(
        () => sanity(over),
        { code: "BAD_RECORD", index: 1, reason: "size 65537 exceeds 65536" },
        { cacheable: false },
      );
    });

    it("a record with fields out of bounds (possible only in a block built locally)", () => {
      const cases: { record: BlockRecord; reason: RegExp }[] = [
        { record: { type: "miner", height: 1, extraNonce: 0n, miner: "x".repeat(65) }, reason: /miner name/ },
        { record: { type: "miner", height: 2 ** 32, extraNonce: 0n, miner: "" }, reason: /height/ },
        {
          record: {
            type: "signed",
            data: new Uint8Array(1),
            publicKey: new Uint8Array(31),
            signature: new Uint8Array(64),
          },
          reason: /32-byte key/,
        },
      ];
      for (const c of cases) {
        const index = c.record.type === "miner" ? 0 : 1;
        const records = good.records.slice();
        records[index] = c.record;
        const b: Block = { header: good.header, records };
        let caught: unknown;
        try {
          sanity(b);
        } catch (e) {
          caught = e;
        }
        assert.ok(caught instanceof BlockError, `a BlockError, not ${String(caught)}`);
        assert.equal(caught.code, "BAD_RECORD");
        assert.equal(caught.data.code === "BAD_RECORD" && caught.data.index, index);
        assert.match(caught.message, c.reason);
        assert.equal(caught.cacheable, false);
      }
    });
  });

  it("BAD_MERKLE_ROOT: records changed under a valid header (not cacheable)", () => {
    const records = [...good.records];
    records[1] = data("b");
    expectBlockError(
      () => sanity({ header: good.header, records }),
      {
        code: "BAD_MERKLE_ROOT",
        expected: hashToHex(merkleRoot(records.map(recordId))),
        actual: hashToHex(good.header.merkleRoot),
      },
      { cacheable: false },
    );
  });

  describe("MUTATED", () => {
    it("CVE-2012-2459: the last record repeated keeps the root and the hash (not cacheable)", () => {
      // miner, a, b has an odd count: repeating b gives the same tree, so the header still matches.
      const three = makeChild(genesis, regtest, { records: [data("a"), data("b")] });
      assert.doesNotThrow(() => sanity(three));
      const mutated: Block = { header: three.header, records: [...three.records, three.records[2]!] };
      expectBlockError(
        () => sanity(mutated),
        { code: "MUTATED", reason: "duplicate hashes paired in the merkle tree" },
        { cacheable: false },
      );
    });

    it("the last two records repeated (six → eight records)", () => {
      const six = makeChild(genesis, regtest, { records: ["a", "b", "c", "d", "e"].map(data) });
      const mutated: Block = {
        header: six.header,
        records: [...six.records, six.records[4]!, six.records[5]!],
      };
      expectBlockError(
        () => sanity(mutated),
        { code: "MUTATED", reason: "duplicate hashes paired in the merkle tree" },
        { cacheable: false },
      );
    });

    it("a record repeated in a position the tree never pairs with itself", () => {
      // miner, a, b, a: pairs (miner, a) and (b, a), so the merkle tree alone does not notice.
      const b = makeChild(genesis, regtest, { records: [data("a"), data("b"), data("a")] });
      expectBlockError(
        () => sanity(b),
        { code: "MUTATED", reason: "duplicate record" },
        { cacheable: false },
      );
    });
  });

  it("checks cheapest first: a block both above its target and from the future is HIGH_HASH", () => {
    const b = mineHighHash(makeChild(genesis, regtest, { mine: false }));
    assert.throws(
      () => sanity(b, regtest, b.header.time - 1000),
      (e: unknown) => e instanceof BlockError && e.code === "HIGH_HASH",
    );
  });

  it("never caches a valid header's hash as invalid because of a tampered body (property)", () => {
    // Whoever relays a block can change its records but not its header. Every such change must be
    // reported with a non-cacheable code, or the real block would be refused when it arrives.
    const base = makeChild(genesis, regtest, { records: ["a", "b", "c", "d"].map(data) });
    const edit = fc.oneof(
      fc.record({ kind: fc.constant("drop" as const), i: fc.nat() }),
      fc.record({ kind: fc.constant("swap" as const), i: fc.nat(), j: fc.nat() }),
      fc.record({ kind: fc.constant("dup" as const), i: fc.nat() }),
      fc.record({
        kind: fc.constant("insert" as const),
        i: fc.nat(),
        miner: fc.boolean(),
      }),
    );
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 3 }), (edits) => {
        const records = base.records.slice();
        for (const e of edits) {
          const n = records.length;
          if (e.kind === "drop" && n > 0) records.splice(e.i % n, 1);
          if (e.kind === "swap" && n > 0) {
            const [i, j] = [e.i % n, e.j % n];
            [records[i], records[j]] = [records[j]!, records[i]!];
          }
          if (e.kind === "dup" && n > 0) records.splice(e.i % n, 0, records[e.i % n]!);
          if (e.kind === "insert") {
            const rec: BlockRecord = e.miner
              ? { type: "miner", height: 1, extraNonce: 9n, miner: "x" }
              : data("z");
            records.splice(e.i % (n + 1), 0, rec);
          }
        }
        try {
          sanity({ header: base.header, records });
        } catch (err) {
          assert.ok(err instanceof BlockError);
          assert.equal(err.cacheable, false, `${err.code} would poison the cache`);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe("checkBlockContext", () => {
  const facts = sanity(good);
  const ctx = { height: 1, expectedBits: good.header.bits, medianTimePast: genesis.header.time };

  it("accepts a block that matches its context", () => {
    assert.doesNotThrow(() => checkBlockContext(good, facts, ctx, regtest));
  });

  it("BAD_BITS: bits other than the difficulty algorithm's", () => {
    expectBlockError(() => checkBlockContext(good, facts, { ...ctx, expectedBits: 0x207ffffe }, regtest), {
      code: "BAD_BITS",
      bits: 0x207fffff,
      expected: 0x207ffffe,
    });
  });

  it("TIME_TOO_OLD: time == median time past fails, one second later passes", () => {
    const t = good.header.time;
    assert.doesNotThrow(() => checkBlockContext(good, facts, { ...ctx, medianTimePast: t - 1 }, regtest));
    expectBlockError(() => checkBlockContext(good, facts, { ...ctx, medianTimePast: t }, regtest), {
      code: "TIME_TOO_OLD",
      time: t,
      medianTimePast: t,
    });
  });

  it("BAD_HEIGHT: miner record height differs from the block's height", () => {
    expectBlockError(() => checkBlockContext(good, facts, { ...ctx, height: 2 }, regtest), {
      code: "BAD_HEIGHT",
      height: 1,
      expected: 2,
    });
  });

  it("CHECKPOINT_MISMATCH: another block at a checkpoint height; the checkpointed one passes", () => {
    const other = "11".repeat(32);
    const pinned = defineNetwork({ ...regtest, checkpoints: new Map([[1, other]]) });
    expectBlockError(() => checkBlockContext(good, facts, ctx, pinned), {
      code: "CHECKPOINT_MISMATCH",
      height: 1,
      hash: facts.hashHex,
      expected: other,
    });
    const matching = defineNetwork({ ...regtest, checkpoints: new Map([[1, facts.hashHex]]) });
    assert.doesNotThrow(() => checkBlockContext(good, facts, ctx, matching));
    // Checkpoints at other heights do not apply.
    const elsewhere = defineNetwork({ ...regtest, checkpoints: new Map([[2, other]]) });
    assert.doesNotThrow(() => checkBlockContext(good, facts, ctx, elsewhere));
  });
});

describe("checkBlockRecords", () => {
  it("accepts correctly signed records", () => {
    assert.doesNotThrow(() => checkBlockRecords(good, headerHash(good.header)));
  });

  it("BAD_SIGNATURE: a signed record whose signature does not verify, with its index", () => {
    const signed = signRecord(utf8.encode("pay me"), seed);
    const forged = { ...signed, data: utf8.encode("pay me 1000") };
    const b = makeChild(genesis, regtest, { records: [data("a"), signed, forged] });
    // Sanity does not look at signatures (deferred to connect time).
    const facts = sanity(b);
    expectBlockError(() => checkBlockRecords(b, facts.hashHex), { code: "BAD_SIGNATURE", index: 3 });
  });
});
