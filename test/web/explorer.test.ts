/**
 * The explorer in a real browser (Debian's Chromium through playwright-core) against real nodes on
 * loopback. Blocks are real mined regtest blocks, built here and posted to the nodes over HTTP as a
 * peer or a miner would, so every fork is deterministic:
 *
 *   genesis - c1 - c2 - c3 - c4 - a5 - a6                node A (this page's node), miner "node on port 5000"
 *                            \-- s5 - s6 - s7           node B mines apart, miner "node on port 5001"
 *
 * then A receives s5, s6 (stale: no more work than a5, a6) and s7, which makes B's branch heavier:
 * a reorg of depth 2 at height 5. Screenshots of each view go to test-output/screenshots/.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Page } from "playwright-core";
import { BlockDetail } from "../../src/api/schemas.ts";
import { type Block, encodeBlock } from "../../src/consensus/block.ts";
import { defineNetwork, regtest } from "../../src/consensus/params.ts";
import { signRecord } from "../../src/consensus/records.ts";
import type { JbcNode } from "../../src/node/node.ts";
import { waitFor } from "../helpers/wait.ts";
import { BlockFactory, ExplorerSession, freePort, hashOf, postBlock, screenshotPath } from "./harness.ts";

const A = "node on port 5000";
const B = "node on port 5001";
const WAIT = { timeout: 8000 };

const session = new ExplorerSession();
const { nodes, errors: pageErrors } = session;
let page: Page;
let nodeA: JbcNode;
let nodeB: JbcNode;
let deadUrl: string;

const f = new BlockFactory(regtest);
const now = Math.floor(Date.now() / 1000);
// Block times end near the present, so "time since" reads like a live network.
const c = f.run(regtest.genesisHash, 4, (i) => ({
  miner: i % 2 ? B : A,
  dt: i === 0 ? now - 60 - regtest.genesis.header.time : 3,
  ...(i === 2
    ? {
        records: [
          { type: "data" as const, data: new TextEncoder().encode("hello from c3") },
          signRecord(new TextEncoder().encode("signed by key 7"), new Uint8Array(32).fill(7)),
        ],
      }
    : {}),
}));
const c4 = hashOf(c[3]!);
const a5 = f.child(c4, { miner: A, dt: 4 });
const a6 = f.child(hashOf(a5), { miner: A, dt: 3 });
const [s5, s6, s7] = f.run(c4, 3, () => ({ miner: B, dt: 5 })) as [Block, Block, Block];

async function post(node: JbcNode, ...blocks: Block[]): Promise<void> {
  for (const b of blocks) await postBlock(node.url, b);
}

async function blockJson(node: JbcNode, id: string): Promise<BlockDetail> {
  return BlockDetail.parse(await (await fetch(`${node.url}/api/blocks/${id}`)).json());
}

async function text(selector: string): Promise<string> {
  return (await page.textContent(selector, WAIT)) ?? "";
}

/** Waits until the element's text matches: the page updates asynchronously after each event. */
async function waitText(selector: string, pattern: RegExp): Promise<void> {
  let last = "";
  await waitFor(
    async () => {
      last = (await page.textContent(selector, WAIT)) ?? "";
      return pattern.test(last);
    },
    {
      timeoutMs: WAIT.timeout,
      intervalMs: 50,
      what: () => `${selector}'s text ${JSON.stringify(last)} to match ${pattern}`,
    },
  );
}

const row = (hash: string): string => `[data-testid=chain-table] tr[data-hash="${hash}"]`;
const treeNode = (hash: string): string => `[data-testid=fork-tree] .tnode[data-hash="${hash}"]`;

before(async () => {
  page = await session.open({ width: 1400, height: 1000 });
  deadUrl = `http://127.0.0.1:${await freePort()}`;
  nodeB = await nodes.start(regtest, { minerName: B });
  nodeA = await nodes.start(regtest, { minerName: A, devnetPeers: [nodeB.url, deadUrl] });
  await post(nodeA, ...c);
  await post(nodeB, ...c);
});

after(() => session.close());

