/**
 * Attack: event-loop stalls from block views (docs/security.md, "Heavy reads"). A block of 199,980
 * records (1 MB of 5-byte records) was legal before the record cap; before paging, its view was one 27 MiB
 * JSON body, every record decoded, hashed and its signature re-verified on every request: 8 such GETs at
 * once held a node's event loop for 14.5 s, and `/api/health` waited as long. Here a `jbc node` process on
 * real LevelDB serves 8 clients reading the largest block consensus now accepts (4,096 records, 1 MB)
 * while a prober times `/api/health`: each view is one page, small, and the node keeps answering. */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { BlockDetail } from "../../src/api/schemas.ts";
import { Chain } from "../../src/chain/chain.ts";
import { type Block, recordIds } from "../../src/consensus/block.ts";
import { hashToHex, headerHash } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import { chainDir } from "../../src/node/paths.ts";
import { LevelStore } from "../../src/store/level.ts";
import { makeChild } from "../helpers/blocks.ts";
import { tempDir } from "../helpers/chain.ts";
import { HEALTH_P99_BOUND_MS, largestRecords, percentile, probeHealth } from "../helpers/dos.ts";
import { killAll, type NodeProcess, spawnNode } from "../helpers/spawn.ts";

const tmp = tempDir("jbc-view-stall-");
let node: NodeProcess;
let largest: Block;

before(async () => {
  largest = makeChild(regtest.genesis, regtest, { miner: "bench", records: largestRecords(0, regtest) });
  const store = await LevelStore.open(chainDir(tmp), regtest);
  const chain = await Chain.open({ params: regtest, store });
  assert.equal((await chain.processBlock(largest)).status, "main");
  await chain.close();
  await store.close();
  node = await spawnNode({ name: "victim", datadir: tmp, args: ["--no-p2p"], startTimeoutMs: 120_000 });
});

after(async () => {
  await node?.stop();
  await killAll();
  rmSync(tmp, { recursive: true, force: true });
});

/** GET a view; its size in bytes and its body (parsed lazily: the old view was 27 MiB). */
async function view(path: string): Promise<{ bytes: number; body: () => BlockDetail }> {
  const res = await fetch(`${node.url}${path}`, { signal: AbortSignal.timeout(120_000) });
  const buf = await res.arrayBuffer();
  assert.equal(res.status, 200, `GET ${path}: ${res.status}`);
  return {
    bytes: buf.byteLength,
    body: () => BlockDetail.parse(JSON.parse(Buffer.from(buf).toString("utf8"))),
  };
}

describe("attack: 8 clients read the largest block's view at once", () => {
  it("each view is one small page and /api/health keeps answering (p99 under HEALTH_P99_BOUND_MS)", async () => {
    const hash = headerHash(largest.header);
    await view("/api/blocks/0"); // the route's code warmed up; the largest block is not read yet
    const probe = probeHealth(node.url);
    const sizes: number[] = [];
    // Each client reads the view back to back for 5 s (at least twice: a view was seconds before).
    const until = performance.now() + 5_000;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = 0; i < 2 || performance.now() < until; i++)
          sizes.push((await view(`/api/blocks/${hash}`)).bytes);
      }),
    );
    const health = await probe.stop();
    assert.ok(health.length > 10, `${health.length} probes`);
    const p99 = percentile(health, 99);
    assert.ok(
      p99 <= HEALTH_P99_BOUND_MS,
      `/api/health p99 ${Math.round(p99)} ms (max ${Math.round(Math.max(...health))})`,
    );
    // One page of 100 records is about 14 KB; the whole view was 27 MiB.
    assert.ok(Math.max(...sizes) <= 1024 * 1024, `largest view ${Math.max(...sizes)} bytes`);
  });

  it("the pages cover the block: record ids as consensus computes them, to the last record", async () => {
    const hash = headerHash(largest.header);
    const ids = recordIds(largest);
    const first = (await view(`/api/blocks/${hash}?limit=1000`)).body();
    assert.equal(first.recordCount, regtest.maxBlockRecords);
    assert.equal(first.recordsFrom, 0);
    assert.equal(first.records.length, 1000);
    assert.equal(first.recordsNext, 1000);
    assert.deepEqual(
      first.records.map((r) => r.id),
      ids.slice(0, 1000).map(hashToHex),
    );
    const mid = (await view(`/api/blocks/1?from=2345&limit=3`)).body();
    assert.deepEqual(
      mid.records.map((r) => [r.index, r.id]),
      [2345, 2346, 2347].map((i) => [i, hashToHex(ids[i]!)]),
    );
    const last = (await view(`/api/blocks/${hash}?from=${regtest.maxBlockRecords - 1}`)).body();
    assert.deepEqual(
      last.records.map((r) => r.index),
      [regtest.maxBlockRecords - 1],
    );
    assert.equal(last.recordsNext, null);
  });
});
