/**
 * The explorer as a light client (issue 18, item 6), in Chromium against a real node (regtest, real
 * LevelDB) reached through a small HTTP proxy that rewrites some of its answers, as a lying node (or
 * whoever sits between it and the browser) would: the page's Web Worker checks the node's headers from
 * genesis with src/light, shows what it verified, marks the blocks it could not verify, names a node
 * that serves a forged header chain or claims a tip its headers do not bear out, and refuses a record
 * proof whose block is not on the chain the browser verified, although the proof itself checks out.
 */
import assert from "node:assert/strict";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import type { Page } from "playwright-core";
import { toHex } from "../../src/consensus/bytes.ts";
import { encodeHeader, hashToHex } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import { buildRecordProof } from "../../src/consensus/proof.ts";
import { encodeRecord, recordId } from "../../src/consensus/records.ts";
import type { JbcNode } from "../../src/node/node.ts";
import { makeChild, mineHighHash } from "../helpers/blocks.ts";
import { invented } from "../helpers/forgery.ts";
import { BlockFactory, ExplorerSession, hashOf, postBlock, screenshotPath } from "./harness.ts";

const WAIT = { timeout: 15_000 };
const session = new ExplorerSession();
const { nodes, errors: pageErrors } = session;
let page: Page;
let node: JbcNode;
let proxy: Server;
let proxyUrl: string;

const TIP = 30;
const FORGED_FROM = 25;
const f = new BlockFactory(regtest);
const now = Math.floor(Date.now() / 1000);
const blocks = f.run(regtest.genesisHash, TIP, (i) => ({
  miner: "m",
  dt: i === 0 ? now - 120 - regtest.genesis.header.time : 1,
}));
const honest = [regtest.genesis, ...blocks].map((b) => encodeHeader(b.header));
// A header at height 25 that links to block 24 and whose hash is above its target.
const forged = mineHighHash(makeChild(blocks[FORGED_FROM - 2]!, regtest, { mine: false }));
// A block at height 10 that was never on the chain, carrying an invented record: its proof is sound on
// its own (merkle branch, proof of work at regtest's limit), only the header chain can refuse it.
const offChain = f.child(hashOf(blocks[8]!), { miner: "mallory", dt: 7, records: [invented] });
const inventedId = hashToHex(recordId(invented));

type Mode = "honest" | "forged-headers" | "claims-higher" | "forged-proof";
let mode: Mode = "honest";

/** The rewritten answer for a request, or undefined to pass it to the node. */
async function rewrite(url: URL): Promise<{ type: string; body: Uint8Array | string } | undefined> {
  const json = async (): Promise<Record<string, unknown>> =>
    (await (await fetch(`${node.url}${url.pathname}${url.search}`)).json()) as Record<string, unknown>;
  if (mode === "forged-headers" && url.pathname === "/api/headers/raw") {
    const from = Number(url.searchParams.get("from"));
    const count = Number(url.searchParams.get("count"));
    const out: Uint8Array[] = [];
    for (let h = from; h < from + count && h <= FORGED_FROM; h++)
      out.push(h < FORGED_FROM ? honest[h]! : encodeHeader(forged.header));
    return { type: "application/octet-stream", body: Buffer.concat(out) };
  }
  if (mode === "forged-headers" && url.pathname === "/api/headers") {
    const body = await json();
    body["tip"] = { height: TIP + 2, hash: hashOf(forged), chainWork: "999999999" };
    return { type: "application/json", body: JSON.stringify(body) };
  }
  if (mode === "claims-higher" && (url.pathname === "/api/headers" || url.pathname === "/api/status")) {
    const body = await json();
    const tip = body["tip"] as Record<string, unknown>;
    tip["height"] = TIP + 10;
    tip["hash"] = "ab".repeat(32);
    if ("chainWork" in tip) tip["chainWork"] = (BigInt(tip["chainWork"] as string) * 2n).toString();
    return { type: "application/json", body: JSON.stringify(body) };
  }
  if (mode === "forged-proof" && url.pathname === `/api/records/${inventedId}`) {
    const ids = offChain.records.map(recordId);
    const proof = buildRecordProof(encodeHeader(offChain.header), ids, 1, encodeRecord(offChain.records[0]!));
    return {
      type: "application/json",
      body: JSON.stringify({
        id: inventedId,
        status: "confirmed",
        record: { type: "data", data: new TextDecoder().decode(invented.data), encoding: "utf8" },
        block: { hash: hashOf(offChain), height: 10, time: offChain.header.time },
        index: 1,
        confirmations: TIP - 10 + 1,
        proof: { ...proof, header: toHex(encodeHeader(offChain.header)) },
      }),
    };
  }
  return undefined;
}

/** Forwards every request to the node (the event stream included), answering some with `rewrite`. */
function startProxy(target: URL): Promise<Server> {
  const srv = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://proxy");
    rewrite(url).then(
      (r) => {
        if (r) {
          res.writeHead(200, { "content-type": r.type });
          res.end(r.body);
          return;
        }
        const up = request(
          {
            host: target.hostname,
            port: target.port,
            path: req.url,
            method: req.method,
            headers: req.headers,
          },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        up.on("error", () => res.destroy());
        req.pipe(up);
      },
      () => res.destroy(),
    );
  });
  return new Promise((resolve) => srv.listen(0, "127.0.0.1", () => resolve(srv)));
}