describe("explorer", () => {
  test("the page loads with the chain, live", async () => {
    await page.goto(nodeA.url);
    await page.waitForSelector("[data-testid=connection][data-state=live]", WAIT);
    await page.waitForSelector(row(c4), WAIT);
    const heights = await page.$$eval("[data-testid=chain-table] tbody tr", (rows) =>
      rows.map((r) => Number(r.getAttribute("data-height"))),
    );
    assert.deepEqual(heights, [4, 3, 2, 1, 0]);
    assert.match(
      await text("[data-testid=race-summary]"),
      /node on port 5000 won 2 blocks, node on port 5001 won 2/,
    );
  });

  test("a block posted to the node appears at the top without a reload", async () => {
    await page.evaluate(() => {
      (globalThis as unknown as { stillHere: boolean }).stillHere = true;
    });
    await post(nodeA, a5);
    await page.waitForSelector(`${row(hashOf(a5))}:first-child`, WAIT);
    assert.equal(
      await page.evaluate(() => (globalThis as unknown as { stillHere?: boolean }).stillHere),
      true,
    );
    await waitText("[data-testid=tile-height] .tile-value", /^5$/);
    await page.waitForSelector(treeNode(hashOf(a5)), WAIT);
    await waitText("[data-testid=race-summary]", /node on port 5000 won 3 blocks/);
  });

  test("clicking a block opens its page with the node's data", async () => {
    const hash = hashOf(c[2]!);
    await page.click(`${row(hash)} a.height`);
    await page.waitForSelector(`[data-testid=block-page][data-hash="${hash}"]`, WAIT);
    assert.equal(new URL(page.url()).pathname, `/block/${hash}`);
    const want = await blockJson(nodeA, hash);
    const field = async (name: string): Promise<string> =>
      ((await text(`[data-field=${name}]`)) ?? "").trim();
    assert.equal(await text("[data-testid=block-height]"), String(want.height));
    assert.equal(await field("version"), String(want.header.version));
    assert.equal(
      await page.getAttribute("[data-field=prevHash] [data-hash]", "data-hash"),
      want.header.prevHash,
    );
    assert.ok((await field("merkleRoot")).startsWith(want.header.merkleRoot));
    assert.ok((await field("time")).startsWith(String(want.header.time)));
    assert.ok((await field("bits")).startsWith(want.header.bits));
    assert.equal(await field("nonce"), String(want.header.nonce));
    assert.equal((await field("work")).split(" ")[0]!.replace(/\D/g, ""), want.work);
    assert.equal((await field("chainWork")).split(" ")[0]!.replace(/\D/g, ""), want.chainWork);
    assert.equal(await text("[data-testid=pow-hash]"), want.hash);
    assert.equal(await text("[data-testid=pow-target]"), want.target);
    assert.match(await text("[data-testid=pow-verdict]"), /hash < target/);
    // The browser recomputes the merkle root from the record ids and finds the header's.
    await page.waitForSelector("[data-testid=merkle-check]", WAIT);
    assert.match(await text("[data-testid=merkle-check]"), /✓ recomputed/);
    // And hashes the header itself, with src/consensus running in the page.
    assert.match(await text("[data-testid=hash-check]"), /✓ the double SHA-256 of this header/);
    const ids = await page.$$eval("[data-testid=records] tr[data-record] code.rid", (els) =>
      els.map((e) => e.textContent),
    );
    assert.deepEqual(
      ids,
      want.records.map((r) => r.id),
    );
    assert.match(await text("[data-testid=records]"), /hello from c3/);
    const signed = await text('[data-testid=records] tr[data-record="2"]');
    const rec = want.records[2]!;
    assert.ok(rec.type === "signed");
    assert.ok(signed.includes(rec.publicKey) && signed.includes(rec.signature), "key and signature shown");
    assert.match(signed, /✓ signature verifies/);
    assert.equal(await text("[data-testid=block-branch]"), "main chain");
    // Parent and child links lead on through the tree.
    assert.equal(
      await page.getAttribute(`[data-testid=neighbours] [data-child="${want.children[0]!.hash}"] a`, "href"),
      `/block/${want.children[0]!.hash}`,
    );
    await page.screenshot({ path: screenshotPath("block"), fullPage: true });
    await page.goBack();
    await page.waitForSelector(row(hashOf(a5)), WAIT);
  });

  test("nodes mining apart show as a fork between nodes, then stale blocks, then a reorg", async () => {
    await post(nodeA, a6);
    await post(nodeB, s5, s6, s7);
    // The devnet strip: B's chain has diverged from A's.
    await page.waitForSelector(
      `[data-testid=devnet-nodes] [data-url="${nodeB.url}"][data-relation=fork]`,
      WAIT,
    );
    await page.waitForSelector(
      `[data-testid=devnet-nodes] [data-url="${deadUrl}"][data-relation=unreachable]`,
      WAIT,
    );
    await page.screenshot({ path: screenshotPath("devnet-fork") });

    // B's first two blocks reach A: no more work than A's own, so they are stale side blocks.
    await post(nodeA, s5, s6);
    await page.waitForSelector(`${treeNode(hashOf(s6))}[data-kind=stale]`, WAIT);
    await page.waitForSelector(`${treeNode(hashOf(s5))}[data-kind=stale]`, WAIT);
    assert.equal(await page.getAttribute(treeNode(hashOf(a6)), "data-kind"), "main");
    await page.locator("#forks").screenshot({ path: screenshotPath("fork-stale") });

    // The third makes B's branch heavier: A switches, and the page says what was replaced.
    await post(nodeA, s7);
    const banner = await page.waitForSelector("[data-testid=reorg-banner]", WAIT);
    assert.match(
      (await banner.textContent()) ?? "",
      /Reorg depth 2 at height 5: 2 blocks replaced, 3 joined/,
    );
    await page.waitForSelector(`${treeNode(hashOf(a5))}[data-kind=replaced]`, WAIT);
    await page.waitForSelector(`${treeNode(hashOf(a6))}[data-kind=replaced]`, WAIT);
    await page.waitForSelector(`${treeNode(hashOf(s7))}[data-kind=main]`, WAIT);
    await page.waitForSelector(`${row(hashOf(s7))}:first-child`, WAIT);
    assert.equal(await page.$(row(hashOf(a6))), null, "a replaced block leaves the chain list");
    await page.waitForSelector(
      `[data-testid=devnet-nodes] [data-url="${nodeB.url}"][data-relation=same]`,
      WAIT,
    );
    assert.match(await text("[data-testid=reorg-log]"), /Reorg depth 2 at height 5/);
    await page.screenshot({ path: screenshotPath("reorg") });
    await page.locator("#forks").screenshot({ path: screenshotPath("fork-reorg") });

    // A replaced block's own page says it is on a side branch, and its parent lists it as a side child.
    await page.click(treeNode(hashOf(a6)));
    await page.waitForSelector(`[data-testid=block-page][data-hash="${hashOf(a6)}"]`, WAIT);
    assert.equal(await text("[data-testid=block-branch]"), "side branch (stale)");
    await page.goto(`${nodeA.url}/block/${c4}`);
    await page.waitForSelector(`[data-testid=block-page][data-hash="${c4}"]`, WAIT);
    const kids = await page.$$eval("[data-testid=neighbours] [data-child]", (els) =>
      els.map((e) => [e.getAttribute("data-child"), e.querySelector(".tag")?.textContent]),
    );
    assert.deepEqual(kids, [
      [hashOf(s5), "main"],
      [hashOf(a5), "side"],
    ]);
  });

  test("a branch with a bad signature shows as invalid", async () => {
    // On top of s6 (s7 is the tip): x7 ties with s7, x8 would overtake it but carries a signed record
    // whose signature is broken, so the chain refuses the switch and marks x8 invalid.
    const x7 = f.child(hashOf(s6), { miner: A, dt: 2 });
    const bad = signRecord(new TextEncoder().encode("forged"), new Uint8Array(32).fill(9));
    bad.signature[0]! ^= 0xff;
    const x8 = f.child(hashOf(x7), { miner: A, dt: 2, records: [bad] });
    await post(nodeA, x7);
    const res = await fetch(`${nodeA.url}/api/blocks`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: Buffer.from(encodeBlock(x8)),
    });
    assert.equal(res.status, 422);
    await page.goto(nodeA.url);
    await page.waitForSelector(`${treeNode(hashOf(x8))}[data-kind=invalid]`, WAIT);
    assert.equal(await page.getAttribute(treeNode(hashOf(x7)), "data-kind"), "stale");
    await page.click(treeNode(hashOf(x8)));
    await page.waitForSelector(`[data-testid=block-page][data-hash="${hashOf(x8)}"]`, WAIT);
    assert.equal(await text("[data-testid=block-branch]"), "invalid");
    assert.match(await text(".block-page .banner.error"), /BAD_SIGNATURE/);
    assert.match(await text("[data-testid=records]"), /✗ signature does not verify/);
    await page.screenshot({ path: screenshotPath("block-invalid"), fullPage: true });
  });

  test("a block of many records shows them a page at a time; its merkle root comes from its raw bytes", async () => {
    const enc = new TextEncoder();
    const many = Array.from({ length: 250 }, (_, i) =>
      i % 50 === 7
        ? signRecord(enc.encode(`signed record ${i}`), new Uint8Array(32).fill(8))
        : { type: "data" as const, data: enc.encode(`record number ${i}`) },
    );
    const big8 = f.child(hashOf(s7), { miner: B, dt: 2, records: many });
    // A sibling with no more work: stored as a side block, its records not checked by the node.
    const side8 = f.child(hashOf(s7), {
      miner: A,
      dt: 3,
      records: [signRecord(enc.encode("not checked by the node"), new Uint8Array(32).fill(4))],
    });
    await post(nodeA, big8, side8);
    await page.goto(`${nodeA.url}/block/${hashOf(big8)}`);
    await page.waitForSelector("[data-testid=merkle-check]", WAIT);
    assert.match(
      await text("[data-testid=merkle-check]"),
      /✓ recomputed in this browser from the block's 251 records \(its raw bytes\)/,
    );
    const shown = async (): Promise<number[]> =>
      page.$$eval("[data-testid=records] tr[data-record]", (els) =>
        els.map((e) => Number(e.getAttribute("data-record"))),
      );
    assert.match(await text("[data-testid=record-range]"), /records 0–99 of 251/);
    assert.deepEqual(
      await shown(),
      Array.from({ length: 100 }, (_, i) => i),
    );
    assert.match(await text('[data-testid=records] tr[data-record="8"]'), /✓ signature verifies/);
    await page.click("[data-testid=record-next] >> nth=0");
    await waitText("[data-testid=record-range] >> nth=0", /records 100–199 of 251/);
    await page.click("[data-testid=record-next] >> nth=0");
    await waitText("[data-testid=record-range] >> nth=0", /records 200–250 of 251/);
    assert.deepEqual(
      await shown(),
      Array.from({ length: 51 }, (_, i) => 200 + i),
    );
    assert.equal(await page.isDisabled("[data-testid=record-next] >> nth=0"), true);
    assert.match(await text("[data-testid=merkle-check]"), /✓ recomputed/);
    await page.screenshot({ path: screenshotPath("block-paged"), fullPage: false });

    await page.goto(`${nodeA.url}/block/${hashOf(side8)}`);
    await page.waitForSelector(`[data-testid=block-page][data-hash="${hashOf(side8)}"]`, WAIT);
    const signed = await text('[data-testid=records] tr[data-record="1"]');
    assert.match(signed, /✓ signature verifies \(checked in this browser: the node has not checked it\)/);
    assert.equal(await page.$("[data-testid=record-pager]"), null, "one page: no pager");
  });

  test("an unknown block shows 'Block not found' with its hash", async () => {
    const unknown = "00000000deadbeef00000000deadbeef00000000deadbeef00000000deadbeef";
    await page.goto(`${nodeA.url}/block/${unknown}`);
    const el = await page.waitForSelector("[data-testid=block-not-found]", WAIT);
    const body = (await el.textContent()) ?? "";
    assert.match(body, /Block not found/);
    assert.ok(body.includes(unknown));
    await page.screenshot({ path: screenshotPath("not-found") });
    await page.goto(`${nodeA.url}/block/123456`);
    assert.match(
      (await (await page.waitForSelector("[data-testid=block-not-found]", WAIT)).textContent()) ?? "",
      /123456/,
    );
  });
});

