import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, test } from "node:test";
import { ApiClient, type StreamEvent } from "../../src/api/client.ts";
import { regtest } from "../../src/consensus/params.ts";
import { realServices } from "../../src/node/adapters.ts";
import { JbcNode } from "../../src/node/node.ts";
import { tempDir } from "../helpers/chain.ts";
import { waitFor } from "../helpers/wait.ts";

/** Mining control over HTTP with the real worker-pool miner (one thread, regtest), no P2P. */

const dir = tempDir("jbc-api-mining-");
let node: JbcNode;
let api: ApiClient;

before(async () => {
  const { miner } = realServices();
  assert.ok(miner);
  node = await JbcNode.create(
    { params: regtest, datadir: dir, http: { port: 0 }, p2p: false, threads: 1, minerName: "api test" },
    { miner },
  );
  // Starting mining waits for the worker to load its kernel, which under tsx compiles TypeScript in the
  // worker: seconds on a loaded machine, past the client's default 10 s.
  api = new ApiClient(node.url, { timeoutMs: 45_000 });
});

after(async () => {
  await node?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("POST /api/mining/start mines blocks, streams block and mining events; stop stops it", {
  timeout: 90_000,
}, async () => {
  const events: StreamEvent[] = [];
  const ac = new AbortController();
  const stream = api.events((e) => events.push(e), ac.signal);
  const until = (pred: () => boolean, what: string): Promise<boolean> =>
    waitFor(pred, { timeoutMs: 30_000, intervalMs: 50, what });
  await until(() => events.some((e) => e.event === "hello"), "hello event");
  assert.equal((await api.status()).mining.running, false);

  const started = await api.startMining();
  assert.equal(started.mining.running, true);
  assert.equal(started.mining.miner, "api test");
  await until(() => events.some((e) => e.event === "block"), "a block event");
  await until(
    () => events.some((e) => e.event === "mining" && (e.data as { hashRate: number }).hashRate > 0),
    "a mining event with a hash rate",
  );
  const s = await api.status();
  assert.ok(s.tip.height > 0);
  assert.equal(s.mining.threads, 1);
  const b = await api.block(1);
  assert.equal(b.miner, "api test");

  const stopped = await api.stopMining();
  assert.equal(stopped.mining.running, false);
  // stop resolves after a block found just before it has landed: the height is final from here on.
  const h = (await api.status()).tip.height;
  await new Promise((r) => setTimeout(r, 500));
  assert.equal((await api.status()).tip.height, h, "no blocks after stop");
  const last = events.filter((e) => e.event === "mining").at(-1)!.data as { running: boolean };
  assert.equal(last.running, false);
  ac.abort();
  await stream;
});
