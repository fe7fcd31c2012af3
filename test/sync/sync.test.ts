/**
 * The sync loop and batch import against the real Chain on a real LevelStore (test/helpers/chain.ts), with
 * a fake fetcher in place of the network: each fake peer serves its own block list by locator, as the
 * blocks protocol does. No libp2p.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { type Block, encodeBlock } from "../../src/consensus/block.ts";
import { BlockError } from "../../src/consensus/errors.ts";
import { hashToHex } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import { Sync, type SyncOptions } from "../../src/sync/sync.ts";
import {
  SkipUnsupportedError,
  type SyncOutcome,
  type SyncPeer,
  type SyncProgress,
} from "../../src/sync/types.ts";
import { silentLogger } from "../../src/util/logger.ts";
import { blockHash, makeChild } from "../helpers/blocks.ts";
import { type Harness, openHarness } from "../helpers/chain.ts";
import { buildChain, dataRecords } from "../helpers/net.ts";

/** Claimed work far above anything these chains reach. */
const MORE_WORK = 1n << 200n;

interface FakePeer extends SyncPeer {
  status: { height: number; work: bigint };
  /** The peer's main chain after genesis (index 0 is height 1). */
  blocks: Block[];
  /** Replaces the served answer (an error to throw, or blocks to send instead). */
  answer?: (served: Uint8Array[], call: number) => Uint8Array[];
  calls: Uint8Array[][];
}

function peer(id: string, blocks: Block[], answer?: FakePeer["answer"]): FakePeer {
  return {
    id,
    status: { height: blocks.length, work: MORE_WORK },
    stalledAt: undefined,
    blocks,
    calls: [],
    ...(answer ? { answer } : {}),
  };
}

/**
 * What a peer serves: up to `max` blocks after the highest locator hash on its chain (genesis if none),
 * past the first `skip`, and (with `maxBytes`) no more block bytes than that, as the blocks protocol does.
 */
function serve(p: FakePeer, locator: Uint8Array[], max: number, skip = 0, maxBytes = Infinity): Uint8Array[] {
  const heights = new Map(p.blocks.map((b, i) => [blockHash(b), i + 1]));
  let fork = 0;
  for (const h of locator) {
    const height = heights.get(hashToHex(h));
    if (height !== undefined) {
      fork = height;
      break;
    }
  }
  const out: Uint8Array[] = [];
  let bytes = 0;
  for (const b of p.blocks.slice(fork + skip, fork + skip + max)) {
    const raw = encodeBlock(b);
    if (bytes + raw.length > maxBytes) break;
    bytes += raw.length;
    out.push(raw);
  }
  return out;
}

let h: Harness;
beforeEach(async () => {
  h = await openHarness(regtest);
});
afterEach(async () => {
  await h.dispose();
});

function makeSync(
  peers: FakePeer[],
  extra: Partial<SyncOptions<FakePeer>> = {},
): { sync: Sync<FakePeer>; outcomes: SyncOutcome[]; progress: SyncProgress[] } {
  const outcomes: SyncOutcome[] = [];
  const progress: SyncProgress[] = [];
  const sync = new Sync<FakePeer>({
    chain: h.chain,
    peers: () => peers,
    batchSize: 50,
    logger: silentLogger,
    progressMinBlocks: 100,
    progressIntervalMs: 0,
    fetchBlocks: async (p, locator, { max, skip }) => {
      p.calls.push(locator);
      const served = serve(p, locator, max, skip);
      return p.answer ? p.answer(served, p.calls.length) : served;
    },
    onProgress: (e) => progress.push(e),
    onOutcome: (_p, o) => {
      outcomes.push(o);
    },
    ...extra,
  });
  return { sync, outcomes, progress };
}