describe("explorer, nodes joined over P2P", () => {
  test("two nodes that mined apart are connected with POST /api/peers, and the page shows the reorg", async () => {
    const p2p = { host: "127.0.0.1", port: 0 };
    const q = await nodes.start(regtest, { minerName: B, p2p });
    const p = await nodes.start(regtest, { minerName: A, p2p, devnetPeers: [q.url] });
    await post(p, ...c, a5, a6);
    await post(q, ...c, s5, s6, s7);
    await page.goto(p.url);
    await page.waitForSelector(`[data-testid=devnet-nodes] [data-url="${q.url}"][data-relation=fork]`, WAIT);

    const res = await fetch(`${p.url}/api/peers`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ addr: q.url }),
    });
    assert.equal(res.status, 200);
    // p syncs q's heavier branch over the network: the same reorg, seen live.
    await waitText("[data-testid=reorg-banner]", /Reorg depth 2 at height 5: 2 blocks replaced, 3 joined/);
    await page.waitForSelector(`${row(hashOf(s7))}:first-child`, WAIT);
    await page.waitForSelector(`[data-testid=devnet-nodes] [data-url="${q.url}"][data-relation=same]`, WAIT);
    await waitText("[data-testid=tile-peers] .tile-value", /^1$/);
  });
});

describe("explorer, node going away", () => {
  test("a dropped stream shows, and the page recovers when the node is back; mining shows live", async () => {
    const port = await freePort();
    const datadir = nodes.dir();
    const opts = { datadir, http: { host: "127.0.0.1", port }, minerName: "node on port 5002" };
    let node = await nodes.start(regtest, opts);
    await post(node, ...c);
    await page.goto(node.url);
    await page.waitForSelector("[data-testid=connection][data-state=live]", WAIT);
    // The stream can be live before the chain table's first fetch has rendered (a loaded machine).
    await page.waitForSelector(row(c4), WAIT);

    await node.stop();
    const banner = await page.waitForSelector(
      "[data-testid=banner-unreachable], [data-testid=banner-stream]",
      WAIT,
    );
    assert.match(
      (await banner.textContent()) ?? "",
      /stream dropped, reconnecting|stream dropped — reconnecting/i,
    );
    assert.ok(await page.$(row(c4)), "what was shown stays on the page");
    await page.screenshot({ path: screenshotPath("reconnecting") });

    node = await nodes.start(regtest, opts);
    await page.waitForSelector("[data-testid=connection][data-state=live]", { timeout: 15_000 });
    await page.waitForSelector("[data-testid=banner-unreachable]", { state: "detached", ...WAIT });

    // Real mining through the API: the miner's first block shows up on its own.
    const client = { "x-jbc-client": "test" };
    const start = await fetch(`${node.url}/api/mining/start`, { method: "POST", headers: client });
    assert.equal(start.status, 200);
    try {
      // Regtest blocks take about two hashes: the miner finds many at once, so look at the newest.
      await page.waitForSelector(
        '[data-testid=chain-table] tbody tr:first-child:has-text("node on port 5002")',
        {
          timeout: 15_000,
        },
      );
    } finally {
      await fetch(`${node.url}/api/mining/stop`, { method: "POST", headers: client });
    }
    assert.ok(
      Number(await page.getAttribute("[data-testid=chain-table] tbody tr:first-child", "data-height")) > 4,
    );
  });
});

