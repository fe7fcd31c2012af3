import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { Block } from "../../src/consensus/block.ts";
import { hashToHex } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import { type BlockRecord, encodeRecord, recordId, signRecord } from "../../src/consensus/records.ts";
import { buildBlock } from "../../src/consensus/template.ts";
import { MAX_CONSECUTIVE_SKIPS, Mempool, type MempoolOptions } from "../../src/mempool/index.ts";

const utf8 = new TextEncoder();
const data = (s: string): BlockRecord => ({ type: "data", data: utf8.encode(s) });
const idOf = (r: BlockRecord) => hashToHex(recordId(r));
const seed = new Uint8Array(32).fill(7);

function pool(opts: Partial<MempoolOptions> = {}): Mempool {
  return new Mempool({ params: regtest, isConfirmed: () => false, ...opts });
}

async function admitAll(mp: Mempool, records: BlockRecord[]): Promise<void> {
  for (const r of records) {
    const res = await mp.admit(r, { kind: "api" });
    assert.ok(res.ok, res.ok ? "" : res.error.message);
  }
}

function blockWith(records: BlockRecord[], height = 1): Block {
  return buildBlock({ prevHash: new Uint8Array(32), height, bits: 0x207fffff, time: 0, miner: "m", records });
}

const ids = (mp: Mempool) => mp.take(Number.MAX_SAFE_INTEGER).map((e) => e.id);

