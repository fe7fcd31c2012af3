/**
 * The record routes on a real Chain and LevelStore (temporary directory), a real Mempool and real HTTP
 * on 127.0.0.1: submission in every form and every refusal, lookup of pending and confirmed records
 * with a proof that verifies, an author's records page by page, the mempool view and the record events.
 * Blocks are mined by the test helpers and given to the chain; no P2P, no miner.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ApiClient, ApiClientError, type StreamEvent } from "../../src/api/client.ts";
import { type ApiServer, createApiServer } from "../../src/api/server.ts";
import { encodeBlock, recordIds } from "../../src/consensus/block.ts";
import { encodeHeader, hashToHex } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import { buildRecordProof, verifyRecordProof } from "../../src/consensus/proof.ts";
import { type BlockRecord, encodeRecord, recordId, signRecord } from "../../src/consensus/records.ts";
import { Mempool } from "../../src/mempool/index.ts";
import { recordsBackend } from "../helpers/api.ts";
import { makeChild } from "../helpers/blocks.ts";
import { dataRecords, openChain, type TempChain } from "../helpers/net.ts";

const utf8 = new TextEncoder();
const SEED = new Uint8Array(32).fill(3);
const idOf = (r: BlockRecord): string => hashToHex(recordId(r));

interface Served {
  tc: TempChain;
  pool: Mempool;
  app: ApiServer;
  url: string;
  api: ApiClient;
}

async function serve(pool: { maxCount?: number; maxBytes?: number } = {}, rate?: number): Promise<Served> {
  const tc = await openChain(regtest);
  const mempool = new Mempool({
    params: regtest,
    isConfirmed: (id) => tc.chain.isRecordConfirmed(id),
    ...pool,
  });
  const app = await createApiServer({
    backend: recordsBackend(tc.chain, mempool),
    ...(rate ? { records: { ratePerSec: rate, burst: rate } } : {}),
  });
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  return { tc, pool: mempool, app, url, api: new ApiClient(url) };
}

async function post(
  s: Served,
  body: string | Uint8Array,
  type = "application/json",
): Promise<{ status: number; body: Reply; res: Response }> {
  const res = await fetch(`${s.url}/api/records`, {
    method: "POST",
    body,
    headers: { "content-type": type },
  });
  return { status: res.status, body: (await res.json()) as Reply, res };
}

/** An answer of POST /api/records: the acks, or the error shape. */
type Reply = {
  error: { code: string; details: { index?: number; issues: Array<{ path: string[] }> } };
};

const servers: Served[] = [];
after(async () => {
  for (const s of servers) {
    await s.app.close();
    await s.tc.remove();
  }
});

