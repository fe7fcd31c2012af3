/**
 * Shares of the pool (src/mempool/shares.ts, docs/ledger-design.md "Shares and eviction"): a source may
 * use free room; once the pool is full a source using less than the source using the most evicts that
 * source's newest records, a source at its part is refused, and templates take every source in turn.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Block } from "../../src/consensus/block.ts";
import { hashToHex } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import { type BlockRecord, encodeRecord, recordId, signRecord } from "../../src/consensus/records.ts";
import { buildBlock } from "../../src/consensus/template.ts";
import { Mempool, type MempoolOptions, type RecordSource } from "../../src/mempool/index.ts";
import { httpClient, sourceShare } from "../../src/mempool/shares.ts";
import { TEMPLATE_QUANTUM } from "../../src/mempool/template.ts";

const utf8 = new TextEncoder();
/** A data record of exactly `size` encoded bytes (size ≥ 3, ≠ 64), distinct by `tag`. */
function rec(tag: string, size = 100): BlockRecord {
  const body = new Uint8Array(size - 2);
  body.set(utf8.encode(tag).subarray(0, body.length));
  return { type: "data", data: body };
}
const idOf = (r: BlockRecord) => hashToHex(recordId(r));
const api = (client: string): RecordSource => ({ kind: "api", client });
const peer = (id: string): RecordSource => ({ kind: "peer", peer: id });

function pool(opts: Partial<MempoolOptions> = {}): Mempool {
  return new Mempool({ params: regtest, isConfirmed: () => false, ...opts });
}

async function fill(
  mp: Mempool,
  source: RecordSource,
  tag: string,
  n: number,
  size = 100,
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await mp.admit(rec(`${tag}${i}`, size), source);
    assert.ok(r.ok, r.ok ? "" : `${tag}${i}: ${r.error.message}`);
    ids.push(r.entry.id);
  }
  return ids;
}

describe("the share a source counts against", () => {
  it("is the IPv4 address, the /64 of an IPv6 address, or the peer id", () => {
    assert.equal(httpClient("10.1.2.3"), "10.1.2.3");
    assert.equal(httpClient("::ffff:10.1.2.3"), "10.1.2.3");
    assert.equal(httpClient("2001:db8:aa:bb:1:2:3:4"), "2001:db8:aa:bb::/64");
    assert.equal(httpClient("2001:db8:aa:bb::99"), "2001:db8:aa:bb::/64", "the same /64, another address");
    assert.equal(httpClient("2001:db8::1"), "2001:db8:0:0::/64");
    assert.equal(httpClient("::1"), "0:0:0:0::/64");
    assert.equal(httpClient(undefined), "unknown");
    assert.equal(sourceShare(api("10.1.2.3")), "api:10.1.2.3");
    assert.equal(sourceShare({ kind: "api" }), "api:local");
    assert.equal(sourceShare(peer("12D3KooWx")), "peer:12D3KooWx");
  });
});

