/**
 * Attack: `/blockchain.json` over full blocks (docs/security.md). The dump read 1,024 blocks per batch and
 * joined each batch's JSON into one string: about 270 full blocks in a batch passed V8's string limit (a
 * body of `[`, a cut connection, `RangeError: Invalid string length`), and below that a batch of full
 * blocks cost its whole JSON in memory (4.2 GB RSS with 8 downloads) and held the event loop while it was
 * written. Here a `jbc node` process on real LevelDB serves the dump of 150 full blocks (960 KB of text
 * each, about 1.9 MB of JSON): it completes, its own memory (anonymous RSS: LevelDB's memory-mapped table
 * files are page cache, growing with what is read) grows by a bounded amount, and `/api/health` keeps
 * answering.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { Chain } from "../../src/chain/chain.ts";
import { headerHash } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import { chainDir } from "../../src/node/paths.ts";
import { LevelStore } from "../../src/store/level.ts";
import { tempDir } from "../helpers/chain.ts";
import { addFullBlocks, HEALTH_P99_BOUND_MS, percentile, probeHealth, sampleRss } from "../helpers/dos.ts";
import { killAll, type NodeProcess, spawnNode } from "../helpers/spawn.ts";

const FULL_BLOCKS = 150;
const tmp = tempDir("jbc-chain-json-");
let node: NodeProcess;
let tipHash = "";

before(async () => {
  const store = await LevelStore.open(chainDir(tmp), regtest);
  const chain = await Chain.open({ params: regtest, store });
  const tip = await addFullBlocks(chain, regtest, regtest.genesis, FULL_BLOCKS);
  tipHash = headerHash(tip.header);
  await chain.close();
  await store.close();
  node = await spawnNode({ name: "victim", datadir: tmp, args: ["--no-p2p"], startTimeoutMs: 120_000 });
});

after(async () => {
  await node?.stop();
  await killAll();
  rmSync(tmp, { recursive: true, force: true });
});

describe("attack: /blockchain.json over full blocks", () => {
  it("completes, with the node's memory growth bounded and /api/health answering (p99 under HEALTH_P99_BOUND_MS)", async () => {
    await new Promise((r) => setTimeout(r, 500)); // startup's garbage out of the measure
    const rss = sampleRss(node.proc.pid!);
    const probe = probeHealth(node.url);
    const res = await fetch(`${node.url}/blockchain.json`, { signal: AbortSignal.timeout(300_000) });
    assert.equal(res.status, 200);
    const marker = Buffer.from('{"index":"');
    const tip = Buffer.from(`"hash":"${tipHash}"`);
    let blocks = 0;
    let bytes = 0;
    let tipSeen = false;
    let carry = Buffer.alloc(0);
    for await (const chunk of res.body!) {
      const buf = Buffer.concat([carry, chunk as Uint8Array]);
      // A marker wholly inside the carried bytes was counted with the chunk before.
      for (let at = buf.indexOf(marker); at >= 0; at = buf.indexOf(marker, at + 1))
        if (at + marker.length > carry.length) blocks++;
      tipSeen ||= buf.includes(tip);
      carry = Buffer.from(buf.subarray(Math.max(0, buf.length - tip.length + 1)));
      bytes += (chunk as Uint8Array).length;
    }
    const growth = rss.stop();
    const health = await probe.stop();
    assert.equal(blocks, FULL_BLOCKS + 1, `${blocks} blocks in ${bytes} bytes`);
    assert.ok(bytes > FULL_BLOCKS * 1_900_000, `${bytes} bytes`);
    assert.equal(carry.subarray(-3).toString("utf8"), "]}]", "the array is closed");
    assert.ok(tipSeen, "the tip is in it");
    // Before: the batch's raw blocks and its JSON twice (parts and joined), over 600 MB here. The node's
    // own (anonymous) memory is what is bounded; LevelDB's mapped table files add about the bytes read.
    const mb = (n: number): number => Math.round(n / 1024 / 1024);
    assert.ok(
      growth.anon <= 150 * 1024 * 1024,
      `node memory grew ${mb(growth.anon)} MB (RSS ${mb(growth.total)})`,
    );
    const p99 = percentile(health, 99);
    assert.ok(
      p99 <= HEALTH_P99_BOUND_MS,
      `/api/health p99 ${Math.round(p99)} ms (max ${Math.round(Math.max(...health))})`,
    );
  });
});
