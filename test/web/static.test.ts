/**
 * How every node serves the explorer, over real HTTP against real nodes: cache headers, the fallback
 * that makes /block/<hash> a real URL, the page shown when the explorer is not built, and the two routes
 * the explorer adds (GET /api/explorer, GET /api/devnet) with a devnet of three nodes, one of them down.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { DevnetView, ExplorerInfo } from "../../src/api/devnet.ts";
import { regtest } from "../../src/consensus/params.ts";
import type { JbcNode } from "../../src/node/node.ts";
import { waitFor } from "../helpers/wait.ts";
import {
  BlockFactory,
  ensureExplorerBuilt,
  freePort,
  hashOf,
  NodeSet,
  postBlock,
  WEB_ROOT,
} from "./harness.ts";

const nodes = new NodeSet();
let a: JbcNode;
let b: JbcNode;
let bare: JbcNode;
let downUrl: string;

before(async () => {
  ensureExplorerBuilt();
  downUrl = `http://127.0.0.1:${await freePort()}`;
  b = await nodes.start(regtest);
  a = await nodes.start(regtest, { devnetPeers: [b.url, downUrl] });
  // A node whose explorer directory holds no build.
  bare = await nodes.start(regtest, { webRoot: nodes.dir() });
});

after(() => nodes.stopAll());

describe("explorer files", () => {
  test("index.html at / and at client-side routes, revalidated on every load", async () => {
    for (const path of [
      "/",
      "/block/0000000000000000000000000000000000000000000000000000000000000000",
      "/block/12",
    ]) {
      const res = await fetch(`${a.url}${path}`);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get("content-type") ?? "", /^text\/html/, path);
      assert.equal(res.headers.get("cache-control"), "no-cache", path);
      assert.match(await res.text(), /<div id="app">/, path);
    }
  });

  test("hashed assets are cached for a year; a missing asset is a 404, not the page", async () => {
    const js = readdirSync(join(WEB_ROOT, "assets")).find((f) => f.endsWith(".js"));
    assert.ok(js, "the build has a script under assets/");
    const res = await fetch(`${a.url}/assets/${js}`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /javascript/);
    assert.equal(res.headers.get("cache-control"), "public, max-age=31536000, immutable");
    const missing = await fetch(`${a.url}/assets/index-doesnotexist.js`);
    assert.equal(missing.status, 404);
    assert.match(missing.headers.get("content-type") ?? "", /json/);
  });

  test("unknown API paths stay JSON 404s", async () => {
    const res = await fetch(`${a.url}/api/nope`);
    assert.equal(res.status, 404);
    const body = (await res.json()) as { error: { code: string } };
    assert.equal(body.error.code, "NOT_FOUND");
  });

  test("without a build, / tells the user to run npm run build", async () => {
    for (const path of ["/", "/block/5"]) {
      const res = await fetch(`${bare.url}${path}`);
      assert.equal(res.status, 200);
      const text = await res.text();
      assert.match(text, /npm run build/);
      assert.match(text, /\/api\/status/);
    }
  });
});

describe("explorer routes", () => {
  test("GET /api/explorer gives the network's pace", async () => {
    const info = ExplorerInfo.parse(await (await fetch(`${a.url}/api/explorer`)).json());
    assert.equal(info.network, "regtest");
    assert.equal(info.targetSpacing, regtest.targetSpacing);
    assert.equal(info.retargeting, false);
    assert.equal(info.devnet, true);
    const plain = ExplorerInfo.parse(await (await fetch(`${b.url}/api/explorer`)).json());
    assert.equal(plain.devnet, false);
  });

  test("GET /api/devnet compares every sibling's tip with this node's chain", async () => {
    const ask = async (): Promise<DevnetView> =>
      DevnetView.parse(await (await fetch(`${a.url}/api/devnet`)).json());
    // The answer is cached for a moment so many open pages share one round of requests, and a sibling
    // that is slow to answer (a loaded machine) shows as unreachable for that round: ask until b's
    // relation is the expected one, then check the whole answer.
    const relationOfB = (want: string): Promise<DevnetView> =>
      waitFor(
        async () => {
          const v = await ask();
          return v.nodes[1]?.relation === want ? v : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 100, what: `b's relation to be ${want}` },
      );
    const f = new BlockFactory(regtest);
    const common = f.run(regtest.genesisHash, 3, () => ({ miner: "m", dt: 1 }));
    for (const blk of common) for (const n of [a, b]) await postBlock(n.url, blk);

    let v = await relationOfB("same");
    assert.deepEqual(
      v.nodes.map((n) => [n.url, n.relation]),
      [
        [a.url, "self"],
        [b.url, "same"],
        [downUrl, "unreachable"],
      ],
    );
    assert.equal(v.nodes[1]!.height, 3);
    assert.match(v.nodes[2]!.error ?? "", /ECONNREFUSED/);

    // b one block ahead on the same chain, then a two ahead of b.
    const tip = hashOf(common[2]!);
    const next = f.child(tip, { miner: "m", dt: 1 });
    await postBlock(b.url, next);
    v = await relationOfB("ahead");
    assert.equal(v.nodes[1]!.relation, "ahead");
    await postBlock(a.url, next);
    await postBlock(a.url, f.child(hashOf(next), { miner: "m", dt: 1 }));
    v = await relationOfB("behind");
    assert.equal(v.nodes[1]!.relation, "behind");

    // Different blocks at the same height: a fork, until a gets b's heavier branch.
    const theirs = f.run(hashOf(next), 2, () => ({ miner: "other", dt: 2 }));
    for (const blk of theirs) await postBlock(b.url, blk);
    v = await relationOfB("fork");
    assert.equal(v.nodes[1]!.relation, "fork");
    for (const blk of theirs) await postBlock(a.url, blk);
    v = await relationOfB("same");
    assert.equal(v.nodes[1]!.relation, "same");
  });
});
