/**
 * Headers and bodies at once (issue 21) between real libp2p nodes on 127.0.0.1, each with its own Chain on
 * LevelDB: a fresh node asks for bodies as soon as its first headers are checked, while later header ranges
 * are still on their way; and a peer that serves a body which is not its header's is still penalised for it.
 *
 * The honest peer holds every header answer above the first range until some body request has reached a
 * serving peer (at most 15 s): a sync that waited for all headers before the first body would find every
 * held answer sent with the gate shut, after the full 15 s.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Block, encodeBlock } from "../../src/consensus/block.ts";
import { regtest } from "../../src/consensus/params.ts";
import { makeChild } from "../helpers/blocks.ts";
import {
  addrOf,
  buildChain,
  hashOf,
  importBlocks,
  nodeStarter,
  scoreOf,
  type TestNode,
  waitFor,
} from "../helpers/net.ts";
import { serveBlocksWith, serveHeadersGated } from "../helpers/sync-peers.ts";

const node = nodeStarter(regtest);

// 2,500 blocks: two header ranges (2,000 and 500).
const blocks = buildChain(regtest, 2_500, regtest.genesis);
const parentOf = (height: number): Block => (height === 1 ? regtest.genesis : blocks[height - 2]!);

async function withChain(): Promise<TestNode> {
  const a = await node();
  await importBlocks(a.tc.chain, blocks);
  return a;
}

describe("headers and bodies at once (real libp2p, LevelDB)", () => {
  it("asks for bodies before the last header range has arrived; a mismatching body is penalised", async () => {
    const honest = await withChain();
    const liar = await withChain();
    let bodyRequests = 0;
    const held = await serveHeadersGated(honest, () => bodyRequests > 0, 15_000);
    await serveBlocksWith(honest, async (raws) => {
      bodyRequests++;
      return raws;
    });
    await serveBlocksWith(liar, async (raws, from) => {
      bodyRequests++;
      return [encodeBlock(makeChild(parentOf(from), regtest, { miner: "liar" })), ...raws.slice(1)];
    });
    const b = await node({
      peers: [addrOf(honest), addrOf(liar)],
      limits: { syncWindow: { maxBlocks: 64 } },
    });
    await waitFor(() => b.tc.chain.height === 2_500, 60_000, "synced");
    assert.equal(b.tc.chain.tip.hash, hashOf(blocks.at(-1)!));
    assert.ok(held.held.length > 0, "the honest peer was asked for a header range above the first");
    assert.ok(
      held.held.every((open) => open),
      `every held header answer went out after a body request (${JSON.stringify(held.held)})`,
    );
    await waitFor(() => scoreOf(b, liar) >= 50, 5_000, "liar penalised (MALFORMED)");
    assert.equal(scoreOf(b, honest), 0);
  });
});