describe("mempool admission", () => {
  it("admits data and signed records, from objects or bytes, under the record's id", async () => {
    const mp = pool();
    const a = await mp.admit(data("a"), { kind: "api" });
    assert.ok(a.ok);
    assert.equal(a.entry.id, idOf(data("a")));
    const signed = signRecord(utf8.encode("signed"), seed);
    const b = await mp.admit(encodeRecord(signed), { kind: "peer", peer: "p1" });
    assert.ok(b.ok);
    assert.equal(b.entry.id, idOf(signed));
    assert.deepEqual(b.entry.source, { kind: "peer", peer: "p1" });
    assert.equal(mp.size, 2);
    assert.equal(mp.bytes, encodeRecord(data("a")).length + encodeRecord(signed).length);
  });

  it("keeps its own copy of the bytes it is given, also from a Buffer", async () => {
    const mp = pool();
    const buf = Buffer.from(encodeRecord(data("mine")));
    const r = await mp.admit(buf, { kind: "peer", peer: "p" });
    assert.ok(r.ok);
    buf.fill(0); // a network layer reusing its receive buffer
    assert.deepEqual(mp.get(idOf(data("mine")))!.bytes, encodeRecord(data("mine")));
  });

  it("holds each record's bytes once, and nothing of the message they came in", async () => {
    // Issue 17's soak: the decoded record had copies of its own beside the pool's bytes, so a full
    // 64 MiB pool held 128 MiB of ArrayBuffers. Now the record's fields are views into the pool's copy.
    const mp = pool();
    const signed = signRecord(utf8.encode("from a large message"), seed);
    const wire = encodeRecord(signed);
    const message = Buffer.alloc(1 << 20); // the record a slice of a larger receive buffer
    message.set(wire, 4096);
    const fromBytes = await mp.admit(message.subarray(4096, 4096 + wire.length), { kind: "peer", peer: "p" });
    const fromObject = await mp.admit(data("an object"), { kind: "api" });
    for (const r of [fromBytes, fromObject]) {
      assert.ok(r.ok);
      const { bytes, record } = r.entry;
      assert.equal(bytes.buffer.byteLength, bytes.length, "the pool's bytes are a buffer of their own");
      assert.ok(record.type !== "miner");
      const fields =
        record.type === "signed" ? [record.data, record.publicKey, record.signature] : [record.data];
      for (const f of fields) assert.equal(f.buffer, bytes.buffer, "the record's fields are views into them");
    }
    assert.ok(fromBytes.ok);
    assert.deepEqual({ ...fromBytes.entry.record }, { ...signed }); // the same record, read back
  });

  it("names each refusal with a code and a penalty, and changes nothing", async () => {
    const confirmed = data("confirmed");
    const mp = pool({ isConfirmed: (id) => id === idOf(confirmed) });
    await admitAll(mp, [data("a")]);
    const signed = signRecord(utf8.encode("x"), seed);
    const forged = { ...signed, data: utf8.encode("y") };
    const cases: Array<[BlockRecord | Uint8Array, string, number]> = [
      [data("a"), "ALREADY_PENDING", 0],
      [confirmed, "ALREADY_CONFIRMED", 0],
      [{ type: "miner", height: 1, extraNonce: 0n, miner: "m" }, "MINER_RECORD", 100],
      [forged, "BAD_SIGNATURE", 100],
      [{ type: "data", data: new Uint8Array(regtest.maxRecordSize) }, "RECORD_TOO_LARGE", 100],
      [new Uint8Array(regtest.maxRecordSize + 1), "RECORD_TOO_LARGE", 100],
      [Uint8Array.of(9, 0), "MALFORMED", 100],
      [Uint8Array.of(1, 5, 1), "MALFORMED", 100],
      [Uint8Array.of(...encodeRecord(data("a")), 0), "MALFORMED", 100],
    ];
    for (const [rec, code, penalty] of cases) {
      const r = await mp.admit(rec, { kind: "peer", peer: "p" });
      assert.equal(r.ok, false, code);
      if (r.ok) continue;
      assert.equal(r.error.code, code);
      assert.equal(r.error.penalty, penalty, code);
    }
    assert.deepEqual(ids(mp), [idOf(data("a"))]);
  });

  it("never throws for arbitrary bytes (property)", async () => {
    const mp = pool();
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        const r = await mp.admit(bytes, { kind: "peer", peer: "fuzz" });
        if (r.ok) assert.deepEqual(r.entry.bytes, bytes);
      }),
      { numRuns: 300 },
    );
  });

  it("rejects with the index's own error when the lookup fails, and admits nothing", async () => {
    const mp = pool({
      isConfirmed: async () => {
        throw new Error("LevelDB is closed");
      },
    });
    await assert.rejects(mp.admit(data("a"), { kind: "api" }), /LevelDB is closed/);
    assert.equal(mp.size, 0);
  });

  it("asks the index again when a block connects during the lookup", async () => {
    const rec = data("racing");
    let confirmed = false;
    let calls = 0;
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const mp = pool({
      isConfirmed: async () => {
        calls++;
        const answer = confirmed; // the index as it was when asked
        if (calls === 1) await gate;
        return answer;
      },
    });
    const pending = mp.admit(rec, { kind: "api" });
    // The block with the record connects while admit waits on the index.
    confirmed = true;
    mp.removeForBlock([idOf(rec)]);
    release();
    const r = await pending;
    assert.equal(r.ok ? "ok" : r.error.code, "ALREADY_CONFIRMED");
    assert.equal(calls, 2);
    assert.equal(mp.size, 0);
  });
});

describe("mempool bounds", () => {
  it("refuses new records when full by count, keeps every accepted one, and takes more after a block", async () => {
    const mp = pool({ maxCount: 3 });
    await admitAll(mp, [data("1"), data("2"), data("3")]);
    const full = await mp.admit(data("4"), { kind: "api" });
    assert.equal(full.ok ? "ok" : full.error.code, "MEMPOOL_FULL");
    assert.equal(full.ok ? -1 : full.error.penalty, 0);
    assert.deepEqual(
      ids(mp),
      ["1", "2", "3"].map((s) => idOf(data(s))),
    );
    assert.equal(mp.removeForBlock([idOf(data("2"))]), 1);
    await admitAll(mp, [data("4")]);
    assert.deepEqual(
      ids(mp),
      ["1", "3", "4"].map((s) => idOf(data(s))),
    );
  });

  it("refuses new records when full by bytes", async () => {
    const size = encodeRecord(data("aaaa")).length; // 6 bytes
    const mp = pool({ maxBytes: 2 * size + 2 });
    await admitAll(mp, [data("aaaa"), data("bbbb")]);
    const r = await mp.admit(data("cccc"), { kind: "api" });
    assert.equal(r.ok ? "ok" : r.error.code, "MEMPOOL_FULL");
    // A smaller record still fits the byte bound.
    await admitAll(mp, [{ type: "data", data: new Uint8Array(0) }]);
    assert.equal(mp.bytes, mp.maxBytes);
  });
});