before(async () => {
  page = await session.open({ width: 1400, height: 1000 });
  node = await nodes.start(regtest, { minerName: "m" });
  for (const b of blocks) await postBlock(node.url, b);
  proxy = await startProxy(new URL(node.url));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});

after(async () => {
  proxy?.closeAllConnections();
  await new Promise((r) => proxy?.close(r));
  await session.close();
});

const text = async (sel: string): Promise<string> => (await page.textContent(sel)) ?? "";
const row = (h: number): string => `[data-testid=chain-table] tr[data-height="${h}"]`;

describe("the explorer as a light client", () => {
  test("an honest node: the browser verifies every header from genesis and marks each block verified", async () => {
    mode = "honest";
    await page.goto(proxyUrl);
    await page.waitForSelector(`[data-testid=light-verified][data-height="${TIP}"]`, WAIT);
    assert.match(
      await text("[data-testid=light-verified]"),
      new RegExp(`verified in this browser: ${TIP} headers, work [\\d,]+ hashes`),
    );
    assert.equal(
      await page.getAttribute("[data-testid=light-verified]", "data-hash"),
      hashOf(blocks[TIP - 1]!),
    );
    await page.waitForSelector(`${row(TIP)} [data-mark=verified]`, WAIT);
    await page.waitForSelector(`${row(TIP - 24)} [data-mark=verified]`, WAIT);
    await page.waitForSelector("[data-testid=top-height] [data-mark=verified]", WAIT);
    assert.equal(await page.$("[data-testid=light-discrepancy]"), null);
    await page.screenshot({ path: screenshotPath("light-honest"), fullPage: false });
  });

  test("a node serving a forged header chain (a hash above its target) is named, and the blocks above what the browser verified are marked", async () => {
    mode = "forged-headers";
    await page.goto(proxyUrl);
    await page.waitForSelector("[data-testid=light-discrepancy]", WAIT);
    const banner = await text("[data-testid=light-discrepancy]");
    assert.equal(await page.getAttribute("[data-testid=light-discrepancy-text]", "data-code"), "HIGH_HASH");
    assert.match(banner, new RegExp(`HIGH_HASH at height ${FORGED_FROM}`));
    assert.match(banner, new RegExp(`verified the chain up to #${FORGED_FROM - 1}`));
    assert.ok(banner.includes(hashOf(forged)) && banner.includes(`the node at ${proxyUrl}`), banner);
    await page.waitForSelector(`[data-testid=light-verified][data-height="${FORGED_FROM - 1}"]`, WAIT);
    // The node's real blocks at 25..30 are reported by its block API; the browser could not verify them.
    await page.waitForSelector(`${row(TIP)} [data-mark=above]`, WAIT);
    await page.waitForSelector(`${row(FORGED_FROM)} [data-mark=above]`, WAIT);
    await page.waitForSelector(`${row(FORGED_FROM - 1)} [data-mark=verified]`, WAIT);
    await page.waitForSelector("[data-testid=top-height] [data-mark=above]", WAIT);
    await page.screenshot({ path: screenshotPath("light-forged-headers"), fullPage: false });
  });

  test("a node claiming a higher tip than its headers carry is named (LESS_WORK) and its tip marked", async () => {
    mode = "claims-higher";
    await page.goto(proxyUrl);
    await page.waitForSelector("[data-testid=light-discrepancy]", WAIT);
    assert.equal(await page.getAttribute("[data-testid=light-discrepancy-text]", "data-code"), "LESS_WORK");
    const banner = await text("[data-testid=light-discrepancy]");
    assert.match(banner, new RegExp(`claims a tip at height ${TIP + 10}`));
    assert.match(banner, new RegExp(`verified the chain up to #${TIP}`));
    assert.match(await text("[data-testid=top-height]"), new RegExp(`tip #${TIP + 10}`));
    await page.waitForSelector("[data-testid=top-height] [data-mark=above]", WAIT);
    await page.waitForSelector(`${row(TIP)} [data-mark=verified]`, WAIT);
  });

  test("a forged proof (sound on its own, in a block off the chain) is refused with the browser's header chain", async () => {
    mode = "forged-proof";
    await page.goto(`${proxyUrl}/record/${inventedId}`);
    await page.waitForSelector("[data-testid=proof-verdict]", WAIT);
    const verdict = await text("[data-testid=proof-verdict]");
    assert.match(
      verdict,
      /^✗ Proof checked in your browser: refused: block [0-9a-f]{64} at height 10 is not on/,
    );
    assert.ok(verdict.includes(hashOf(offChain)) && verdict.includes(hashOf(blocks[9]!)), verdict);
    await page.screenshot({ path: screenshotPath("light-forged-proof"), fullPage: true });
  });

  test("no page errors", () => {
    assert.deepEqual(pageErrors, []);
  });
});