describe("mempool shares", () => {
  it("lets one source fill free room, then makes it give way to another, newest first", async () => {
    const mp = pool({ maxBytes: 10 * 100 });
    const flood = await fill(mp, api("10.0.0.1"), "f", 10);
    assert.equal(mp.bytes, mp.maxBytes, "one source may use all the free room");
    // The flooder gets no more: it uses the most already.
    const more = await mp.admit(rec("f-more"), api("10.0.0.1"));
    assert.equal(more.ok ? "ok" : more.error.code, "MEMPOOL_FULL");

    const evicted: string[] = [];
    mp.on("removed", (ids, reason) => {
      assert.equal(reason, "evicted");
      evicted.push(...ids);
    });
    const honest = await fill(mp, api("10.0.0.2"), "h", 5);
    assert.deepEqual(evicted, flood.slice(5).reverse(), "the flooder's newest records went");
    assert.deepEqual(mp.held(api("10.0.0.1")), { bytes: 500, count: 5 });
    // Now both hold half: the next record from either is refused, the honest one included.
    for (const s of [api("10.0.0.2"), api("10.0.0.1")]) {
      const r = await mp.admit(rec(`again-${sourceShare(s)}`), s);
      assert.equal(r.ok ? "ok" : r.error.code, "MEMPOOL_FULL", sourceShare(s));
    }
    assert.deepEqual(mp.ids(100), [...flood.slice(0, 5), ...honest]);
  });

  it("gives n sources an equal part each when all want more: max-min fairness", async () => {
    const mp = pool({ maxBytes: 30 * 100 });
    await fill(mp, peer("A"), "a", 30);
    await fill(mp, peer("B"), "b", 15);
    await fill(mp, peer("C"), "c", 10);
    for (const p of ["A", "B", "C"]) {
      const r = await mp.admit(rec(`late-${p}`), peer(p));
      assert.equal(r.ok ? "ok" : r.error.code, "MEMPOOL_FULL", p);
    }
    assert.deepEqual(
      ["A", "B", "C"].map((p) => mp.held(peer(p)).count),
      [10, 10, 10],
    );
  });

  it("counts tiny records against the count bound, so they cannot crowd out by number", async () => {
    // 20 records of room by count, plenty by bytes: a source of 3-byte records is at the count bound.
    const mp = pool({ maxBytes: 1_000_000, maxCount: 20 });
    for (let i = 0; i < 20; i++)
      assert.ok((await mp.admit({ type: "data", data: Uint8Array.of(i) }, api("10.0.0.1"))).ok);
    const big = await mp.admit(rec("big", 10_000), api("10.0.0.2"));
    assert.ok(big.ok, "a newcomer of one large record still evicts one tiny record");
    assert.equal(mp.size, 20);
  });

  it("evicts nothing for a record whose signature is bad", async () => {
    const mp = pool({ maxBytes: 4 * 100 });
    await fill(mp, api("10.0.0.1"), "f", 4);
    const signed = signRecord(utf8.encode("signed"), new Uint8Array(32).fill(5));
    const bytes = Uint8Array.from(encodeRecord(signed));
    bytes[bytes.length - 1]! ^= 1;
    const r = await mp.admit(bytes, api("10.0.0.2"));
    assert.equal(r.ok ? "ok" : r.error.code, "BAD_SIGNATURE");
    assert.equal(mp.held(api("10.0.0.1")).count, 4);
  });

  it("says whether a batch could get in (hasRoom), as admit would decide it", async () => {
    const mp = pool({ maxBytes: 10 * 100 });
    assert.equal(mp.hasRoom(api("10.0.0.1"), 10, 1000), true);
    await fill(mp, api("10.0.0.1"), "f", 10);
    assert.equal(mp.hasRoom(api("10.0.0.1"), 1, 100), false, "the source using the most");
    assert.equal(mp.hasRoom(api("10.0.0.2"), 5, 500), true, "half: the flooder keeps the other half");
    assert.equal(mp.hasRoom(api("10.0.0.2"), 6, 600), false, "more than the flooder would keep");
    // As admit decides it record by record.
    await fill(mp, api("10.0.0.2"), "h", 5);
    const sixth = await mp.admit(rec("h5"), api("10.0.0.2"));
    assert.equal(sixth.ok ? "ok" : sixth.error.code, "MEMPOOL_FULL");
  });

  it("never evicts records a reorg returned for a newcomer", async () => {
    const mp = pool({ maxBytes: 4 * 100 });
    const lost = buildBlock({
      prevHash: new Uint8Array(32),
      height: 1,
      bits: 0x207fffff,
      time: 0,
      miner: "m",
      records: [rec("r0"), rec("r1"), rec("r2"), rec("r3")],
    }) as Block;
    assert.equal(mp.reorg({ disconnected: [lost], connected: [] }).length, 4);
    const r = await mp.admit(rec("new"), api("10.0.0.9"));
    assert.equal(r.ok ? "ok" : r.error.code, "MEMPOOL_FULL");
  });
});

describe("templates from shares", () => {
  it("take every source in turn, so a flood does not put a late single record a block back", async () => {
    const mp = pool();
    const flood = await fill(mp, api("10.0.0.1"), "f", 200, 1000);
    const [late] = await fill(mp, api("10.0.0.2"), "late", 1);
    // A block with room for 10 records of 1,000 bytes: the late record is in it.
    const block = mp.take(10_000).map((e) => e.id);
    assert.ok(block.includes(late!), "the late record is in the first block");
    assert.equal(block.length, 10);
    assert.deepEqual(
      block.filter((id) => id !== late),
      flood.slice(0, 9),
      "the flood's records in their order",
    );
  });

  it("share block space by bytes (deficit round robin), records of each source in arrival order", async () => {
    const mp = pool();
    const small = await fill(mp, peer("S"), "s", 100, 100); // 10,000 bytes
    const large = await fill(mp, peer("L"), "l", 10, 4000); // 40,000 bytes
    const taken = mp.take(4 * TEMPLATE_QUANTUM);
    const bytesOf = (ids: string[]) => taken.filter((e) => ids.includes(e.id)).length;
    const s = bytesOf(small) * 100;
    const l = bytesOf(large) * 4000;
    assert.ok(Math.abs(s - l) <= 4000, `small ${s} bytes, large ${l} bytes`);
    const order = (ids: string[]) => taken.map((e) => e.id).filter((id) => ids.includes(id));
    assert.deepEqual(order(small), small.slice(0, order(small).length));
    assert.deepEqual(order(large), large.slice(0, order(large).length));
  });

  it("put the records a reorg returned first, then the rest in turn", async () => {
    const mp = pool();
    const pending = await fill(mp, api("10.0.0.1"), "p", 3);
    const lost = buildBlock({
      prevHash: new Uint8Array(32),
      height: 1,
      bits: 0x207fffff,
      time: 0,
      miner: "m",
      records: [rec("r0"), rec("r1")],
    }) as Block;
    const back = mp.reorg({ disconnected: [lost], connected: [] });
    assert.deepEqual(back, [idOf(rec("r0")), idOf(rec("r1"))]);
    assert.deepEqual(
      mp.take(10_000).map((e) => e.id),
      [...back, ...pending],
    );
  });
});
