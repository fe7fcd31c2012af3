/**
 * GET /api/events `checkpoint` events from a real node with P2P and its witness (real LevelDB, real
 * libp2p on 127.0.0.1, real HTTP): the node's own key is its one configured witness (quorum 1, depth 1),
 * so each block it connects makes it sign the block below, and the stream says so with the height, the
 * hash, the signer and the time it was stored.
 */

import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import type { CheckpointEvent } from "../../src/api/backend.ts";
import { ApiClient, type StreamEvent } from "../../src/api/client.ts";
import { encodeBlock } from "../../src/consensus/block.ts";
import { noteSigner } from "../../src/consensus/note.ts";
import { regtest } from "../../src/consensus/params.ts";
import { loadOrCreatePeerKey } from "../../src/net/identity.ts";
import { JbcNode } from "../../src/node/node.ts";
import { blockHash, makeChain } from "../helpers/blocks.ts";
import { tempDir } from "../helpers/chain.ts";

const dir = tempDir("jbc-api-checkpoint-");
let node: JbcNode;
let api: ApiClient;
let name = "";

before(async () => {
  const key = await loadOrCreatePeerKey(join(dir, "p2p", "peer.key"));
  name = peerIdFromPrivateKey(key).toString();
  node = await JbcNode.create({
    params: regtest,
    datadir: dir,
    http: { host: "127.0.0.1", port: 0 },
    p2p: { host: "127.0.0.1", port: 0 },
    witness: { witnesses: [noteSigner(name, key.raw.subarray(0, 32))], quorum: 1, depth: 1 },
  });
  api = new ApiClient(node.url);
});

after(async () => {
  await node?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("each checkpoint the witness signs is a checkpoint event with its height, hash, signer and time", async () => {
  const events: StreamEvent[] = [];
  const ac = new AbortController();
  const done = api.events((e) => events.push(e), ac.signal);
  const deadline = Date.now() + 10_000;
  while (!events.some((e) => e.event === "hello") && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 20));
  const chain = makeChain(regtest, 3, { spacing: 1 });
  const start = Date.now();
  for (const b of chain.slice(1)) await api.submitBlock(encodeBlock(b));
  while (events.filter((e) => e.event === "checkpoint").length < 2 && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 20));
  ac.abort();
  await done;
  const cps = events.filter((e) => e.event === "checkpoint").map((e) => e.data as CheckpointEvent);
  // Blocks 2 and 3 bring heights 1 and 2 to depth 1: one signature each, the quorum of one.
  assert.deepEqual(
    cps.map(({ time: _, ...rest }) => rest),
    [1, 2].map((h) => ({
      height: h,
      hash: blockHash(chain[h]!),
      signer: name,
      witness: true,
      count: 1,
      quorum: true,
    })),
  );
  for (const c of cps)
    assert.ok(c.time >= start && c.time <= Date.now(), `time ${c.time} is when it was stored`);
});
