/**
 * The headers-first sync loop and its body window against the real Chain on a real LevelStore
 * (test/helpers/chain.ts), with fake fetchers in place of the network: each fake peer serves its own block
 * list's headers and bodies by locator, as /jbc/headers/1 and /jbc/blocks do. No libp2p (the same over real
 * libp2p: test/sync/headers-first.test.ts, test/adversarial/sync-liars.test.ts).
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { encodeBlock } from "../../src/consensus/block.ts";
import { encodeHeader } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import type { SyncOptions } from "../../src/sync/sync.ts";
import { blockHash } from "../helpers/blocks.ts";
import { type Harness, openHarness } from "../helpers/chain.ts";
import { after, type FakePeer, MORE_WORK, makeSync as makeFakeSync, peer } from "../helpers/fake-sync.ts";
import { buildChain, dataRecords } from "../helpers/net.ts";

let h: Harness;
beforeEach(async () => {
  h = await openHarness(regtest);
});
afterEach(async () => {
  await h.dispose();
});

const makeSync = (peers: FakePeer[], extra: Partial<SyncOptions<FakePeer>> = {}) =>
  makeFakeSync(h, peers, extra);

describe("Sync (headers first)", () => {
  it("downloads the bodies from every peer in a moving window and imports them in height order", async () => {
    const chain = buildChain(regtest, 400);
    const peers = [peer("a", chain), peer("b", chain), peer("c", chain)];
    const { sync, outcomes, progress } = makeSync(peers, { window: { maxBlocks: 64 } });
    sync.request();
    await sync.idle();
    assert.equal(h.chain.height, 400);
    assert.equal(h.chain.tip.hash, blockHash(chain.at(-1)!));
    const served = outcomes[0]!.served;
    for (const p of peers) assert.ok((served[p.id] ?? 0) > 0, `${p.id} served a share`);
    assert.equal(
      Object.values(served).reduce((x, y) => x + y, 0),
      400,
    );
    assert.ok(progress.length > 0);
    assert.deepEqual(
      progress.map((e) => e.height),
      [...progress.map((e) => e.height)].sort((x, y) => x - y),
    );
    // A window of 64 heights: no request starts further than that above what was imported... at most.
    for (const p of peers) for (const a of p.asked) assert.ok(a <= 400);
  });

  it("asks header ranges of every peer at once; a range that does not follow the one below costs nothing", async () => {
    // 2,100 blocks: two ranges (2,000 and 100); a claims more work, so it is asked the first and b the
    // second, skipped one, which b answers from another chain.
    const chain = buildChain(regtest, 2_100);
    const other = buildChain(regtest, 2_100, regtest.genesis, { miner: "other" });
    const a = peer("a", chain);
    a.status.work = MORE_WORK + 1n;
    const b = peer("b", chain);
    const skips: Array<[string, number]> = [];
    const { sync, faults } = makeSync([a, b], {
      fetchHeaders: async (p, locator, max, skip = 0) => {
        skips.push([p.id, skip]);
        const src = p.id === "b" && skip > 0 ? { ...p, blocks: other } : p;
        return after(src, locator, max + skip)
          .slice(skip)
          .map((x) => encodeHeader(x.header));
      },
    });
    sync.request();
    await sync.idle();
    assert.equal(h.chain.height, 2_100);
    assert.equal(h.chain.tip.hash, blockHash(chain.at(-1)!));
    assert.deepEqual(skips.slice(0, 2), [
      ["a", 0],
      ["b", 2_000],
    ]);
    assert.deepEqual(faults, [], "a range that does not link is not a fault");
  });

  it("a peer that joins during the header download takes the ranges still waiting", async () => {
    // 4,100 blocks: three ranges. Only a has joined when the download starts: it takes two (2 in flight per
    // peer), the third waits. b joins before a answers, so the third is b's (a plan fixed at the start gave
    // all three to a, and b could be asked for no body until the last header came).
    const chain = buildChain(regtest, 4_100);
    const a = peer("a", chain);
    const b = peer("b", chain);
    const joined: FakePeer[] = [a];
    const skips: Array<[string, number]> = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { sync, outcomes } = makeSync([], {
      peers: () => joined,
      fetchHeaders: async (p, locator, max, skip = 0) => {
        skips.push([p.id, skip]);
        if (p.id === "a") await gate;
        return after(p, locator, max + skip)
          .slice(skip)
          .map((x) => encodeHeader(x.header));
      },
    });
    sync.request();
    while (skips.length < 2) await new Promise((r) => setImmediate(r));
    joined.push(b);
    release();
    await sync.idle();
    assert.equal(h.chain.height, 4_100);
    assert.deepEqual(skips.slice(0, 3), [
      ["a", 0],
      ["a", 2_000],
      ["b", 4_000],
    ]);
    assert.ok((outcomes[0]?.served.b ?? 0) > 0, "b served bodies");
  });

  it("asks a peer only for the blocks its headers show (a shorter chain serves its part)", async () => {
    const chain = buildChain(regtest, 300);
    const short = peer("short", chain.slice(0, 100));
    const long = peer("long", chain);
    const { sync } = makeSync([short, long], { window: { maxBlocks: 32 } });
    sync.request();
    await sync.idle();
    assert.equal(h.chain.height, 300);
    assert.ok(short.asked.length > 0, "the shorter peer served its part");
    for (const a of short.asked) assert.ok(a <= 100, `asked the short peer from ${a}`);
  });

  it("reports a failed request and a body that is not its header's, and fetches those blocks from the others", async () => {
    const chain = buildChain(regtest, 200, regtest.genesis, { records: (x) => dataRecords(x, 2, 50) });
    const other = buildChain(regtest, 200, regtest.genesis, { miner: "other" });
    const failing = peer("failing", chain, () => {
      throw new Error("connection reset");
    });
    const lying = peer("lying", chain, (served) => [served[0]!, encodeBlock(other[1]!), ...served.slice(2)]);
    const honest = peer("honest", chain);
    const { sync, faults, outcomes } = makeSync([failing, lying, honest], { window: { maxBlocks: 32 } });
    sync.request();
    await sync.idle();
    assert.equal(h.chain.height, 200);
    const kinds = faults.map((f) => f.kind).sort();
    assert.ok(kinds.includes("fetch-failed") && kinds.includes("mismatch"), kinds.join());
    assert.equal(outcomes[0]!.served.failing ?? 0, 0);
  });

  it("does not follow a peer whose headers break a rule, and reports it", async () => {
    const chain = buildChain(regtest, 50);
    const liar = peer("liar", chain);
    const { sync, faults } = makeSync([liar], {
      fetchHeaders: async (p, locator, max) => {
        const hs = after(p, locator, max).map((b) => encodeHeader(b.header));
        hs[10] = encodeHeader({ ...p.blocks[10]!.header, bits: 0x1d00ffff }); // not regtest's bits (and no work)
        return hs;
      },
    });
    sync.request();
    await sync.idle();
    assert.equal(h.chain.height, 0, "no body asked for on its word");
    assert.equal(liar.calls.length, 0);
    assert.equal(faults[0]?.kind, "bad-headers");
  });

  it("stop cancels a running download and no sync starts afterwards", async () => {
    const chain = buildChain(regtest, 300);
    const slow = peer("slow", chain);
    const { sync } = makeSync([slow], {
      fetchBlocks: (_p, _l, { signal }) =>
        new Promise((_, reject) =>
          signal.addEventListener("abort", () => reject(signal.reason), { once: true }),
        ),
    });
    sync.request();
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(sync.running);
    await sync.stop();
    assert.equal(sync.running, false);
    sync.request();
    assert.equal(sync.running, false);
    assert.equal(h.chain.height, 0);
  });
});
