/**
 * The node's block relay option (`jbc node --relay compact|full`), with two real nodes in-process (real
 * LevelDB, libp2p on 127.0.0.1, mempools): a block mined on a node that relays compact blocks reaches its
 * peer as a compact announcement; with `relay: "full"` on the miner it comes as a whole gossiped block and
 * no announcement crosses.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, describe, it } from "node:test";
import { ApiClient } from "../../src/api/client.ts";
import { relayArg } from "../../src/cli/commands/node.ts";
import { regtest } from "../../src/consensus/params.ts";
import type { BlockRecord } from "../../src/consensus/records.ts";
import { realServices } from "../../src/node/adapters.ts";
import { JbcNode } from "../../src/node/node.ts";
import { makeChild } from "../helpers/blocks.ts";
import { tempDir } from "../helpers/chain.ts";
import { waitFor } from "../helpers/wait.ts";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function start(relay: "compact" | "full", peers: string[] = []): Promise<JbcNode> {
  const datadir = tempDir("jbc-node-relay-");
  dirs.push(datadir);
  const { network } = realServices();
  return JbcNode.create(
    { params: regtest, datadir, http: { port: 0 }, p2p: { host: "127.0.0.1", port: 0, peers, relay } },
    { network },
  );
}

/**
 * Mines one block with `count` records on `miner` (the records admitted to both pools first) and returns the
 * gossip topics `receiver` judged until the block was its tip.
 */
async function relayOne(miner: JbcNode, receiver: JbcNode, count: number): Promise<Set<string>> {
  const records: BlockRecord[] = [];
  for (let i = 0; i < count; i++)
    records.push({ type: "data", data: new TextEncoder().encode(`relay test ${i}`) });
  for (const n of [miner, receiver])
    for (const r of records) assert.equal((await n.mempool.admit(r, { kind: "api" })).ok, true);
  const topics = new Set<string>();
  const onGossip = (e: { topic: string; direction: string }): void => {
    if (e.direction === "in") topics.add(e.topic);
  };
  receiver.events.on("gossip", onGossip);
  const tip = (await miner.chain.getBlock(miner.chain.tip.hash))!;
  const block = makeChild(tip, regtest, { miner: "relay-test", records });
  assert.equal((await miner.chain.processBlock(block)).status, "main");
  await waitFor(() => receiver.chain.height === miner.chain.height, {
    timeoutMs: 20_000,
    what: "the block to reach the peer",
  });
  receiver.events.off("gossip", onGossip);
  return topics;
}

/** Starts `relay` on a miner and a compact receiver dialing it; resolves once both see each other. */
async function pair(relay: "compact" | "full"): Promise<[JbcNode, JbcNode]> {
  const miner = await start(relay);
  const { multiaddrs } = await new ApiClient(miner.url).p2p();
  const receiver = await start("compact", [multiaddrs[0]!]);
  const apis = [miner, receiver].map((n) => new ApiClient(n.url));
  await waitFor(async () => (await Promise.all(apis.map((a) => a.status()))).every((s) => s.peers > 0), {
    timeoutMs: 20_000,
    what: "the nodes to join",
  });
  // Identify and the gossipsub mesh take a heartbeat or two after the join.
  await new Promise((r) => setTimeout(r, 1_500));
  return [miner, receiver];
}

describe("jbc node --relay", () => {
  it("parses compact and full, refuses anything else", () => {
    assert.equal(relayArg("compact"), "compact");
    assert.equal(relayArg("full"), "full");
    assert.throws(() => relayArg("cmpct"), /expected compact or full/);
  });

  for (const relay of ["compact", "full"] as const) {
    it(`relay ${relay}: the block crosses as ${relay === "compact" ? "a compact announcement" : "a whole gossiped block"}`, {
      timeout: 90_000,
    }, async () => {
      const [miner, receiver] = await pair(relay);
      try {
        const topics = await relayOne(miner, receiver, 20);
        if (relay === "compact") assert.ok(topics.has("cmpct"), `topics ${[...topics]}`);
        else {
          assert.ok(topics.has("blocks"), `topics ${[...topics]}`);
          assert.ok(!topics.has("cmpct"), `topics ${[...topics]}`);
        }
      } finally {
        await Promise.all([miner.stop(), receiver.stop()]);
      }
    });
  }
});
