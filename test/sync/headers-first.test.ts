/**
 * Headers-first sync from every peer (issue 21, item 2) between real libp2p nodes on 127.0.0.1, each with its
 * own Chain on LevelDB: a fresh node downloads the headers, then the bodies from all three peers at once,
 * and a peer that stalls the download is found out, left out and hung up on while the others finish it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { regtest } from "../../src/consensus/params.ts";
import type { SyncDone } from "../../src/sync/types.ts";
import {
  addrOf,
  buildChain,
  dataRecords,
  hashOf,
  importBlocks,
  type NodeOptions,
  nodeStarter,
  type TestNode,
  waitFor,
} from "../helpers/net.ts";
import { serveBlocksWith } from "../helpers/sync-peers.ts";

const node = nodeStarter(regtest);

// 1,200 blocks of 20 records of 200 bytes (about 4 KB each): enough requests for every peer to get some.
const blocks = buildChain(regtest, 1_200, regtest.genesis, { records: (h) => dataRecords(h, 20, 200) });

async function servers(n: number): Promise<TestNode[]> {
  const out: TestNode[] = [];
  for (let i = 0; i < n; i++) {
    const a = await node();
    await importBlocks(a.tc.chain, blocks);
    out.push(a);
  }
  return out;
}

/** A fresh node that dials `peers` at once, and its first sync:done. */
async function syncer(peers: TestNode[], limits: NodeOptions["limits"] = {}) {
  const b = await node({ peers: peers.map(addrOf), limits: { syncWindow: { maxBlocks: 64 }, ...limits } });
  const done: SyncDone[] = [];
  b.net.on("sync:done", (e) => done.push(e));
  return { b, done };
}

describe("headers-first sync from every peer (real libp2p, LevelDB)", () => {
  it("downloads the bodies from three peers, each serving a share, and imports them in order", async () => {
    const peers = await servers(3);
    const { b, done } = await syncer(peers);
    await waitFor(() => b.tc.chain.height === 1_200, 60_000, "synced");
    assert.equal(b.tc.chain.tip.hash, hashOf(blocks.at(-1)!));
    const served: Record<string, number> = {};
    for (const d of done)
      for (const [id, n] of Object.entries(d.served ?? {})) served[id] = (served[id] ?? 0) + n;
    for (const a of peers) assert.ok((served[a.net.peerId] ?? 0) > 0, `peer ${a.net.peerId} served a share`);
    assert.equal(
      Object.values(served).reduce((x, y) => x + y, 0),
      1_200,
    );
    for (const a of peers) {
      const info = b.net.getPeers().find((p) => p.peerId === a.net.peerId);
      assert.equal(info?.score ?? 0, 0, "an honest peer is not penalised");
    }
  });

  it("finds a peer that stalls the window, reassigns its blocks and hangs up on it; the sync completes", async () => {
    const [a1, a2, staller] = await servers(3);
    const asked = await serveBlocksWith(staller!, async () => "stall");
    const t0 = performance.now();
    const { b, done } = await syncer([a1!, a2!, staller!], {
      requestTimeoutMs: 60_000,
      syncWindow: { maxBlocks: 64, stallMs: 500 },
    });
    const left: string[] = [];
    b.net.on("peer:left", (p) => left.push(p.peerId));
    await waitFor(() => b.tc.chain.height === 1_200, 40_000, "synced despite the staller");
    const ms = performance.now() - t0;
    assert.ok(asked.blockRequests > 0, "the staller was asked for blocks");
    assert.ok(ms < 30_000, `done in ${Math.round(ms)} ms, long before the 60 s request timeout`);
    for (const d of done) assert.equal(d.served?.[staller!.net.peerId] ?? 0, 0);
    // Hung up on, and TIMEOUT's 5 points, seen once the dialer brings it back (it is a configured peer).
    assert.ok(left.includes(staller!.net.peerId), "the staller was disconnected");
    assert.ok(!left.includes(a1!.net.peerId) && !left.includes(a2!.net.peerId));
    await waitFor(
      () => (b.net.getPeers().find((p) => p.peerId === staller!.net.peerId)?.score ?? 0) >= 5,
      15_000,
      "staller penalised",
    );
  });
});
