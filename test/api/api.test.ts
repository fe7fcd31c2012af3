import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { ApiClient, ApiClientError, type StreamEvent } from "../../src/api/client.ts";
import { LegacyBlock } from "../../src/api/schemas.ts";
import { Chain } from "../../src/chain/chain.ts";
import { encodeBlock } from "../../src/consensus/block.ts";
import { toHex } from "../../src/consensus/bytes.ts";
import { regtest } from "../../src/consensus/params.ts";
import { JbcNode } from "../../src/node/node.ts";
import { chainDir } from "../../src/node/paths.ts";
import { LevelStore } from "../../src/store/level.ts";
import { blockHash, makeChain, makeChild, mineHighHash } from "../helpers/blocks.ts";
import { tempDir } from "../helpers/chain.ts";

/**
 * The HTTP API against a real node: real LevelDB in a temporary directory, real HTTP on 127.0.0.1.
 * The node runs without P2P and without a miner; blocks are mined by the test helpers and posted.
 */

const dir = tempDir("jbc-api-");
let node: JbcNode;
let api: ApiClient;
// Genesis + 6 blocks on the main chain; a 1-block side branch off block 3.
const chain = makeChain(regtest, 6, { spacing: 1 });
const side = makeChild(chain[3]!, regtest, { miner: "side", time: chain[3]!.header.time + 2 });

async function raw(
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; body: unknown; res: Response }> {
  const res = await fetch(`${node.url}${path}`, init);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Non-JSON bodies are returned as text.
  }
  return { status: res.status, body, res };
}

