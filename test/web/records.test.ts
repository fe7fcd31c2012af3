/**
 * Records in the explorer, in a real browser (Debian's Chromium through playwright-core) against a real
 * node on loopback (regtest, real LevelDB, no p2p): the pending panel fills live as records are
 * submitted, the search box finds records, blocks, heights and authors, and the record page checks the
 * inclusion proof in the browser with src/consensus/proof.ts, so a proof altered on the way is refused.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Page } from "playwright-core";
import { ApiClient } from "../../src/api/client.ts";
import { toHex } from "../../src/consensus/bytes.ts";
import { encodeHeader, hashToHex } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import { recordId, signRecord } from "../../src/consensus/records.ts";
import type { JbcNode } from "../../src/node/node.ts";
import {
  blockWith,
  carrierFor,
  grindInnerNodeBlock,
  invented,
  inventedProof,
  sha256d,
} from "../helpers/forgery.ts";
import { BlockFactory, ExplorerSession, hashOf, postBlock, screenshotPath } from "./harness.ts";

const WAIT = { timeout: 8000 };
const session = new ExplorerSession();
const { nodes, errors: pageErrors } = session;
let page: Page;
let node: JbcNode;

const utf8 = new TextEncoder();
const signed = signRecord(utf8.encode("a line signed by key 9"), new Uint8Array(32).fill(9));
const signedId = hashToHex(recordId(signed));
const author = Buffer.from(signed.publicKey).toString("hex");
const f = new BlockFactory(regtest);
const now = Math.floor(Date.now() / 1000);
const blocks = f.run(regtest.genesisHash, 3, (i) => ({
  miner: "m",
  dt: i === 0 ? now - 30 - regtest.genesis.header.time : 2,
  ...(i === 1 ? { records: [{ type: "data" as const, data: utf8.encode("plain") }, signed] } : {}),
}));

before(async () => {
  page = await session.open({ width: 1400, height: 1000 });
  node = await nodes.start(regtest, { minerName: "m" });
  for (const b of blocks) await postBlock(node.url, b);
});

after(() => session.close());

async function search(term: string): Promise<void> {
  await page.fill("[data-testid=search]", term);
  await page.press("[data-testid=search]", "Enter");
}

describe("explorer records", () => {
  test("the pending panel shows records as they are submitted, without a reload", async () => {
    await page.goto(node.url);
    await page.waitForSelector("[data-testid=connection][data-state=live]", WAIT);
    await page.waitForSelector("[data-testid=mempool-summary]:has-text('0 pending')", WAIT);
    const api = new ApiClient(node.url);
    const acks = await api.submitRecords([{ data: "waiting one" }, { data: "waiting two" }]);
    for (const a of acks)
      await page.waitForSelector(`[data-testid=pending-list] li[data-id="${a.id}"]`, WAIT);
    assert.match((await page.textContent("[data-testid=mempool-summary]")) ?? "", /^2 pending/);
    await page.screenshot({ path: screenshotPath("records-pending"), fullPage: false });
    // Clicking one opens its page, which says it is pending.
    await page.click(`[data-testid=pending-list] li[data-id="${acks[0]!.id}"] a`);
    await page.waitForSelector("[data-testid=record-page][data-status=pending]", WAIT);
    assert.match((await page.textContent("[data-testid=record-data]")) ?? "", /waiting one/);
  });

  test("search finds a record by id; its page shows data, signer, block, confirmations and a proof checked here", async () => {
    await search(signedId.toUpperCase());
    await page.waitForSelector("[data-testid=record-page][data-status=confirmed]", WAIT);
    assert.equal(new URL(page.url()).pathname, `/record/${signedId}`);
    assert.equal((await page.textContent("[data-testid=record-data]"))?.trim(), "a line signed by key 9");
    assert.match((await page.textContent("[data-testid=record-signer]")) ?? "", new RegExp(author));
    assert.match((await page.textContent("[data-testid=record-block]")) ?? "", /#2/);
    assert.equal((await page.textContent("[data-testid=record-confirmations]"))?.trim(), "2");
    const verdict = (await page.textContent("[data-testid=proof-verdict]")) ?? "";
    assert.match(
      verdict,
      /^✓ Proof checked in your browser: valid: record [0-9a-f]{64} is committed to by block/,
    );
    assert.ok(verdict.includes(hashOf(blocks[1]!)));
    await page.screenshot({ path: screenshotPath("records-proof"), fullPage: true });
  });

  test("a proof altered on the way is refused by the browser's own check", async () => {
    await page.route(`**/api/records/${signedId}`, async (route) => {
      const res = await route.fetch();
      const body = (await res.json()) as { proof: { branch: string[] } };
      // The top sibling: a real neighbour (the bottom one is the record's own copy, whose change the
      // shape check names DUPLICATE_NODE before any hashing).
      const top = body.proof.branch.length - 1;
      const b = body.proof.branch[top]!;
      body.proof.branch[top] = `${b.slice(0, 63)}${b[63] === "0" ? "1" : "0"}`;
      await route.fulfill({ response: res, json: body });
    });
    await page.goto(`${node.url}/record/${signedId}`);
    await page.waitForSelector("[data-testid=proof-verdict]", WAIT);
    assert.match(
      (await page.textContent("[data-testid=proof-verdict]")) ?? "",
      /^✗ .*INVALID \(ROOT_MISMATCH\)/,
    );
    // The page may ask again (a new block updates the confirmations) while a handler is still altering an
    // answer; those late handlers are let go rather than failing on a page that has moved on.
    await page.unrouteAll({ behavior: "ignoreErrors" });
  });

  test("attack: a node serving forged proofs (both directions of the 64-byte ambiguity) is caught by the browser", async () => {
    // A block that broke the 64-byte rule, as a lying node would have it: a carrier of an invented record.
    const carrierBlock = blockWith(regtest, blocks[2]!, 4, [carrierFor(invented)]);
    const forgedInvented = inventedProof(carrierBlock, 1);
    const ground = grindInnerNodeBlock(regtest, blocks[2]!, 4, { type: "data", data: utf8.encode("honest") });
    const cases = [
      {
        id: hashToHex(recordId(invented)),
        data: new TextDecoder().decode(invented.data),
        encoding: "utf8",
        block: carrierBlock,
        proof: forgedInvented,
        code: "BAD_MINER_PROOF",
      },
      {
        id: hashToHex(sha256d(ground.innerBytes)),
        data: Buffer.from(ground.innerBytes.subarray(2)).toString("hex"),
        encoding: "hex",
        block: ground.real,
        proof: {
          version: 2,
          header: toHex(encodeHeader(ground.real.header)),
          index: 0,
          count: 1,
          branch: [],
        },
        code: "RECORD_64_BYTES",
      },
    ];
    for (const c of cases) {
      await page.route(`**/api/records/${c.id}`, (route) =>
        route.fulfill({
          json: {
            id: c.id,
            status: "confirmed",
            record: { type: "data", data: c.data, encoding: c.encoding },
            block: { hash: hashOf(c.block), height: 4, time: c.block.header.time },
            index: c.proof.index,
            confirmations: 1,
            proof: c.proof,
          },
        }),
      );
      await page.goto(`${node.url}/record/${c.id}`);
      await page.waitForSelector("[data-testid=proof-verdict]", WAIT);
      assert.match(
        (await page.textContent("[data-testid=proof-verdict]")) ?? "",
        new RegExp(`^✗ .*INVALID \\(${c.code}\\)`),
      );
      await page.unrouteAll({ behavior: "ignoreErrors" });
    }
  });

  test("search finds a height, a block hash and an author; an unknown term says so", async () => {
    await page.goto(node.url);
    await page.waitForSelector("[data-testid=connection][data-state=live]", WAIT);
    await search("1");
    await page.waitForSelector(`[data-testid=block-page][data-hash="${hashOf(blocks[0]!)}"]`, WAIT);
    await search(hashOf(blocks[2]!));
    await page.waitForSelector(`[data-testid=block-page][data-hash="${hashOf(blocks[2]!)}"]`, WAIT);
    await search(author);
    await page.waitForSelector(`[data-testid=author-records] tr[data-id="${signedId}"]`, WAIT);
    assert.equal(new URL(page.url()).pathname, `/author/${author}`);
    await search("ab".repeat(32));
    await page.waitForSelector("[data-testid=search-note]", WAIT);
    assert.match((await page.textContent("[data-testid=search-note]")) ?? "", /nothing found/);
    assert.deepEqual(pageErrors, []);
  });
});