describe("mempool order and templates", () => {
  it("takes records in arrival order, skipping one that does not fit for later ones that do", async () => {
    const mp = pool();
    const big = { type: "data" as const, data: new Uint8Array(100) };
    await admitAll(mp, [data("a"), big, data("b"), data("c")]);
    const small = encodeRecord(data("a")).length; // 3 bytes
    assert.deepEqual(
      mp.take(3 * small).map((e) => e.id),
      [idOf(data("a")), idOf(data("b")), idOf(data("c"))],
    );
    assert.deepEqual(
      mp.take(small + 102).map((e) => e.id),
      [idOf(data("a")), idOf(big)],
    );
    assert.equal(mp.take(1).length, 0);
    assert.equal(mp.size, 4, "take removes nothing");
    assert.deepEqual(mp.ids(2), [idOf(data("a")), idOf(big)]);
    assert.deepEqual(mp.ids(2, idOf(big)), [idOf(data("b")), idOf(data("c"))]);
  });

  it("removes the records of a connected block", async () => {
    const mp = pool();
    await admitAll(mp, [data("a"), data("b"), data("c")]);
    const removed: string[][] = [];
    mp.on("removed", (list, reason) => {
      assert.equal(reason, "block");
      removed.push(list);
    });
    const block = blockWith([data("b"), data("other")]);
    assert.equal(mp.removeForBlock(block.records.map(idOf)), 1);
    assert.deepEqual(ids(mp), [idOf(data("a")), idOf(data("c"))]);
    assert.deepEqual(removed, [[idOf(data("b"))]]);
  });
});

describe("mempool expiry", () => {
  it("drops records expiryMs after arrival by the injected clock, and frees room", async () => {
    let now = 1_000;
    const mp = pool({ expiryMs: 100, now: () => now, maxCount: 2 });
    await admitAll(mp, [data("old")]);
    now = 1_050;
    await admitAll(mp, [data("new")]);
    assert.equal((await mp.admit(data("third"), { kind: "api" })).ok, false);
    now = 1_099;
    assert.deepEqual(mp.expire(), []);
    assert.equal(mp.stats().oldestAgeMs, 99);
    now = 1_100;
    assert.deepEqual(
      mp.take(1000).map((e) => e.id),
      [idOf(data("new"))],
      "take never offers an expired record",
    );
    // Full by count again? No: the expired one made room.
    await admitAll(mp, [data("third")]);
    now = 1_150;
    assert.deepEqual(mp.expire(), [idOf(data("new"))]);
    assert.deepEqual(ids(mp), [idOf(data("third"))]);
  });
});