describe("POST /api/records", () => {
  let s: Served;
  before(async () => {
    s = await serve();
    servers.push(s);
  });

  it("admits one JSON record (utf8, hex, base64), signed ones, and octet-stream bytes: 202 { id, status }", async () => {
    const r1 = await post(s, JSON.stringify({ data: "hello" }));
    assert.equal(r1.status, 202);
    assert.deepEqual(r1.body, { id: idOf({ type: "data", data: utf8.encode("hello") }), status: "pending" });
    const hex = await s.api.submitRecords({ data: "00ff", encoding: "hex" });
    assert.equal(hex.id, idOf({ type: "data", data: new Uint8Array([0, 255]) }));
    const b64 = await s.api.submitRecords({ data: "AP8A", encoding: "base64" });
    assert.equal(b64.id, idOf({ type: "data", data: new Uint8Array([0, 255, 0]) }));
    const signed = signRecord(utf8.encode("signed"), SEED);
    const sj = await s.api.submitRecords({
      data: "signed",
      publicKey: Buffer.from(signed.publicKey).toString("hex"),
      signature: Buffer.from(signed.signature).toString("hex"),
    });
    assert.equal(sj.id, idOf(signed));
    const raw = await s.api.submitRecords(new Uint8Array([1, 2, 3]));
    assert.equal(raw.id, idOf({ type: "data", data: new Uint8Array([1, 2, 3]) }));
    assert.equal(s.pool.size, 5);
    // Already known: its current status, not an error, and nothing changes.
    const again = await post(s, JSON.stringify({ data: "hello" }));
    assert.equal(again.status, 202);
    assert.deepEqual(again.body, r1.body);
    assert.equal(s.pool.size, 5);
  });

  it("answers an array with an array, in order", async () => {
    const items = Array.from({ length: 1000 }, (_, i) => ({ data: `batch ${i}` }));
    const before = s.pool.size;
    const acks = await s.api.submitRecords(items);
    assert.equal(acks.length, 1000);
    acks.forEach((a, i) => {
      assert.equal(a.id, idOf({ type: "data", data: utf8.encode(`batch ${i}`) }));
      assert.equal(a.status, "pending");
    });
    assert.equal(s.pool.size, before + 1000);
    assert.deepEqual(
      s.pool.ids(3, s.pool.ids(before)[before - 1]),
      acks.slice(0, 3).map((a) => a.id),
      "arrival order",
    );
  });

  it("refuses bad input whole and changes nothing: 400 schema, 413 size, 422 signature", async () => {
    const before = s.pool.size;
    const tooMany = await post(
      s,
      JSON.stringify(Array.from({ length: 1001 }, (_, i) => ({ data: `x${i}` }))),
    );
    assert.equal(tooMany.status, 400);
    assert.equal(tooMany.body.error.code, "BAD_REQUEST");
    const bad = await post(
      s,
      JSON.stringify([{ data: "fine 1" }, { data: "zz", encoding: "hex" }, { data: 5 }]),
    );
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, "BAD_REQUEST");
    assert.deepEqual(
      bad.body.error.details.issues.map((i) => i.path[0]),
      ["1", "2"],
      "every bad record is named by its position",
    );
    const half = await post(s, JSON.stringify({ data: "ab", publicKey: "00".repeat(32) }));
    assert.equal(half.status, 400);
    const big = await post(
      s,
      JSON.stringify([{ data: "small" }, { data: "a".repeat(regtest.maxRecordSize) }]),
    );
    assert.equal(big.status, 413);
    assert.equal(big.body.error.code, "RECORD_TOO_LARGE");
    assert.equal(big.body.error.details.index, 1);
    const bigRaw = await post(s, new Uint8Array(regtest.maxRecordSize), "application/octet-stream");
    assert.equal(bigRaw.status, 413);
    const forged = signRecord(utf8.encode("forged"), SEED);
    const sig = Buffer.from(forged.signature);
    sig[5]! ^= 1;
    const badSig = await post(
      s,
      JSON.stringify({
        data: "forged",
        publicKey: Buffer.from(forged.publicKey).toString("hex"),
        signature: sig.toString("hex"),
      }),
    );
    assert.equal(badSig.status, 422);
    assert.equal(badSig.body.error.code, "BAD_SIGNATURE");
    // text/plain is what a cross-site form can send: refused unless the client says who it is, and
    // then it fails the schema.
    const text = await post(s, "hello", "text/plain");
    assert.equal(text.status, 403, "a text/plain body without the client header");
    assert.equal(text.body.error.code, "CLIENT_HEADER_REQUIRED");
    const textFromClient = await fetch(`${s.url}/api/records`, {
      method: "POST",
      body: "hello",
      headers: { "content-type": "text/plain", "x-jbc-client": "test" },
    });
    assert.equal(textFromClient.status, 400, "a text/plain body fails the schema");
    assert.equal((await post(s, "null")).status, 400);
    assert.equal((await post(s, '"a string"')).status, 400);
    const notJson = await post(s, "{", "application/json");
    assert.equal(notJson.status, 400);
    assert.equal(notJson.body.error.code, "MALFORMED_JSON");
    assert.equal(s.pool.size, before, "nothing admitted");
  });
});

describe("a full mempool and a flooding client", () => {
  it("answers 503 MEMPOOL_FULL with Retry-After and keeps every accepted record", async () => {
    const s = await serve({ maxCount: 3 });
    servers.push(s);
    const acks = await s.api.submitRecords([{ data: "a" }, { data: "b" }]);
    const full = await post(s, JSON.stringify([{ data: "c" }, { data: "d" }]));
    assert.equal(full.status, 503);
    assert.equal(full.body.error.code, "MEMPOOL_FULL");
    assert.ok(Number(full.res.headers.get("retry-after")) > 0, "Retry-After set");
    assert.equal(s.pool.size, 2, "a batch that cannot fit is refused whole");
    assert.equal((await post(s, JSON.stringify({ data: "c" }))).status, 202);
    const one = await post(s, JSON.stringify({ data: "d" }));
    assert.equal(one.status, 503);
    assert.ok(one.res.headers.get("retry-after"));
    // Known records still answer their status when the pool is full.
    assert.deepEqual(await s.api.submitRecords({ data: "a" }), acks[0]);
    assert.deepEqual(s.pool.ids(10), [
      ...acks.map((a) => a.id),
      idOf({ type: "data", data: utf8.encode("c") }),
    ]);
  });

  it("answers 429 with Retry-After to a client that submits faster than its rate", async () => {
    // 10 a second, a burst of one batch (the least it can be): a loaded machine taking seconds over the first
    // batch refills a few dozen records, not the thousand the second needs.
    const s = await serve({}, 10);
    servers.push(s);
    const batch = (k: number) =>
      JSON.stringify(Array.from({ length: 1000 }, (_, i) => ({ data: `${k}/${i}` })));
    assert.equal((await post(s, batch(1))).status, 202);
    const flood = await post(s, batch(2));
    assert.equal(flood.status, 429);
    assert.equal(flood.body.error.code, "TOO_MANY_REQUESTS");
    assert.ok(Number(flood.res.headers.get("retry-after")) >= 1);
    assert.equal(s.pool.size, 1000);
  });
});

