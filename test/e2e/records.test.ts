/**
 * Records end to end: real `jbc node` processes (regtest, real LevelDB, P2P on 127.0.0.1) driven through
 * their HTTP API. A record submitted to a node that does not mine reaches the miners by gossip and is
 * confirmed on all three; a full mempool refuses with 503 and every record it accepted still confirms; a
 * restart keeps pending records; a reorg to a branch without a confirmed record makes it pending again
 * (record.unconfirmed), it is mined again, and the chain holds it once.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { ApiClientError, type StreamEvent } from "../../src/api/client.ts";
import { type Block, decodeBlock, encodeBlock, recordIds } from "../../src/consensus/block.ts";
import { hashToHex } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import { verifyRecordProof } from "../../src/consensus/proof.ts";
import { encodeRecord } from "../../src/consensus/records.ts";
import { MEDIAN_TIME_SPAN, medianTimePast } from "../../src/consensus/time.ts";
import { recordFromJson } from "../../src/mempool/json.ts";
import { makeChild } from "../helpers/blocks.ts";
import { tempDir } from "../helpers/chain.ts";
import { converged, killAll, type NodeProcess, spawnNode } from "../helpers/spawn.ts";
import { waitFor } from "../helpers/wait.ts";

const tmp = tempDir("jbc-e2e-records-");

/** Event streams to end before the nodes go, also when a test fails half-way. */
const streams: AbortController[] = [];
after(async () => {
  for (const s of streams) s.abort();
  await killAll();
  rmSync(tmp, { recursive: true, force: true });
});

async function status(n: NodeProcess, id: string): Promise<string> {
  try {
    return (await n.api.record(id)).status;
  } catch (err) {
    if (err instanceof ApiClientError && err.status === 404) return "unknown";
    throw err;
  }
}

/** How many times record `id` appears in `n`'s main chain above `from`. */
async function occurrences(n: NodeProcess, id: string, from = 1): Promise<number> {
  const tip = (await n.api.status()).tip.height;
  let count = 0;
  for (let h = from; h <= tip; h++) {
    const b = decodeBlock(await n.api.rawBlock((await n.api.block(h)).hash));
    count += recordIds(b).filter((x) => hashToHex(x) === id).length;
  }
  return count;
}

