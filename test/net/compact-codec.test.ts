/**
 * Compact blocks without a network: the codecs' bounds, and rebuilding a block from a real Mempool with
 * all, some or none of its records pending, a forced short-id collision, and blocktxn answers checked
 * against what was asked.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Block, encodeBlock } from "../../src/consensus/block.ts";
import { sha256d } from "../../src/consensus/hash.ts";
import { regtest } from "../../src/consensus/params.ts";
import { encodeRecord } from "../../src/consensus/records.ts";
import { Mempool } from "../../src/mempool/index.ts";
import {
  decodeBlockTxn,
  decodeCompact,
  decodeRequest,
  encodeBlockTxn,
  encodeCompact,
  encodeRequest,
  MAX_SHORT_IDS,
  shortId,
  shortIdKey,
} from "../../src/net/compact/codec.ts";
import {
  assemble,
  fillMissing,
  makeCompact,
  startReconstruction,
} from "../../src/net/compact/reconstruct.ts";
import { ProtocolError } from "../../src/net/protocols.ts";
import { buildChain, dataRecords } from "../helpers/net.ts";

function blockOf(n: number, size = 100): Block {
  return buildChain(regtest, 1, regtest.genesis, { records: (h) => dataRecords(h, n, size) })[0]!;
}

async function poolWith(block: Block, which: (i: number) => boolean): Promise<Mempool> {
  const pool = new Mempool({ params: regtest, isConfirmed: () => false });
  for (const [i, rec] of block.records.entries()) {
    if (i === 0 || !which(i)) continue;
    const r = await pool.admit(rec, { kind: "api" });
    assert.ok(r.ok, `record ${i} admitted`);
  }
  return pool;
}

const malformed = (err: unknown): boolean => err instanceof ProtocolError && err.offence === "MALFORMED";

describe("compact block codec", () => {
  it("round-trips, and a 1,000-record block's compact form is under 10 KB", () => {
    const block = blockOf(999);
    const c = makeCompact(block);
    const bytes = encodeCompact(c);
    assert.deepEqual(decodeCompact(bytes), c);
    assert.ok(bytes.length < 10_000, `${bytes.length} bytes`);
    assert.ok(encodeBlock(block).length > 100_000);
  });

  it("refuses repeated short ids, too many, and truncation (MALFORMED)", () => {
    const c = makeCompact(blockOf(3));
    assert.throws(() => decodeCompact(encodeCompact({ ...c, shortIds: [5, 6, 5] })), malformed);
    const many = encodeCompact({ ...c, shortIds: [] });
    const v = new DataView(many.buffer);
    v.setUint16(88, MAX_SHORT_IDS + 1, true);
    assert.throws(() => decodeCompact(many), malformed);
    assert.throws(() => decodeCompact(encodeCompact(c).subarray(0, 100)), malformed);
  });

  it("refuses getblocktxn indexes that are empty, zero or not increasing", () => {
    const hash = new Uint8Array(32);
    assert.deepEqual(decodeRequest(encodeRequest({ type: "getblocktxn", hash, indexes: [1, 7] })), {
      type: "getblocktxn",
      hash,
      indexes: [1, 7],
    });
    const bad = encodeRequest({ type: "getblocktxn", hash, indexes: [2, 3] });
    new DataView(bad.buffer).setUint16(37, 2, true);
    assert.throws(() => decodeRequest(bad), malformed);
    assert.throws(() => encodeRequest({ type: "getblocktxn", hash, indexes: [0] }), RangeError);
    assert.throws(() => decodeRequest(Uint8Array.of(1, ...hash, 0, 0)), malformed);
  });
});

describe("reconstruction", () => {
  it("rebuilds the block exactly when every record is pending", async () => {
    const block = blockOf(50);
    const part = startReconstruction(makeCompact(block), await poolWith(block, () => true));
    assert.deepEqual(part.missing, []);
    assert.deepEqual(assemble(part), encodeBlock(block));
  });

  it("names the missing records and rebuilds after a checked blocktxn", async () => {
    const block = blockOf(50);
    const compact = makeCompact(block);
    const part = startReconstruction(compact, await poolWith(block, (i) => i % 3 !== 0));
    assert.deepEqual(
      part.missing,
      Array.from({ length: 16 }, (_, k) => 3 * (k + 1)),
    );
    const records = part.missing.map((i) => encodeRecord(block.records[i]!));
    const answer = encodeBlockTxn(part.hashBytes, records);
    const asked = { hash: part.hashBytes, indexes: part.missing, shortIds: compact.shortIds, key: part.key };
    fillMissing(part, decodeBlockTxn(answer, asked));
    assert.deepEqual(assemble(part), encodeBlock(block));
  });

  it("asks for every record with an empty pool, or none", async () => {
    const block = blockOf(20);
    const empty = new Mempool({ params: regtest, isConfirmed: () => false });
    for (const pool of [empty, undefined]) {
      const part = startReconstruction(makeCompact(block), pool);
      assert.equal(part.missing.length, 20);
    }
  });

  it("a blocktxn with other records, or another count, is MALFORMED", async () => {
    const block = blockOf(10);
    const compact = makeCompact(block);
    const part = startReconstruction(compact, undefined);
    const asked = { hash: part.hashBytes, indexes: part.missing, shortIds: compact.shortIds, key: part.key };
    const recs = block.records.slice(1).map((r) => encodeRecord(r));
    const swapped = [recs[1]!, recs[0]!, ...recs.slice(2)];
    assert.throws(() => decodeBlockTxn(encodeBlockTxn(part.hashBytes, swapped), asked), malformed);
    assert.throws(() => decodeBlockTxn(encodeBlockTxn(part.hashBytes, recs.slice(1)), asked), malformed);
    assert.throws(() => decodeBlockTxn(encodeBlockTxn(new Uint8Array(32), recs), asked), malformed);
  });

  it("a short-id collision with a pending record fails the merkle root instead of making a wrong block", async () => {
    const block = blockOf(10);
    const other = blockOf(11, 90); // records of other bytes: pending, but not in the block
    const pool = await poolWith(other, (i) => i === 4);
    const intruder = sha256d(encodeRecord(other.records[4]!));
    const nonce = 7n;
    const compact = makeCompact(block, () => nonce);
    // Under the chosen key, the pending intruder's short id stands where record 4's is: a collision.
    compact.shortIds[3] = shortId(shortIdKey(compact.header, nonce), intruder);
    const part = startReconstruction(compact, pool);
    assert.equal(part.missing.includes(4), false);
    assert.equal(part.missing.length, 9);
    const rest = part.missing.map((i) => encodeRecord(block.records[i]!));
    fillMissing(part, rest);
    assert.equal(assemble(part), undefined);
  });
});