describe("GET /api/records, /api/records/:id, /api/mempool and the record events", () => {
  let s: Served;
  const signedA = signRecord(utf8.encode("first by A"), SEED);
  const signedB = signRecord(utf8.encode("second by A"), SEED);
  const plain: BlockRecord = { type: "data", data: new Uint8Array([0xde, 0xad, 0xbe, 0xef]) };
  const b1 = makeChild(regtest.genesis, regtest, { records: [signedA, plain] });
  const b2 = makeChild(b1, regtest, { records: [signedB] });
  const b3 = makeChild(b2, regtest);
  before(async () => {
    s = await serve();
    servers.push(s);
    for (const b of [b1, b2, b3])
      assert.equal((await s.tc.chain.processBlock(b, encodeBlock(b))).status, "main");
  });

  it("shows a pending record, then 404 for an unknown id", async () => {
    const ack = await s.api.submitRecords({ data: "waiting" });
    const r = await s.api.record(ack.id);
    assert.deepEqual(r, {
      id: ack.id,
      status: "pending",
      record: { type: "data", data: "waiting", encoding: "utf8" },
    });
    await assert.rejects(
      s.api.record("ab".repeat(32)),
      (e: unknown) => e instanceof ApiClientError && e.status === 404 && e.code === "RECORD_NOT_FOUND",
    );
    const bad = await fetch(`${s.url}/api/records/xyz`);
    assert.equal(bad.status, 400);
  });

  it("shows a confirmed record with its block, confirmations and a proof that verifies", async () => {
    const r = await s.api.record(idOf(plain).toUpperCase());
    assert.equal(r.status, "confirmed");
    assert.deepEqual(r.record, { type: "data", data: "3q2+7w==", encoding: "base64" });
    assert.deepEqual(r.block, { hash: s.tc.chain.getEntryAt(1)!.hash, height: 1, time: b1.header.time });
    assert.equal(r.index, 2);
    assert.equal(r.confirmations, 3);
    const v = verifyRecordProof(r.proof!, encodeRecord(plain), { powLimit: regtest.powLimit });
    assert.ok(v.valid, JSON.stringify(v));
    assert.equal(v.id, idOf(plain));
    assert.equal(v.blockHash, r.block!.hash);
    // Another record's bytes do not verify against this proof.
    assert.equal(verifyRecordProof(r.proof!, encodeRecord(signedA)).valid, false);
    // The miner record is found too.
    const miner = await s.api.record(idOf(b2.records[0]!));
    assert.equal(miner.record.type, "miner");
    assert.ok(verifyRecordProof(miner.proof!, encodeRecord(b2.records[0]!)).valid);
    // A record the chain confirms is answered "confirmed" on resubmission.
    const ack = await s.api.submitRecords(new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
    assert.deepEqual(ack, { id: idOf(plain), status: "confirmed" });
  });

  it("pages an author's records newest first", async () => {
    const author = Buffer.from(signedA.publicKey).toString("hex");
    const p1 = await s.api.records(author, { limit: 1 });
    assert.deepEqual(
      p1.records.map((r) => r.id),
      [idOf(signedB)],
    );
    assert.equal(p1.records[0]!.record.type, "signed");
    assert.equal(p1.records[0]!.confirmations, 2);
    assert.equal(p1.next, "2:1");
    const p2 = await s.api.records(author, { limit: 1, before: p1.next! });
    assert.deepEqual(
      p2.records.map((r) => [r.id, r.block.height, r.index]),
      [[idOf(signedA), 1, 1]],
    );
    const p3 = await s.api.records(author, { limit: 5, before: "1:1" });
    assert.deepEqual(p3, { records: [], next: null });
    const none = await s.api.records("00".repeat(32));
    assert.deepEqual(none, { records: [], next: null });
    assert.equal((await fetch(`${s.url}/api/records?author=zz`)).status, 400);
  });

  it("pages the mempool in arrival order", async () => {
    const acks = await s.api.submitRecords([{ data: "m1" }, { data: "m2" }, { data: "m3" }]);
    const all = s.pool.ids(100);
    const v = await s.api.mempool({ limit: 2 });
    assert.equal(v.count, s.pool.size);
    assert.equal(v.bytes, s.pool.bytes);
    assert.ok(v.oldestAgeMs >= 0);
    assert.deepEqual(v.ids, all.slice(0, 2));
    const v2 = await s.api.mempool({ limit: 100, after: v.next! });
    assert.deepEqual(v2.ids, all.slice(2));
    assert.equal(v2.next, null);
    assert.deepEqual(
      all.slice(-3),
      acks.map((a) => a.id),
    );
  });

  it("streams record.pending for admitted records and record.confirmed for each record of a connected block", async () => {
    const events: StreamEvent[] = [];
    const ac = new AbortController();
    const stream = s.api.events((e) => events.push(e), ac.signal);
    const until = async (pred: () => boolean): Promise<void> => {
      for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(pred());
    };
    await until(() => events.some((e) => e.event === "hello"));
    const ack = await s.api.submitRecords({ data: "evented" });
    await until(() => events.some((e) => e.event === "record.pending"));
    const pending = events.find((e) => e.event === "record.pending")!.data as { id: string; type: string };
    assert.equal(pending.id, ack.id);
    assert.equal(pending.type, "data");
    const rec: BlockRecord = { type: "data", data: utf8.encode("evented") };
    const b4 = makeChild(b3, regtest, { records: [rec] });
    await s.tc.chain.processBlock(b4, encodeBlock(b4));
    await until(() => events.some((e) => e.event === "record.confirmed"));
    const c = events.find((e) => e.event === "record.confirmed")!.data as {
      id: string;
      block: { height: number };
      index: number;
    };
    assert.deepEqual([c.id, c.block.height, c.index], [ack.id, 4, 1]);
    assert.equal(
      events.filter((e) => e.event === "record.confirmed").length,
      1,
      "the miner record is not an event",
    );
    ac.abort();
    await stream;
  });
});

describe("GET /api/records/:id in a block of more than 32 records (proofs from the stored upper levels)", () => {
  let s: Served;
  // 300 records: 10 runs of 32 under the stored levels, the last one short; signed ones in two runs.
  const signed = Array.from({ length: 6 }, (_, i) => signRecord(utf8.encode(`big block ${i}`), SEED));
  const records: BlockRecord[] = [...dataRecords(1, 150, 30), ...signed, ...dataRecords(2, 144, 30)];
  const big = makeChild(regtest.genesis, regtest, { records });
  const ids = recordIds(big);
  const header = encodeHeader(big.header);
  before(async () => {
    s = await serve();
    servers.push(s);
    assert.equal((await s.tc.chain.processBlock(big, encodeBlock(big))).status, "main");
  });

  it("answers the proof of every position that the whole block gives, and it verifies", async () => {
    for (let index = 0; index < ids.length; index++) {
      if (index % 7 !== 0 && index < ids.length - 40) continue;
      const r = await s.api.record(hashToHex(ids[index]!));
      assert.equal(r.status, "confirmed");
      assert.equal(r.index, index);
      assert.deepEqual(
        r.proof,
        buildRecordProof(header, ids, index, encodeRecord(big.records[0]!)),
        `position ${index}`,
      );
      const v = verifyRecordProof(r.proof!, encodeRecord(big.records[index]!), {
        powLimit: regtest.powLimit,
      });
      assert.ok(v.valid, JSON.stringify(v));
      assert.equal(r.block?.time, big.header.time);
    }
  });

  it("pages the author's records of the block newest first", async () => {
    const page = await s.api.records(Buffer.from(signed[0]!.publicKey).toString("hex"), { limit: 10 });
    assert.deepEqual(
      page.records.map((r) => [r.id, r.index, r.record.type]),
      signed.map((rec, i) => [idOf(rec), 151 + i, "signed"]).reverse(),
    );
  });
});