describe("explorer, difficulty", () => {
  test("ASERT's difficulty and block times are charted against the target", async () => {
    // regtest's rules with ASERT on: blocks faster than the 2 s target push difficulty up, slow ones down.
    const params = defineNetwork({ ...regtest, noRetargeting: false, targetSpacing: 2, asertHalfLife: 20 });
    const node = await nodes.start(params);
    const g = new BlockFactory(params);
    const miners = ["node on port 5000", "node on port 5001", "node on port 5002"];
    const pace = (i: number): number => (i < 24 ? i % 2 : i < 40 ? 5 : 2);
    const total = 56;
    const span = Array.from({ length: total }, (_, i) => pace(i)).reduce((x, y) => x + y, 0);
    const blocks = g.run(params.genesisHash, total, (i) => ({
      miner: miners[i % 5 === 0 ? 2 : i % 3 === 0 ? 1 : 0]!,
      dt: i === 0 ? now - span - params.genesis.header.time : pace(i),
    }));
    await post(node, ...blocks);
    const difficulties = new Set(
      (
        (await (await fetch(`${node.url}/api/blocks?limit=60`)).json()) as {
          blocks: { difficulty: number }[];
        }
      ).blocks.map((b) => b.difficulty),
    );
    assert.ok(difficulties.size > 10, "the test chain really moves the difficulty");

    await page.goto(node.url);
    await page.waitForSelector(row(hashOf(blocks.at(-1)!)), WAIT);
    const d = (await page.getAttribute("[data-testid=difficulty-chart] path.difficulty", "d")) ?? "";
    const ys = new Set([...d.matchAll(/V([\d.]+)/g)].map((m) => m[1]));
    assert.ok(ys.size > 10, `difficulty line has steps (${ys.size})`);
    const ref = await text("[data-testid=blocktime-chart] .reference");
    assert.match(ref ?? "", /target 2 s/);
    await page.click("#race button:has-text('last 100')");
    assert.match(await text("[data-testid=race-summary]"), /of 56/);

    // A stale block, then a three-block reorg near the tip, for the screenshots of the whole page.
    const tipMinus = (k: number): string => hashOf(blocks[blocks.length - 1 - k]!);
    // Posted blocks are blocks nobody asked for (docs/api.md): a stale sibling of the tip keeps its body;
    // the branch's first pass leaves headers until they outwork the tip, its second brings the bodies.
    await post(node, g.child(tipMinus(1), { miner: miners[1]!, dt: 3 }));
    const branch = g.run(tipMinus(3), 4, (i) => ({ miner: miners[i % 2 ? 0 : 2]!, dt: 1 }));
    await post(node, ...branch);
    await post(node, ...branch);
    await waitText("[data-testid=reorg-banner]", /Reorg depth 3 at height 54/);
    await page.waitForSelector(`${treeNode(hashOf(branch[3]!))}[data-kind=main]`, WAIT);
    await page.evaluate("window.scrollTo(0, 0)");
    // Let the new rows finish sliding in before the picture.
    await page.waitForTimeout(1300);
    await page.screenshot({ path: screenshotPath("home"), fullPage: true });
    await page.screenshot({ path: screenshotPath("home-top") });
    await page.locator("#difficulty").screenshot({ path: screenshotPath("difficulty") });
    await page.locator("#race").screenshot({ path: screenshotPath("race") });

    // The hardest block's page: its hash starts with zeros its target allows.
    const hardest = (
      (await (await fetch(`${node.url}/api/blocks?limit=60`)).json()) as {
        blocks: { hash: string; difficulty: number }[];
      }
    ).blocks.reduce((x, y) => (y.difficulty > x.difficulty ? y : x));
    await page.goto(`${node.url}/block/${hardest.hash}`);
    await page.waitForSelector("[data-testid=merkle-check]", WAIT);
    assert.match(await text("[data-testid=pow-verdict]"), /hash < target/);
    await page.screenshot({ path: screenshotPath("block-pow") });
  });
});

describe("explorer, robustness", () => {
  test("no script error on any page visited", () => {
    assert.deepEqual(pageErrors, []);
  });
});
