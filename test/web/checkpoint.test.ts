/**
 * The explorer's witnessed-checkpoint panel in Chromium against a real node with P2P and its witness:
 * the node's own key is its one configured witness (quorum 1, depth 1), so each block it connects makes
 * the block below it final; the home page names the final checkpoint and its cosigner, and the latest
 * checkpoint's signers, and follows new blocks.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import type { Page } from "playwright-core";
import { noteSigner } from "../../src/consensus/note.ts";
import { regtest } from "../../src/consensus/params.ts";
import { loadOrCreatePeerKey } from "../../src/net/identity.ts";
import type { JbcNode } from "../../src/node/node.ts";
import { waitFor } from "../helpers/wait.ts";
import { BlockFactory, ExplorerSession, hashOf, postBlock, screenshotPath } from "./harness.ts";

const session = new ExplorerSession();
const { nodes, errors: pageErrors } = session;
let page: Page;
let node: JbcNode;
let name = "";

before(async () => {
  page = await session.open();
  const datadir = nodes.dir();
  // The node's witness key is its libp2p key: made here first, so its verifier key can be configured.
  const key = await loadOrCreatePeerKey(join(datadir, "p2p", "peer.key"));
  name = peerIdFromPrivateKey(key).toString();
  const self = noteSigner(name, key.raw.subarray(0, 32));
  node = await nodes.start(regtest, {
    datadir,
    p2p: { host: "127.0.0.1", port: 0 },
    witness: { witnesses: [self], quorum: 1, depth: 1 },
  });
});

after(() => session.close());

test("the home page shows the final checkpoint's cosigners and follows new blocks", async () => {
  const f = new BlockFactory(regtest);
  const now = Math.floor(Date.now() / 1000);
  const blocks = f.run(regtest.genesisHash, 3, (i) => ({
    miner: "team",
    dt: i === 0 ? now - 60 - regtest.genesis.header.time : 3,
  }));
  for (const b of blocks) assert.equal((await postBlock(node.url, b)).status, "main");
  // Blocks posted back to back are signed once the witness's sign interval is up, at the latest tip.
  await waitFor(
    async () => {
      const r = await fetch(`${node.url}/api/checkpoint`);
      return ((await r.json()) as { final: { height: number } | null }).final?.height === 2;
    },
    { what: "the checkpoint at height 2 final" },
  );
  await page.goto(node.url);
  const final = page.getByTestId("checkpoint-final");
  await final.waitFor({ timeout: 10_000 });
  assert.equal(await final.getAttribute("data-height"), "2");
  assert.match((await final.textContent()) ?? "", new RegExp(`cosigned by ${name.slice(0, 8)}`));
  const signer = page.locator(`[data-testid=checkpoint-latest] [data-signer="${name}"]`);
  assert.match((await signer.textContent()) ?? "", /witness/);

  const next = f.child(hashOf(blocks[2]!), { miner: "team", dt: 3 });
  assert.equal((await postBlock(node.url, next)).status, "main");
  await page.waitForSelector('[data-testid=checkpoint-final][data-height="3"]', { timeout: 10_000 });
  await page.getByTestId("checkpoint").screenshot({ path: screenshotPath("checkpoint-panel") });
  assert.deepEqual(pageErrors, []);
});
