/**
 * GET /api/headers and /api/headers/raw on a real node: main-chain headers by height as JSON and as raw
 * bytes (also by Accept), the tip the node claims, the bounds, one chain per answer across a reorg, and
 * the typed client.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ApiClient } from "../../src/api/client.ts";
import { encodeBlock } from "../../src/consensus/block.ts";
import { toHex } from "../../src/consensus/bytes.ts";
import { encodeHeader } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import { JbcNode } from "../../src/node/node.ts";
import { makeChain } from "../helpers/blocks.ts";

const dir = mkdtempSync(join(tmpdir(), "jbc-headers-api-"));
const chain = makeChain(regtest, 30);
let node: JbcNode;
let api: ApiClient;

before(async () => {
  node = await JbcNode.create({ params: regtest, datadir: dir, http: { port: 0 }, p2p: false }, {});
  api = new ApiClient(node.url);
  for (const b of chain.slice(1)) await api.submitBlock(encodeBlock(b));
});
after(async () => {
  await node?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const hexOf = (i: number): string => toHex(encodeHeader(chain[i]!.header));

describe("GET /api/headers", () => {
  it("answers the tip and main-chain headers from a height, as hex", async () => {
    const page = await api.call("getHeaders", { query: { from: 28, count: 5 } });
    assert.equal(page.network, "regtest");
    assert.equal(page.genesis, regtest.genesisHash);
    assert.equal(page.tip.height, 30);
    assert.equal(page.tip.chainWork, String(2 * 31));
    assert.equal(page.from, 28);
    assert.deepEqual(page.headers, [hexOf(28), hexOf(29), hexOf(30)]);
    const tipOnly = await api.call("getHeaders", { query: { count: 0 } });
    assert.deepEqual(tipOnly.headers, []);
    assert.equal(tipOnly.tip.hash, page.tip.hash);
    const past = await api.call("getHeaders", { query: { from: 99 } });
    assert.deepEqual(past.headers, []);
    const all = await api.call("getHeaders", {});
    assert.equal(all.headers.length, 31, "from genesis by default");
  });

  it("answers raw 80-byte headers on /raw and to Accept: application/octet-stream", async () => {
    const raw = await api.call("getRawHeaders", { query: { from: 0, count: 3 } });
    assert.equal(raw.length, 240);
    assert.equal(toHex(raw.subarray(160, 240)), hexOf(2));
    const res = await fetch(`${node.url}/api/headers?from=1&count=2`, {
      headers: { accept: "application/octet-stream" },
    });
    assert.equal(res.headers.get("content-type"), "application/octet-stream");
    const body = new Uint8Array(await res.arrayBuffer());
    assert.equal(toHex(body), hexOf(1) + hexOf(2));
  });

  it("bounds each request: at most 2,000 headers, plain decimal heights", async () => {
    for (const q of ["count=2001", "from=-1", "from=0x10", "count=1e3", "extra=1"]) {
      const res = await fetch(`${node.url}/api/headers?${q}`);
      assert.equal(res.status, 400, q);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, "BAD_REQUEST");
    }
    const raw0 = await fetch(`${node.url}/api/headers/raw?count=0`);
    assert.equal(raw0.status, 400, "raw needs at least one");
  });

  it("serves the new main chain after a reorg", async () => {
    const branch = makeChain(regtest, 3, { from: chain[29]!, miner: "reorg" });
    for (const b of branch.slice(1)) await api.submitBlock(encodeBlock(b));
    const page = await api.call("getHeaders", { query: { from: 29, count: 10 } });
    assert.deepEqual(
      page.headers,
      [chain[29]!, ...branch.slice(1)].map((b) => toHex(encodeHeader(b.header))),
    );
    assert.equal(page.tip.height, 32);
  });
});