describe("Sync", () => {
  it("downloads a peer's chain in pipelined batches and reports progress", async () => {
    const blocks = buildChain(regtest, 230);
    const p = peer("good", blocks);
    const { sync, outcomes, progress } = makeSync([p]);
    sync.request();
    assert.equal(sync.running, true);
    await sync.idle();
    assert.equal(sync.running, false);
    assert.equal(h.chain.height, 230);
    assert.equal(h.chain.tip.hash, blockHash(blocks[229]!));
    // 230 blocks in batches of 50: five full-or-partial batches; a full batch asks for more from its last hash.
    assert.equal(p.calls.length, 5);
    assert.equal(
      hashToHex(p.calls[1]![0]!),
      blockHash(blocks[49]!),
      "second request follows the first batch",
    );
    assert.equal(outcomes.length, 1);
    assert.equal(outcomes[0]!.blocks, 230);
    assert.equal(outcomes[0]!.height, 230);
    assert.equal(outcomes[0]!.fault, undefined);
    assert.ok(progress.length >= 1, "a sync of more than progressMinBlocks reports progress");
    const heights = progress.map((e) => e.height);
    assert.deepEqual(
      heights,
      [...heights].sort((a, b) => a - b),
      "progress heights only grow",
    );
    assert.ok(progress.every((e) => e.target === 230 && e.peer === "good"));
    // The peer claims more work than its blocks carry: it is not asked again until it claims more.
    assert.equal(p.stalledAt, MORE_WORK);
    assert.equal(sync.bestPeer(), undefined);
  });

  it("imports a batch through processBlocks, stored for good (survives a restart)", async () => {
    const blocks = buildChain(regtest, 20);
    const { sync } = makeSync([]);
    const fault = await sync.importBatch(blocks.map((b) => encodeBlock(b)));
    assert.equal(fault, undefined);
    assert.equal(h.chain.height, 20);
    await h.restart();
    assert.equal(h.chain.height, 20);
    assert.equal(h.chain.tip.hash, blockHash(blocks[19]!));
  });

  it("imports the blocks before undecodable bytes, then reports them", async () => {
    const blocks = buildChain(regtest, 6);
    const raws = blocks.map((b) => encodeBlock(b));
    raws[3] = raws[3]!.subarray(0, 90); // a header and a few bytes of body
    const { sync } = makeSync([]);
    const fault = await sync.importBatch(raws);
    assert.equal(fault?.kind, "undecodable");
    assert.equal(h.chain.height, 3);
  });

  it("stops at a bad block, reports it for the peer's penalty, and switches to another peer", async () => {
    const good = buildChain(regtest, 60);
    // The bad peer's chain shares 10 blocks, then has a properly mined block with a wrong height.
    const bad = good.slice(0, 10);
    bad.push(makeChild(bad[9]!, regtest, { time: bad[9]!.header.time + 1, height: 99, miner: "liar" }));
    bad.push(...buildChain(regtest, 20, bad[10]!, { miner: "liar" }));
    const liar = peer("liar", bad);
    liar.status.work = MORE_WORK + 1n; // the liar looks best, so it is tried first
    const honest = peer("honest", good);
    const { sync, outcomes } = makeSync([liar, honest]);
    sync.request();
    await sync.idle();
    assert.equal(outcomes.length, 2);
    const [first, second] = outcomes;
    assert.equal(first!.peer, "liar");
    assert.equal(first!.blocks, 10, "blocks before the bad one are kept");
    assert.equal(first!.fault?.kind, "invalid-block");
    const err = first!.fault?.kind === "invalid-block" ? first!.fault.error : undefined;
    assert.ok(err instanceof BlockError);
    assert.equal(err.code, "BAD_HEIGHT");
    assert.ok(err.penalty > 0, "the fault carries the chain's penalty for the sender");
    assert.equal(second!.peer, "honest");
    assert.equal(second!.fault, undefined);
    assert.equal(h.chain.height, 60);
    assert.equal(h.chain.tip.hash, blockHash(good[59]!));
    assert.equal(
      h.chain.getEntry(blockHash(bad[10]!))?.height,
      undefined,
      "the bad block is not on our chain",
    );
  });

  it("reports a response that does not connect, or leaves a gap", async () => {
    const blocks = buildChain(regtest, 10);
    const unconnected = peer("unconnected", blocks, (served) => served.slice(2));
    // Its own chain: the first peer's blocks now wait in the orphan pool, and would come back as duplicates.
    const other = buildChain(regtest, 10, regtest.genesis, { miner: "gappy" });
    const gappy = peer("gappy", other, (served) => [served[0]!, ...served.slice(2)]);
    gappy.status.work = MORE_WORK - 1n;
    const { sync, outcomes } = makeSync([unconnected, gappy]);
    sync.request();
    await sync.idle();
    assert.deepEqual(
      outcomes.map((o) => [o.peer, o.fault?.kind, o.blocks]),
      [
        ["unconnected", "unconnected", 0],
        ["gappy", "out-of-order", 1],
      ],
    );
    assert.equal(h.chain.height, 1);
  });

  it("ends a sync from a peer that returns nothing, without fault, and does not retry it", async () => {
    const empty = peer("empty", buildChain(regtest, 5), () => []);
    const { sync, outcomes } = makeSync([empty]);
    sync.request();
    await sync.idle();
    assert.equal(outcomes.length, 1);
    assert.equal(outcomes[0]!.blocks, 0);
    assert.equal(outcomes[0]!.fault, undefined);
    assert.equal(empty.stalledAt, MORE_WORK);
    // Asked again, it is not retried at the same claim; a higher claim makes it worth another try.
    sync.request();
    await sync.idle();
    assert.equal(empty.calls.length, 1);
    empty.status.work = MORE_WORK + 1n;
    sync.request();
    await sync.idle();
    assert.equal(empty.calls.length, 2);
    assert.equal(h.chain.height, 0);
  });

  it("reports a failed request as the peer's fault to judge, and moves on to the next peer", async () => {
    const blocks = buildChain(regtest, 80);
    const failure = new Error("connection reset");
    // Serves the first batch, then fails.
    const flaky = peer("flaky", blocks, (served, call) => {
      if (call > 1) throw failure;
      return served;
    });
    flaky.status.work = MORE_WORK + 1n;
    const steady = peer("steady", blocks);
    const { sync, outcomes } = makeSync([flaky, steady]);
    sync.request();
    await sync.idle();
    assert.equal(outcomes[0]!.peer, "flaky");
    assert.equal(outcomes[0]!.blocks, 50);
    assert.deepEqual(outcomes[0]!.fault, { kind: "fetch-failed", error: failure });
    assert.equal(outcomes[1]!.peer, "steady");
    assert.equal(outcomes[1]!.blocks, 30);
    assert.equal(h.chain.height, 80);
  });

  it("stop cancels a running download and no sync starts afterwards", async () => {
    const blocks = buildChain(regtest, 100);
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    const p = peer("slow", blocks);
    const { sync, outcomes } = makeSync([p], {
      fetchBlocks: async (_p, _locator, { signal }) => {
        await Promise.race([
          held,
          new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))),
        ]);
        return [];
      },
    });
    sync.request();
    const stopped = sync.stop();
    await stopped;
    release();
    assert.equal(sync.running, false);
    assert.equal(outcomes[0]?.fault, undefined, "a cancelled download is nobody's fault");
    sync.request();
    assert.equal(sync.running, false);
    assert.equal(h.chain.height, 0);
  });

  describe("pipelined (three requests in flight)", () => {
    /** A fetcher answering after `ms`, recording each request's skip and the most requests in flight. */
    function timed(ms: number, maxBytes = Infinity, before?: (p: FakePeer, skip: number) => void) {
      const seen = { skips: [] as number[], inFlight: 0, most: 0 };
      const fetchBlocks: SyncOptions<FakePeer>["fetchBlocks"] = async (p, locator, { max, skip = 0 }) => {
        p.calls.push(locator);
        seen.skips.push(skip);
        seen.most = Math.max(seen.most, ++seen.inFlight);
        try {
          await new Promise((r) => setTimeout(r, ms));
          before?.(p, skip);
          return serve(p, locator, max, skip, maxBytes);
        } finally {
          seen.inFlight--;
        }
      };
      return { seen, fetchBlocks };
    }

    it("keeps three batches in flight from one anchor and imports them in height order", async () => {
      const blocks = buildChain(regtest, 430);
      const p = peer("far", blocks);
      const { seen, fetchBlocks } = timed(30);
      const tips: number[] = [];
      h.chain.on("tip", (e) => tips.push(e.tip.height));
      const { sync, outcomes } = makeSync([p], { pipeline: 3, fetchBlocks });
      sync.request();
      await sync.idle();
      assert.equal(h.chain.tip.hash, blockHash(blocks[429]!));
      assert.equal(outcomes[0]!.fault, undefined);
      assert.equal(seen.most, 3, "three requests in flight at once");
      // After the first batch every request names the same anchor and skips to its range.
      assert.deepEqual(seen.skips.slice(0, 4), [0, 50, 100, 150]);
      assert.ok(
        p.calls.every((l) => hashToHex(l[0]!) === hashToHex(p.calls[0]![0]!)),
        "one anchor",
      );
      assert.deepEqual(
        tips,
        [...tips].sort((a, b) => a - b),
        "the tip only moves up",
      );
      assert.equal(tips.at(-1), 430);
    });

    it("completes batches cut short by the response's byte bound", async () => {
      // Blocks of about 1 KB and responses bounded at 8 KB: every batch is short of the 50 asked for.
      const blocks = buildChain(regtest, 120, regtest.genesis, { records: (ht) => dataRecords(ht, 1, 1000) });
      const size = encodeBlock(blocks[0]!).length;
      const maxBytes = 8 * size + 10;
      const p = peer("bounded", blocks);
      const { seen, fetchBlocks } = timed(5, maxBytes);
      const { sync, outcomes } = makeSync([p], { pipeline: 3, fetchBlocks, maxResponseBytes: maxBytes });
      sync.request();
      await sync.idle();
      // Before, a short batch ended the sync: 8 blocks, and the peer was not asked again.
      assert.equal(h.chain.height, 120);
      assert.equal(outcomes[0]!.fault, undefined);
      assert.equal(seen.most, 1, "no more than one response's bytes in flight");
    });

    it("starts again from its new locator when the peer's chain moves during the download", async () => {
      const blocks = buildChain(regtest, 200);
      // After the first request, the peer reorganises from height 60 to a longer branch.
      const branch = [...blocks.slice(0, 60), ...buildChain(regtest, 200, blocks[59]!, { miner: "other" })];
      const p = peer("moving", blocks);
      const { fetchBlocks } = timed(10, Infinity, (fp, skip) => {
        if (skip > 0) fp.blocks = branch;
      });
      const { sync, outcomes } = makeSync([p], { pipeline: 3, fetchBlocks });
      sync.request();
      await sync.idle();
      assert.equal(outcomes[0]!.fault, undefined, "a peer's reorg is not a fault");
      assert.equal(h.chain.tip.hash, blockHash(branch.at(-1)!));
    });

    it("falls back to one request at a time for a peer that cannot skip", async () => {
      const blocks = buildChain(regtest, 160);
      const p = peer("old", blocks);
      const skips: number[] = [];
      const { sync, outcomes } = makeSync([p], {
        pipeline: 3,
        fetchBlocks: async (fp, locator, { max, skip = 0 }) => {
          skips.push(skip);
          if (skip > 0) throw new SkipUnsupportedError(fp.id);
          fp.calls.push(locator);
          return serve(fp, locator, max);
        },
      });
      sync.request();
      await sync.idle();
      assert.equal(outcomes[0]!.fault, undefined);
      assert.equal(h.chain.height, 160);
      assert.equal(hashToHex(p.calls[1]![0]!), blockHash(blocks[49]!), "then each request follows a batch");
    });
  });
});