/** Sends raw bytes on a new connection and resolves with everything the server wrote before closing. */
function rawHttp(request: string, waitMs = 2_000, url = node.url): Promise<string> {
  return new Promise((resolve, reject) => {
    const { port } = new URL(url);
    const socket = connect(Number(port), "127.0.0.1");
    let out = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection open: ${JSON.stringify(out)}`));
    }, waitMs);
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => {
      out += d;
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(out);
    });
    socket.write(request);
  });
}

function parseRawResponse(text: string): { status: number; body: unknown } {
  const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
  assert.ok(m, `an HTTP response expected, got ${JSON.stringify(text)}`);
  const i = text.indexOf("\r\n\r\n");
  return { status: Number(m[1]), body: JSON.parse(text.slice(i + 4)) };
}

function assertError(body: unknown, code: string): void {
  assert.ok(
    body && typeof body === "object" && "error" in body,
    `error body expected, got ${JSON.stringify(body)}`,
  );
  const e = (body as { error: { code: unknown; message: unknown } }).error;
  assert.equal(e.code, code);
  assert.equal(typeof e.message, "string");
}

before(async () => {
  // No miner and no P2P: the test decides every block the chain sees.
  node = await JbcNode.create({ params: regtest, datadir: dir, http: { port: 0 }, p2p: false }, {});
  api = new ApiClient(node.url);
});

after(async () => {
  await node?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("HTTP API", () => {
  test("GET /api/status reports the fresh chain", async () => {
    const s = await api.status();
    assert.equal(s.network, "regtest");
    assert.equal(s.tip.height, 0);
    assert.equal(s.tip.hash, regtest.genesisHash);
    assert.equal(s.genesis, regtest.genesisHash);
    assert.equal(s.difficulty, 1);
    assert.equal(s.mining.available, false);
    assert.equal(s.peers, 0);
    assert.equal(s.orphans, 0);
    assert.equal(s.syncing, false);
    assert.match(s.totalWork, /^\d+$/);
  });

  test("POST /api/blocks takes raw bytes and hex JSON; the tip moves", async () => {
    for (let h = 1; h <= 4; h++) {
      const r = await api.submitBlock(encodeBlock(chain[h]!));
      assert.deepEqual(r, { status: "main", hash: blockHash(chain[h]!), height: h });
    }
    // Posted while it ties the tip: a side block nobody asked for keeps its body only while its branch has
    // a chance (docs/protocol.md, "Blocks nobody asked for"); posted at height 6 it would keep its header only.
    const s = await api.submitBlock(encodeBlock(side));
    assert.deepEqual(s, { status: "side", hash: blockHash(side), height: 4 });
    for (let h = 5; h <= 6; h++) {
      const { status, body } = await raw("/api/blocks", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ hex: toHex(encodeBlock(chain[h]!)) }),
      });
      assert.equal(status, 200);
      assert.equal((body as { status: string }).status, "main");
    }
    assert.equal((await api.status()).tip.height, 6);
    const dup = await api.submitBlock(encodeBlock(chain[6]!));
    assert.equal(dup.status, "duplicate");
    assert.equal((await api.submitBlock(encodeBlock(side))).status, "duplicate");
  });

  test("GET /api/blocks pages newest first", async () => {
    const p1 = await api.blocks({ limit: 4 });
    assert.deepEqual(
      p1.blocks.map((b) => b.height),
      [6, 5, 4, 3],
    );
    assert.equal(p1.next, 3);
    assert.equal(p1.tipHeight, 6);
    const b6 = p1.blocks[0]!;
    assert.equal(b6.hash, blockHash(chain[6]!));
    assert.equal(b6.prev, blockHash(chain[5]!));
    assert.equal(b6.miner, "test");
    assert.equal(b6.recordCount, 1);
    assert.equal(b6.sincePrev, 1);
    assert.equal(b6.size, encodeBlock(chain[6]!).length);
    assert.equal(b6.bits, "207fffff");
    const p2 = await api.blocks({ limit: 4, before: p1.next! });
    assert.deepEqual(
      p2.blocks.map((b) => b.height),
      [2, 1, 0],
    );
    assert.equal(p2.next, null);
    assert.equal(p2.blocks[2]!.sincePrev, null);
  });

  test("GET /api/blocks/:id by height and hash, with side children", async () => {
    const byHeight = await api.block(3);
    const byHash = await api.block(blockHash(chain[3]!).toUpperCase());
    assert.deepEqual(byHeight, byHash);
    assert.equal(byHeight.branch, "main");
    assert.equal(byHeight.status, "valid");
    assert.equal(byHeight.confirmations, 4);
    assert.equal(byHeight.header.prevHash, blockHash(chain[2]!));
    assert.equal(byHeight.records[0]!.type, "miner");
    assert.equal(byHeight.records[0]!.index, 0);
    assert.match(byHeight.records[0]!.id, /^[0-9a-f]{64}$/);
    assert.deepEqual(
      byHeight.children.map((c) => [c.hash, c.main]),
      [
        [blockHash(chain[4]!), true],
        [blockHash(side), false],
      ],
    );
    const s = await api.block(blockHash(side));
    assert.equal(s.branch, "side");
    assert.equal(s.confirmations, 0);
    assert.equal(s.miner, "side");
    const g = await api.block(0);
    const text = g.records[1]!;
    assert.equal(text.type, "data");
    assert.ok(text.type === "data" && text.encoding === "utf8" && text.data.startsWith("jbc:"));
  });

  test("GET /api/blocks/:hash/raw returns the serialized block", async () => {
    const { res } = await raw(`/api/blocks/${blockHash(chain[2]!)}/raw`);
    assert.equal(res.headers.get("content-type"), "application/octet-stream");
    const bytes = await api.rawBlock(blockHash(chain[2]!));
    assert.deepEqual(bytes, encodeBlock(chain[2]!));
  });

  test("GET /api/tree shows main and side nodes", async () => {
    const t = await api.tree(5);
    assert.equal(t.tipHeight, 6);
    assert.equal(t.from, 2);
    const sideNode = t.nodes.find((n) => n.hash === blockHash(side));
    assert.ok(sideNode);
    assert.equal(sideNode.main, false);
    assert.equal(sideNode.parent, blockHash(chain[3]!));
    assert.equal(t.nodes.filter((n) => n.main).length, 5);
  });

  test("unknown blocks, bad ids and unknown routes answer with the error shape", async () => {
    const missing = await raw(`/api/blocks/${"ab".repeat(32)}`);
    assert.equal(missing.status, 404);
    assertError(missing.body, "BLOCK_NOT_FOUND");
    const tooHigh = await raw("/api/blocks/999");
    assert.equal(tooHigh.status, 404);
    const badId = await raw("/api/blocks/xyz");
    assert.equal(badId.status, 400);
    assertError(badId.body, "BAD_REQUEST");
    const badQuery = await raw("/api/blocks?limit=0");
    assert.equal(badQuery.status, 400);
    const nope = await raw("/api/nothing-here");
    assert.equal(nope.status, 404);
    assertError(nope.body, "NOT_FOUND");
    const rawMissing = await raw(`/api/blocks/${"cd".repeat(32)}/raw`);
    assert.equal(rawMissing.status, 404);
    assertError(rawMissing.body, "BLOCK_NOT_FOUND");
  });

  test("requests refused before routing (bad URL, long parameter, broken HTTP) have the error shape", async () => {
    const badUrl = await raw("/api/blocks/%ZZ");
    assert.equal(badUrl.status, 400);
    assertError(badUrl.body, "BAD_REQUEST");
    // A parameter over 100 characters still reaches its schema (the router's default would match no route).
    const longParam = await raw(`/api/blocks/${"1".repeat(200)}`);
    assert.equal(longParam.status, 400);
    assertError(longParam.body, "BAD_REQUEST");
    // A header line without a colon never reaches Fastify: Node's parser refuses it.
    const broken = parseRawResponse(
      await rawHttp("GET /api/status HTTP/1.1\r\nHost: localhost\r\nBad Header\r\n\r\n"),
    );
    assert.equal(broken.status, 400);
    assertError(broken.body, "BAD_REQUEST");
    const huge = parseRawResponse(
      await rawHttp(`GET /api/status HTTP/1.1\r\nHost: localhost\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`),
    );
    assert.equal(huge.status, 431);
    assertError(huge.body, "HEADERS_TOO_LARGE");
    assert.equal((await api.status()).tip.height, 6);
  });

  test("a request whose headers or body stop arriving is cut off with 408 REQUEST_TIMEOUT", async () => {
    const slowDir = tempDir("jbc-api-slow-");
    const slow = await JbcNode.create(
      { params: regtest, datadir: slowDir, http: { port: 0, requestTimeoutMs: 300 }, p2p: false },
      {},
    );
    try {
      // A body announced as 1,000 bytes of which 10 ever come (a slow-loris upload).
      const body = parseRawResponse(
        await rawHttp(
          "POST /api/blocks HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\n" +
            `Content-Length: 1000\r\n\r\n${"0".repeat(10)}`,
          3_000,
          slow.url,
        ),
      );
      assert.equal(body.status, 408);
      assertError(body.body, "REQUEST_TIMEOUT");
      // Headers that never end.
      const headers = parseRawResponse(
        await rawHttp("GET /api/status HTTP/1.1\r\nHost: localhost\r\n", 3_000, slow.url),
      );
      assert.equal(headers.status, 408);
      assertError(headers.body, "REQUEST_TIMEOUT");
      // A request that completes in time is unaffected, and so is a long-lived response (SSE).
      const events = await fetch(`${slow.url}/api/events`);
      await new Promise((r) => setTimeout(r, 800));
      const reader = events.body!.getReader();
      const first = await reader.read();
      assert.match(new TextDecoder().decode(first.value), /retry: /);
      await reader.cancel();
      assert.equal((await new ApiClient(slow.url).status()).tip.height, 0);
    } finally {
      await slow.stop();
      rmSync(slowDir, { recursive: true, force: true });
    }
  });

  test("malformed JSON is 400, an oversized body 413, a wrong media type 415", async () => {
    const bad = await raw("/api/blocks", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"hex": ',
    });
    assert.equal(bad.status, 400);
    assertError(bad.body, "MALFORMED_JSON");
    const big = await raw("/api/blocks", {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: new Uint8Array(3 * 1024 * 1024),
    });
    assert.equal(big.status, 413);
    assertError(big.body, "PAYLOAD_TOO_LARGE");
    const bigPeer = await raw("/api/peers", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ addr: "x".repeat(100_000) }),
    });
    assert.equal(bigPeer.status, 413);
    // A text/plain body is what a cross-site form sends: refused first unless the client says who it is.
    const text = await raw("/api/blocks", {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "hi",
    });
    assert.equal(text.status, 403);
    assertError(text.body, "CLIENT_HEADER_REQUIRED");
    const textFromClient = await raw("/api/blocks", {
      method: "POST",
      headers: { "content-type": "text/plain", "x-jbc-client": "test" },
      body: "hi",
    });
    assert.equal(textFromClient.status, 415);
    assertError(textFromClient.body, "UNSUPPORTED_MEDIA_TYPE");
    const badHex = await raw("/api/blocks", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ hex: "zz" }),
    });
    assert.equal(badHex.status, 400);
    assert.equal((await api.status()).tip.height, 6);
  });

  test("an invalid block is 422 with its BlockError code and the tip does not move", async () => {
    const tipBefore = (await api.status()).tip;
    const high = mineHighHash(makeChild(chain[6]!, regtest, { miner: "bad", mine: false }));
    const r1 = await raw("/api/blocks", {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: encodeBlock(high),
    });
    assert.equal(r1.status, 422);
    assertError(r1.body, "HIGH_HASH");
    const wrongHeight = makeChild(chain[6]!, regtest, { miner: "bad", height: 99 });
    await assert.rejects(api.submitBlock(encodeBlock(wrongHeight)), (err: unknown) => {
      assert.ok(err instanceof ApiClientError);
      assert.equal(err.status, 422);
      assert.equal(err.code, "BAD_HEIGHT");
      assert.equal(err.details?.["penalty"], 100);
      return true;
    });
    const garbage = await raw("/api/blocks", {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: new Uint8Array([1, 2, 3]),
    });
    assert.equal(garbage.status, 422);
    assertError(garbage.body, "MALFORMED");
    assert.deepEqual((await api.status()).tip, tipBefore);
  });

  test("GET /blockchain.json streams the main chain in the original's shape", async () => {
    const { res, body } = await raw("/blockchain.json");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /application\/json/);
    assert.equal(res.headers.get("content-length"), null, "streamed, not buffered");
    assert.ok(Array.isArray(body));
    assert.equal(body.length, 7);
    const blocks = body.map((b) => LegacyBlock.parse(b));
    blocks.forEach((b, i) => {
      assert.equal(b.index, String(i));
      assert.equal(b.hash, blockHash(chain[i]!));
      assert.equal(b.prev_hash, i === 0 ? "" : blockHash(chain[i - 1]!));
      assert.equal(b.timestamp, String(chain[i]!.header.time));
      assert.equal(b.nonce, String(chain[i]!.header.nonce));
    });
    assert.equal(blocks[0]!.data, "jbc: JackBlockChain, made real. 2026-11-24");
    assert.equal(blocks[3]!.data, "Mined by test");
    assert.equal(blocks[3]!.miner, "test");
    const viaClient = await api.call("legacyChain");
    assert.equal(viaClient.length, 7);
  });

  test("POST /mined takes a block in the /blockchain.json shape", async () => {
    const next = makeChild(chain[6]!, regtest, {
      miner: "legacy",
      records: [
        { type: "data", data: new TextEncoder().encode("hello from /mined") },
        { type: "data", data: new Uint8Array([0, 159, 255]) },
      ],
    });
    const json = {
      index: "7",
      timestamp: String(next.header.time),
      data: "ignored",
      prev_hash: blockHash(chain[6]!),
      hash: blockHash(next),
      nonce: String(next.header.nonce),
      records: [
        { type: "miner" as const, height: 7, extraNonce: "0", miner: "legacy" },
        { type: "data" as const, data: "hello from /mined", encoding: "utf8" as const },
        { type: "data" as const, data: "009fff", encoding: "hex" as const },
      ],
    };
    const r = await api.call("legacyMined", { body: json });
    assert.deepEqual(r, { confirmed: true, status: "main", hash: blockHash(next) });
    const chainJson = await api.call("legacyChain");
    const last = chainJson[7]!;
    assert.equal(last.data, `hello from /mined\n${new TextDecoder().decode(new Uint8Array([0, 159, 255]))}`);
    assert.deepEqual(last.records, json.records);

    const wrongHash = await raw("/mined", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...json, hash: "00".repeat(32) }),
    });
    assert.equal(wrongHash.status, 400);
    assertError(wrongHash.body, "HASH_MISMATCH");
    const invalid = await raw("/mined", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...json, hash: undefined, nonce: "1", index: "8" }),
    });
    assert.equal(invalid.status, 422);
    const noRecords = await raw("/mined", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...json, records: [] }),
    });
    assert.equal(noRecords.status, 400);
    assert.equal((await api.status()).tip.height, 7);
  });

  test("SSE delivers block and tip events, and forgets a client that leaves", async () => {
    const listenersBefore = node.chain.listenerCount("connected");
    const events: StreamEvent[] = [];
    const ac = new AbortController();
    let hello!: () => void;
    const helloSeen = new Promise<void>((r) => {
      hello = r;
    });
    let gotTip!: () => void;
    const tipSeen = new Promise<void>((r) => {
      gotTip = r;
    });
    const done = api.events((e) => {
      events.push(e);
      if (e.event === "hello") hello();
      if (e.event === "tip") gotTip();
    }, ac.signal);
    await helloSeen;
    assert.equal(node.chain.listenerCount("connected"), listenersBefore + 1);
    const tip = await api.block(7);
    const parent = (await api.call("getRawBlock", { params: { hash: tip.hash } })) as Uint8Array;
    const { decodeBlock } = await import("../../src/consensus/block.ts");
    const next = makeChild(decodeBlock(parent), regtest, { miner: "sse" });
    await api.submitBlock(encodeBlock(next));
    await tipSeen;
    const block = events.find((e) => e.event === "block");
    assert.ok(block);
    assert.equal((block.data as { hash: string }).hash, blockHash(next));
    assert.equal((block.data as { main: boolean }).main, true);
    const tipEv = events.find((e) => e.event === "tip")!.data as { height: number; reorgDepth: number };
    assert.equal(tipEv.height, 8);
    assert.equal(tipEv.reorgDepth, 0);
    ac.abort();
    await done;
    for (let i = 0; i < 50 && node.chain.listenerCount("connected") > listenersBefore; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(node.chain.listenerCount("connected"), listenersBefore);
  });

  test("routes for absent services answer 503; the node keeps serving", async () => {
    await assert.rejects(
      api.startMining(),
      (e: unknown) => e instanceof ApiClientError && e.status === 503 && e.code === "MINING_UNAVAILABLE",
    );
    await assert.rejects(api.p2p(), (e: unknown) => e instanceof ApiClientError && e.code === "P2P_DISABLED");
    assert.deepEqual(await api.peers(), { peers: [] });
    const page = await raw("/");
    assert.equal(page.status, 200);
    assert.match(String(page.body), /explorer|jbc/i);
    assert.equal((await api.status()).tip.height, 8);
  });

  test("changing routes need the token from a non-loopback address", async () => {
    const app = node.httpServer!;
    const anon = await app.inject({ method: "POST", url: "/api/mining/stop", remoteAddress: "192.0.2.7" });
    assert.equal(anon.statusCode, 401);
    assertError(anon.json(), "UNAUTHORIZED");
    const wrong = await app.inject({
      method: "POST",
      url: "/api/mining/stop",
      remoteAddress: "192.0.2.7",
      headers: { authorization: "Bearer nope" },
    });
    assert.equal(wrong.statusCode, 401);
    const ok = await app.inject({
      method: "POST",
      url: "/api/mining/stop",
      remoteAddress: "192.0.2.7",
      headers: { authorization: `Bearer ${node.token}` },
    });
    assert.equal(ok.statusCode, 503, "authorized, then refused because this node has no miner");
    const read = await app.inject({ method: "GET", url: "/api/status", remoteAddress: "192.0.2.7" });
    assert.equal(read.statusCode, 200);
    // Loopback needs no token, but (like every POST) the client header: a web page cannot send it.
    const local = await app.inject({
      method: "POST",
      url: "/api/mining/stop",
      remoteAddress: "127.0.0.1",
      headers: { "x-jbc-client": "test" },
    });
    assert.equal(local.statusCode, 503);
    const bare = await app.inject({ method: "POST", url: "/api/mining/stop", remoteAddress: "127.0.0.1" });
    assert.equal(bare.statusCode, 403);
    assertError(bare.json(), "CLIENT_HEADER_REQUIRED");
  });
});

describe("HTTP API limits", () => {
  test("GET /api/events beyond maxEventStreams gets 503 TOO_MANY_STREAMS; a freed slot opens again", async () => {
    const capDir = tempDir("jbc-api-cap-");
    const capped = await JbcNode.create(
      { params: regtest, datadir: capDir, http: { port: 0, maxEventStreams: 2 }, p2p: false },
      {},
    );
    const streams = [new AbortController(), new AbortController()];
    try {
      for (const ac of streams) {
        const res = await fetch(`${capped.url}/api/events`, { signal: ac.signal });
        assert.equal(res.status, 200);
      }
      const third = await fetch(`${capped.url}/api/events`);
      assert.equal(third.status, 503);
      assertError(await third.json(), "TOO_MANY_STREAMS");
      streams[0]!.abort();
      let status = 0;
      for (let i = 0; i < 50 && status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 20));
        const ac = new AbortController();
        const res = await fetch(`${capped.url}/api/events`, { signal: ac.signal });
        status = res.status;
        ac.abort();
      }
      assert.equal(status, 200, "a closed stream frees its slot");
    } finally {
      for (const ac of streams) ac.abort();
      await capped.stop();
      rmSync(capDir, { recursive: true, force: true });
    }
  });
});

describe("HTTP API limits: /blockchain.json", () => {
  test("at most 8 downloads stream at once (503 TOO_MANY_DOWNLOADS); a closed one frees its slot", async () => {
    // A chain whose JSON (about 3 MB) cannot sit in socket buffers, so readers that do not read stay open.
    const capDir = tempDir("jbc-api-dl-");
    const store = await LevelStore.open(chainDir(capDir), regtest);
    const c = await Chain.open({ params: regtest, store });
    let tip = regtest.genesis;
    const items = [];
    for (let i = 0; i < 1500; i++) {
      // Each record distinct (its first bytes are the height): a chain may hold a record only once.
      const data = new Uint8Array(1000).fill(i & 255);
      new DataView(data.buffer).setUint32(0, i);
      tip = makeChild(tip, regtest, { time: tip.header.time + 1, records: [{ type: "data", data }] });
      items.push({ block: tip });
    }
    const results = await c.processBlocks(items);
    assert.equal(results.filter((r) => !(r instanceof Error) && r.status === "main").length, 1500);
    await c.close();
    await store.close();
    const capped = await JbcNode.create(
      { params: regtest, datadir: capDir, http: { port: 0 }, p2p: false },
      {},
    );
    const { port } = new URL(capped.url);
    const sockets: Socket[] = [];
    try {
      for (let i = 0; i < 8; i++) {
        const s = connect(Number(port), "127.0.0.1");
        s.on("error", () => {});
        s.pause(); // never read: the download stays in flight
        s.write("GET /blockchain.json HTTP/1.1\r\nHost: localhost\r\n\r\n");
        sockets.push(s);
      }
      let res: Response | undefined;
      for (let i = 0; i < 50; i++) {
        res = await fetch(`${capped.url}/blockchain.json`);
        if (res.status === 503) break;
        await res.body?.cancel();
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(res?.status, 503);
      assertError(await res!.json(), "TOO_MANY_DOWNLOADS");
      sockets.shift()!.destroy();
      let ok = 0;
      for (let i = 0; i < 50 && ok !== 200; i++) {
        await new Promise((r) => setTimeout(r, 20));
        const r2 = await fetch(`${capped.url}/blockchain.json`);
        ok = r2.status;
        await r2.body?.cancel();
      }
      assert.equal(ok, 200, "a closed download frees its slot");
    } finally {
      for (const s of sockets) s.destroy();
      await capped.stop();
      rmSync(capDir, { recursive: true, force: true });
    }
  });
});
