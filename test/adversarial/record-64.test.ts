/**
 * The 64-byte rule on every path a record takes (docs/security.md, "64-byte records"): gossip into the
 * mempool, a gossiped block, a mined template, and the miner's own record through `--miner`.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import { type Block, encodeBlock } from "../../src/consensus/block.ts";
import { regtest } from "../../src/consensus/params.ts";
import { encodeRecord, minerNameProblem, minerRecordSize } from "../../src/consensus/records.ts";
import { Mempool } from "../../src/mempool/index.ts";
import { Miner } from "../../src/mining/miner.ts";
import type { PeerInfo } from "../../src/net/index.ts";
import { makeChain } from "../helpers/blocks.ts";
import { openHarness } from "../helpers/chain.ts";
import { blockWith, carrierFor, utf8 } from "../helpers/forgery.ts";
import { importBlocks, startNode, type TestNode, waitFor, waitForSubscriber } from "../helpers/net.ts";

const run = promisify(execFile);
const BIN = new URL("../../bin/jbc.mjs", import.meta.url).pathname;
const carrier = carrierFor();
const running = new Set<TestNode>();
after(async () => {
  await Promise.all([...running].map((n) => n.stop()));
});

async function node(mempool?: Mempool): Promise<TestNode> {
  const n = await startNode(regtest, mempool ? { mempool } : {});
  running.add(n);
  return n;
}
const addr = (n: TestNode): string => n.net.multiaddrs()[0]!;
const peerOf = (n: TestNode, id: string): PeerInfo | undefined =>
  n.net.getPeers().find((p) => p.peerId === id);

describe("attack: 64-byte records on every path", () => {
  it("gossiped to the mempool: refused and the sender penalised; a 63- and 65-byte record pass", async () => {
    const pool = new Mempool({ params: regtest, isConfirmed: () => false });
    const victim = await node(pool);
    const sender = await node(new Mempool({ params: regtest, isConfirmed: () => false }));
    await sender.net.addPeer(addr(victim));
    await waitFor(
      () => sender.net.libp2p.services.pubsub.getSubscribers(sender.net.recordsTopic).length >= 1,
      5_000,
      "records subscription",
    );
    const publish = (bytes: Uint8Array) =>
      sender.net.libp2p.services.pubsub.publish(sender.net.recordsTopic, bytes);
    for (const size of [61, 63])
      await publish(encodeRecord({ type: "data", data: new Uint8Array(size).fill(size) }));
    await waitFor(() => pool.size === 2, 5_000, "the 63- and 65-byte records admitted");
    const codes: string[] = [];
    victim.net.on("gossip", (e) => {
      if (e.topic === "records" && e.direction === "in" && e.code) codes.push(e.code);
    });
    await publish(encodeRecord(carrier));
    await waitFor(() => codes.includes("RECORD_64_BYTES"), 5_000, "the verdict");
    assert.equal(pool.size, 2, "the carrier did not enter the pool");
    await waitFor(
      () =>
        (peerOf(victim, sender.net.peerId)?.score ?? 100) >= 100 ||
        victim.net.getBans().has(sender.net.peerId),
      5_000,
      "penalty",
    );
  });

  it("in a gossiped block: refused (not cached), the sender penalised, the tip unmoved", async () => {
    const base = makeChain(regtest, 1);
    const bad: Block = blockWith(regtest, base[1]!, 2, [carrier]);
    const victim = await node();
    const sender = await node();
    await importBlocks(victim.tc.chain, base.slice(1));
    await importBlocks(sender.tc.chain, base.slice(1));
    await sender.net.addPeer(addr(victim));
    await waitForSubscriber(sender);
    const invalid: string[] = [];
    victim.tc.chain.on("invalid", (e) => invalid.push(e.code));
    const banned: string[] = [];
    victim.net.on("peer:banned", (e) => banned.push(e.peerId));
    await sender.net.libp2p.services.pubsub.publish(sender.net.topic, encodeBlock(bad));
    await waitFor(() => banned.includes(sender.net.peerId), 5_000, "the sender banned");
    assert.deepEqual(invalid, ["RECORD_64_BYTES"]);
    assert.equal(victim.tc.chain.height, 1);
  });

  it("in a mined template: left out, and the block found is valid", async () => {
    const h = await openHarness(regtest);
    const ok = { type: "data" as const, data: utf8.encode("an ordinary note") };
    const miner = new Miner({
      getContext: (now) => h.chain.nextBlockContext(now),
      submit: (block) => h.chain.processBlock(block),
      onTip: (listener) => {
        h.chain.on("tip", listener);
        return () => h.chain.off("tip", listener);
      },
      minerName: "template-test",
      threads: 1,
      now: () => h.clock.now,
      statsIntervalMs: 0,
      records: () => [carrier, ok],
    });
    try {
      const found = new Promise<string>((resolve, reject) => {
        miner.on("error", reject);
        miner.on("block", (b) => resolve(b.result.status));
      });
      await miner.start();
      assert.equal(await found, "main");
      await miner.stop();
      const stored = await h.chain.getBlock(h.chain.tip.hash);
      assert.equal(stored?.records.length, 2, "the miner record and the ordinary note only");
      assert.deepEqual(
        stored?.records.map((r) => encodeRecord(r).length !== 64),
        [true, true],
      );
    } finally {
      await miner.stop();
      await h.dispose();
    }
  });

  it("the miner's own record: a name that makes it 64 bytes is refused up front, with the reason", async () => {
    const fifty = "x".repeat(50);
    assert.equal(minerRecordSize(fifty), 64);
    assert.match(minerNameProblem(fifty) ?? "", /64-byte miner record/);
    assert.equal(minerNameProblem("x".repeat(49)), undefined);
    assert.equal(minerNameProblem("x".repeat(51)), undefined);
    assert.throws(
      () =>
        new Miner({
          getContext: () => {
            throw new Error("unused");
          },
          submit: async () => {
            throw new Error("unused");
          },
          onTip: () => () => {},
          minerName: fifty,
        }),
      RangeError,
    );
    for (const cmd of [
      ["node", "--miner", fifty, "--no-p2p"],
      ["mine", "--miner", fifty],
    ]) {
      const r = await run(process.execPath, [BIN, ...cmd, "--network", "regtest"]).then(
        () => ({ code: 0, stderr: "" }),
        (err: { code: number; stderr: string }) => err,
      );
      assert.equal(r.code, 2, `jbc ${cmd[0]} exits 2`);
      assert.match(r.stderr, /64-byte miner record/);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
  });
});