describe("mempool reorg", () => {
  it("returns records of disconnected blocks the new branch lacks, in their old order, ahead of the rest", async () => {
    let now = 0;
    const mp = pool({ now: () => now, expiryMs: 1_000, maxCount: 4 });
    const [r1, r2, r3, r4, q] = ["r1", "r2", "r3", "r4", "q"].map(data) as [
      BlockRecord,
      BlockRecord,
      BlockRecord,
      BlockRecord,
      BlockRecord,
    ];
    await admitAll(mp, [r1, r2, r3, r4]);
    // Branch A mines r1 r2 (A1) and r3 (A2); r4 stays pending; p1 and q arrive later.
    const a1 = blockWith([r1, r2], 1);
    const a2 = blockWith([r3], 2);
    mp.removeForBlock(a1.records.map(idOf));
    mp.removeForBlock(a2.records.map(idOf));
    await admitAll(mp, [data("p1"), q]);
    assert.deepEqual(ids(mp), [r4, data("p1"), q].map(idOf));

    // Reorg to branch B, which carries r2 and q but not r1 or r3.
    now = 2_000; // past the records' original expiry: they must come back with a fresh time
    const b1 = blockWith([r2, q], 1);
    const added: string[] = [];
    mp.on("added", (e) => added.push(e.id));
    const back = mp.reorg({ disconnected: [a1, a2], connected: [b1] });
    assert.deepEqual(back, [r1, r3].map(idOf));
    assert.deepEqual(added, back);
    assert.deepEqual(
      mp.expire(),
      [idOf(r4), idOf(data("p1"))],
      "old pending ones expire; returned ones do not",
    );
    assert.deepEqual(ids(mp), [r1, r3].map(idOf));
    for (const e of mp.take(1000)) {
      assert.deepEqual(e.source, { kind: "reorg" });
      // Held once, as admission holds them: not the disconnected block's copy beside the pool's bytes.
      assert.ok(e.record.type === "data" && e.record.data.buffer === e.bytes.buffer);
    }
  });

  it("keeps its bounds after a reorg: pending records make room, then the newest returned ones go", async () => {
    const mp = pool({ maxCount: 2 });
    await admitAll(mp, [data("x")]);
    const removed: Array<[string[], string]> = [];
    mp.on("removed", (ids, reason) => removed.push([ids, reason]));
    const a1 = blockWith([data("y")], 1);
    const a2 = blockWith([data("z")], 2);
    const back = mp.reorg({ disconnected: [a1, a2], connected: [blockWith([], 1)] });
    assert.deepEqual(back, [data("y"), data("z")].map(idOf));
    assert.deepEqual(ids(mp), back, "the pending record made room");
    assert.deepEqual(removed, [[[idOf(data("x"))], "evicted"]]);
    // Returned records are never evicted by newcomers: the pool refuses them until it drains.
    const r = await mp.admit(data("w"), { kind: "api" });
    assert.equal(r.ok ? "ok" : r.error.code, "MEMPOOL_FULL");

    const small = pool({ maxCount: 1 });
    await admitAll(small, [data("x")]);
    const kept = small.reorg({ disconnected: [a1, a2], connected: [blockWith([], 1)] });
    assert.deepEqual(kept, [idOf(data("y"))], "z, of the newest block, did not fit");
    assert.deepEqual(ids(small), kept);
  });
});

describe("mempool take on a nearly full block", () => {
  it("stops after MAX_CONSECUTIVE_SKIPS misfits in a row, and a fitting record resets the count", async () => {
    const mp = pool();
    /** 52-byte records, distinct by their first four bytes. */
    const big = (i: number): BlockRecord => {
      const bytes = new Uint8Array(50);
      new DataView(bytes.buffer).setUint32(0, i, true);
      return { type: "data", data: bytes };
    };
    await admitAll(mp, [data("a")]);
    for (let i = 0; i < MAX_CONSECUTIVE_SKIPS - 1; i++) await admitAll(mp, [big(i)]);
    await admitAll(mp, [data("b")]); // reached: fewer than the limit skipped before it
    for (let i = 0; i < MAX_CONSECUTIVE_SKIPS; i++) await admitAll(mp, [big(MAX_CONSECUTIVE_SKIPS + i)]);
    await admitAll(mp, [data("c")]); // not reached: the limit was hit just before it
    assert.deepEqual(
      mp.take(10).map((e) => e.id),
      [idOf(data("a")), idOf(data("b"))],
    );
  });
});