describe("records across real nodes", { timeout: 180_000 }, () => {
  test("a record submitted to a non-mining node is gossiped to the miners and confirmed on all three", async () => {
    const a = await spawnNode({ name: "a", datadir: join(tmp, "a"), mine: true });
    const b = await spawnNode({ name: "b", datadir: join(tmp, "b"), mine: true, peers: [a.url] });
    const c = await spawnNode({ name: "c", datadir: join(tmp, "c"), peers: [a.url, b.url] });
    const nodes = [a, b, c];
    await waitFor(
      async () => (await Promise.all(nodes.map((n) => n.api.status()))).every((s) => s.peers >= 2),
      {
        timeoutMs: 20_000,
        what: "a full mesh",
      },
    );
    const ack = await c.api.submitRecords({ data: "from the node that does not mine" });
    assert.equal(ack.status, "pending");
    await waitFor(
      async () => (await Promise.all(nodes.map((n) => status(n, ack.id)))).every((s) => s === "confirmed"),
      {
        timeoutMs: 30_000,
        intervalMs: 100,
        what: "the record confirmed on a, b and c",
      },
    );
    const got = await c.api.record(ack.id);
    const block = await c.api.block(got.block!.hash);
    assert.ok(["a", "b"].includes(block.miner), `mined by a miner, got ${block.miner}`);
    const rec = recordFromJson(got.record);
    assert.ok(rec.ok);
    assert.ok(verifyRecordProof(got.proof!, encodeRecord(rec.record), { powLimit: regtest.powLimit }).valid);
    // b stops first and a mines on until all three follow a's chain: stopped together, a and b can be
    // left on sibling tips of equal work, which nothing breaks.
    await b.api.stopMining();
    const atStop = (await a.api.status()).tip.height;
    await waitFor(
      async () => {
        const s = await Promise.all(nodes.map((n) => n.api.status()));
        return s[0]!.tip.height > atStop + 1 && s.every((x) => x.tip.hash === s[0]!.tip.hash);
      },
      { timeoutMs: 30_000, what: "b and c on a's chain" },
    );
    await a.api.stopMining();
    await converged(nodes);
    // Once they agree on a tip, each node serves the record in the same block. (Not before: a and b
    // mine as fast as the CPU allows, so the two may be on sibling blocks that both carry it.)
    const settled = (await c.api.record(ack.id)).block!.hash;
    for (const n of [a, b]) assert.equal((await n.api.record(ack.id)).block!.hash, settled);
    assert.equal(await occurrences(c, ack.id), 1, "in the chain once");
    for (const n of nodes) await n.stop();
  });

  test("a full mempool answers 503 and every record it accepted still confirms", async () => {
    const n = await spawnNode({
      name: "full",
      datadir: join(tmp, "full"),
      args: ["--no-p2p", "--mempool-mb", "1"],
    });
    const accepted: string[] = [];
    let refused: ApiClientError | undefined;
    for (let k = 0; k < 20 && !refused; k++) {
      const batch = Array.from({ length: 100 }, (_, i) => ({ data: `${k}/${i} ${"x".repeat(1000)}` }));
      try {
        for (const ack of await n.api.submitRecords(batch)) accepted.push(ack.id);
      } catch (err) {
        if (!(err instanceof ApiClientError)) throw err;
        refused = err;
      }
    }
    assert.ok(refused, "the pool filled up");
    assert.equal(refused.status, 503);
    assert.equal(refused.code, "MEMPOOL_FULL");
    // Single records fill the last of the room, then one more is refused, with Retry-After.
    let last: Response | undefined;
    for (let k = 0; k < 40; k++) {
      last = await fetch(`${n.url}/api/records`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ data: `one more ${k} ${"y".repeat(30_000)}` }),
      });
      if (last.status !== 202) break;
      accepted.push(((await last.json()) as { id: string }).id);
    }
    assert.equal(last?.status, 503);
    assert.ok(Number(last.headers.get("retry-after")) > 0, "Retry-After");
    const m = await n.api.mempool({ limit: 0 });
    assert.equal(m.count, accepted.length, "nothing accepted was dropped");
    await n.api.startMining();
    await waitFor(async () => (await n.api.mempool({ limit: 0 })).count === 0, {
      timeoutMs: 30_000,
      what: "the pool to drain into blocks",
    });
    await n.api.stopMining();
    for (const id of [accepted[0]!, accepted[Math.floor(accepted.length / 2)]!, accepted.at(-1)!])
      assert.equal(await status(n, id), "confirmed");
    let confirmed = 0;
    for (const id of accepted) if ((await status(n, id)) === "confirmed") confirmed++;
    assert.equal(confirmed, accepted.length, "every accepted record confirmed");
    await n.stop();
  });

  test("a restart keeps pending records", async () => {
    const dir = join(tmp, "restart");
    const n1 = await spawnNode({ name: "r", datadir: dir, args: ["--no-p2p"] });
    const acks = await n1.api.submitRecords([
      { data: "kept 1" },
      { data: "kept 2", encoding: "utf8" },
      { data: "AAEC", encoding: "base64" },
    ]);
    assert.equal(await n1.stop(), 0);
    const n2 = await spawnNode({ name: "r", datadir: dir, args: ["--no-p2p"] });
    const m = await n2.api.mempool();
    assert.deepEqual(
      m.ids,
      acks.map((x) => x.id),
      "the same records, in the same order",
    );
    for (const x of acks) assert.equal(await status(n2, x.id), "pending");
    await n2.stop();
  });

  test("exactly once across a reorg: confirmed on branch A, pending again on B, mined again, in the chain once", async () => {
    const n = await spawnNode({ name: "x", datadir: join(tmp, "x"), args: ["--no-p2p"] });
    const events: StreamEvent[] = [];
    const ac = new AbortController();
    streams.push(ac);
    const stream = n.api.events((e) => events.push(e), ac.signal);
    await waitFor(() => events.some((e) => e.event === "hello"), { what: "the event stream" });
    const forkHeight = (await n.api.status()).tip.height;
    const ack = await n.api.submitRecords({ data: "exactly once" });
    // Branch A: one block carrying the record, on the tip (a mining burst here could be hundreds of
    // blocks long, and B, posted over HTTP, must stay within the API's share of held headers).
    const pending = recordFromJson((await n.api.record(ack.id)).record);
    assert.ok(pending.ok, "the pending record reads back");
    const tip0 = decodeBlock(await n.api.rawBlock((await n.api.status()).tip.hash));
    const a1 = makeChild(tip0, regtest, { miner: "branch A", records: [pending.record] });
    assert.equal((await n.api.submitBlock(encodeBlock(a1))).status, "main");
    await waitFor(async () => (await status(n, ack.id)) === "confirmed", {
      timeoutMs: 20_000,
      what: "confirmed on A",
    });
    const onA = await n.api.record(ack.id);
    const tipA = (await n.api.status()).tip.height;
    assert.ok(onA.block!.height > forkHeight);
    // Branch B: from the block below the record's, one block longer than A, without the record. Each
    // block takes the earliest time the median-time rule allows, as A's miner did, so B's times stay
    // within the allowed drift whatever A's burst reached.
    const base = onA.block!.height - 1;
    let parent: Block = decodeBlock(await n.api.rawBlock((await n.api.block(base)).hash));
    const times: number[] = [];
    for (let h = Math.max(0, base - MEDIAN_TIME_SPAN + 1); h <= base; h++)
      times.push((await n.api.block(h)).header.time);
    const branchB: Block[] = [];
    for (let h = base + 1; h <= tipA + 1; h++) {
      const time = medianTimePast(times.slice(-MEDIAN_TIME_SPAN).reverse()) + 1;
      parent = makeChild(parent, regtest, { miner: "branch B", time });
      times.push(time);
      branchB.push(parent);
    }
    // Posted blocks are blocks nobody asked for (docs/api.md): a first pass leaves B's headers once it is
    // more than a block below A's tip, the second, when they outwork it, brings the bodies.
    for (let pass = 0; pass < 2; pass++) for (const b of branchB) await n.api.submitBlock(encodeBlock(b));
    const tip = (await n.api.status()).tip;
    assert.equal(tip.height, tipA + 1);
    assert.equal((await n.api.block(tip.hash)).miner, "branch B", "the node reorganised to B");
    await waitFor(
      () => events.some((e) => e.event === "record.unconfirmed" && (e.data as { id: string }).id === ack.id),
      {
        timeoutMs: 5_000,
        what: "record.unconfirmed",
      },
    );
    assert.equal(await status(n, ack.id), "pending", "back in the mempool");
    assert.equal(await occurrences(n, ack.id), 0);
    await n.api.startMining();
    await waitFor(async () => (await status(n, ack.id)) === "confirmed", {
      timeoutMs: 20_000,
      what: "mined again",
    });
    await n.api.stopMining();
    const again = await n.api.record(ack.id);
    assert.ok(again.block!.height > tipA + 1, "mined on B");
    assert.ok(events.some((e) => e.event === "record.confirmed" && (e.data as { id: string }).id === ack.id));
    assert.equal(await occurrences(n, ack.id), 1, "in the chain once");
    ac.abort();
    await stream;
    await n.stop();
  });
});
