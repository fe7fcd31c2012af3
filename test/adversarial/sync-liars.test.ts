/**
 * Attack: peers that lie to a headers-first sync (issue 21, item 2; docs/security.md). Real libp2p nodes on
 * 127.0.0.1 with real LevelDB chains; each liar is a real node with one handler swapped
 * (test/helpers/sync-peers.ts):
 *
 * - a body that is not its header's: another block at that height (hash mismatch), or the header's block
 *   with a record changed (same hash, wrong merkle root): the liar is penalised and the block comes from
 *   the honest peer;
 * - bad headers (bits harder than the network's, a broken link): the liar is penalised and no body is
 *   asked of it;
 * - a claim of more work than its headers show (a low-work branch under a huge claimed work): its headers
 *   are checked, and no body is asked for, so the sync stores nothing of its branch.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Block, decodeBlock, encodeBlock } from "../../src/consensus/block.ts";
import { encodeHeader } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import { makeChild } from "../helpers/blocks.ts";
import {
  addrOf,
  buildChain,
  dataRecords,
  hashOf,
  importBlocks,
  nodeStarter,
  scoreOf,
  type TestNode,
  waitFor,
} from "../helpers/net.ts";
import { claimStatus, serveBlocksWith, serveHeadersWith } from "../helpers/sync-peers.ts";

const node = nodeStarter(regtest);

const blocks = buildChain(regtest, 300, regtest.genesis, { records: (h) => dataRecords(h, 4, 100) });
const parentOf = (height: number): Block => (height === 1 ? regtest.genesis : blocks[height - 2]!);

async function withChain(chain: readonly Block[]): Promise<TestNode> {
  const a = await node();
  await importBlocks(a.tc.chain, chain);
  return a;
}

describe("peers lying to a headers-first sync", () => {
  it("a body of another block than the header's: the liar is penalised, the block comes from elsewhere", async () => {
    const honest = await withChain(blocks);
    const liar = await withChain(blocks);
    const asked = await serveBlocksWith(liar, async (raws, from) => {
      const other = makeChild(parentOf(from), regtest, { miner: "liar" });
      return [encodeBlock(other), ...raws.slice(1)];
    });
    const b = await node({
      peers: [addrOf(honest), addrOf(liar)],
      limits: { syncWindow: { maxBlocks: 32 } },
    });
    await waitFor(() => b.tc.chain.height === 300, 30_000, "synced from the honest peer");
    assert.equal(b.tc.chain.tip.hash, hashOf(blocks.at(-1)!));
    assert.ok(asked.blockRequests > 0, "the liar was asked");
    await waitFor(() => scoreOf(b, liar) >= 50, 5_000, "liar penalised (MALFORMED)");
    assert.equal(scoreOf(b, honest), 0);
  });

  it("the header's block with a record changed (BAD_MERKLE_ROOT): the liar is banned, the block refetched", async () => {
    const honest = await withChain(blocks);
    const liar = await withChain(blocks);
    await serveBlocksWith(liar, async (raws) => {
      const first = decodeBlock(raws[0]!);
      const rec = first.records[1]!;
      if (rec.type !== "data") throw new Error("expected a data record");
      const data = Uint8Array.from(rec.data);
      data[0]! ^= 1;
      const forged = { ...first, records: [first.records[0]!, { ...rec, data }, ...first.records.slice(2)] };
      return [encodeBlock(forged), ...raws.slice(1)];
    });
    const b = await node({
      peers: [addrOf(honest), addrOf(liar)],
      limits: { syncWindow: { maxBlocks: 32 } },
    });
    const banned: string[] = [];
    b.net.on("peer:banned", (e) => banned.push(e.peerId));
    await waitFor(() => b.tc.chain.height === 300, 30_000, "synced from the honest peer");
    assert.equal(b.tc.chain.tip.hash, hashOf(blocks.at(-1)!));
    assert.deepEqual(banned, [liar.net.peerId]);
  });

  for (const kind of ["wrong bits", "a broken link"] as const) {
    it(`headers with ${kind}: the liar is penalised and no body is asked of it`, async () => {
      const liar = await withChain(blocks);
      const headers = blocks.slice(0, 150).map((x) => encodeHeader(x.header));
      if (kind === "wrong bits") {
        // Harder than regtest's fixed bits: more work per header, which would win if bits were not checked.
        let prev = blocks[149]!;
        for (let i = 0; i < 160; i++) {
          prev = makeChild(prev, regtest, { bits: 0x2000ffff, miner: "hard" });
          headers.push(encodeHeader(prev.header));
        }
      } else {
        const other = buildChain(regtest, 160, blocks[148]!, { miner: "other" });
        headers.push(...other.slice(1).map((x) => encodeHeader(x.header))); // skips the header at 150
      }
      const headerAsked = await serveHeadersWith(liar, headers);
      const asked = await serveBlocksWith(liar, async (raws) => raws);
      const b = await node({ peers: [addrOf(liar)] });
      await importBlocks(b.tc.chain, blocks.slice(0, 100));
      const penalised = (): boolean => scoreOf(b, liar) >= 50 || b.net.getBans().has(liar.net.peerId);
      await waitFor(() => headerAsked.headerRequests > 0 && penalised(), 10_000, "liar penalised");
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(asked.blockRequests, 0, "no body asked of a peer whose headers broke a rule");
      assert.equal(b.tc.chain.height, 100);
    });
  }

  it("a claim of more work than its headers show: no body is asked for, nothing of its branch stored", async () => {
    const b = await node({ limits: { statusIntervalMs: 200 } });
    await importBlocks(b.tc.chain, blocks.slice(0, 100));
    // The liar's chain: honest to 10, then its own 40 blocks (height 50: less work than our 100).
    const branch = buildChain(regtest, 40, blocks[9]!, { miner: "low" });
    const liar = await withChain([...blocks.slice(0, 10), ...branch]);
    const headerAsked = await serveHeadersWith(
      liar,
      [...blocks.slice(0, 10), ...branch].map((x) => encodeHeader(x.header)),
    );
    const asked = await serveBlocksWith(liar, async (raws) => raws);
    await claimStatus(liar, (real) => ({ ...real, height: 5_000, work: 10n ** 12n }));
    await b.net.addPeer(addrOf(liar));
    await waitFor(() => headerAsked.headerRequests > 0, 10_000, "headers asked");
    await new Promise((r) => setTimeout(r, 1_500)); // several status rounds with the claim
    assert.equal(asked.blockRequests, 0, "no body asked for on a branch with less work than ours");
    assert.equal(b.tc.chain.height, 100);
    assert.equal(b.tc.chain.getEntry(hashOf(branch[0]!)), undefined, "nothing of the branch stored");
  });
});
