import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { promisify } from "node:util";
import { Chain } from "../../src/chain/chain.ts";
import { encodeBlock } from "../../src/consensus/block.ts";
import { regtest } from "../../src/consensus/params.ts";
import { chainDir } from "../../src/node/paths.ts";
import { LevelStore } from "../../src/store/level.ts";
import { blockHash, makeChain } from "../helpers/blocks.ts";
import { tempDir } from "../helpers/chain.ts";
import { killAll, spawnNode } from "../helpers/spawn.ts";

/** `jbc status` and `jbc chain verify` against real data directories and a running node. */

const run = promisify(execFile);
const BIN = new URL("../../bin/jbc.mjs", import.meta.url).pathname;
const tmp = tempDir("jbc-cli-");

after(async () => {
  await killAll();
  rmSync(tmp, { recursive: true, force: true });
});

async function jbc(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [BIN, ...args], { timeout: 30_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

test("chain verify checks a stopped node's store; status reads a running node", {
  timeout: 60_000,
}, async () => {
  const datadir = join(tmp, "n");
  const blocks = makeChain(regtest, 50, { spacing: 1 });
  const store = await LevelStore.open(chainDir(datadir), regtest);
  const chain = await Chain.open({ params: regtest, store });
  for (let i = 1; i < blocks.length; i++) await chain.processBlock(blocks[i]!);
  await chain.close();
  await store.close();

  const ok = await jbc(["chain", "verify", "--datadir", datadir, "--network", "regtest"]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^ok: 51 main-chain blocks/m);

  const missing = await jbc(["chain", "verify", "--datadir", join(tmp, "none"), "--network", "regtest"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no jbc database/);

  const node = await spawnNode({ name: "n", datadir, args: ["--no-p2p"] });
  const status = await jbc(["status", "--url", node.url]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, new RegExp(`tip\\s+50\\s+${blockHash(blocks[50]!)}`));
  assert.match(status.stdout, /network\s+regtest/);
  const json = await jbc(["status", "--url", node.url, "--json"]);
  assert.equal(JSON.parse(json.stdout).tip.height, 50);

  const locked = await jbc(["chain", "verify", "--datadir", datadir, "--network", "regtest"]);
  assert.equal(locked.code, 1);
  assert.match(locked.stderr, /stop the node first/);

  assert.equal(await node.stop(), 0);
  const down = await jbc(["status", "--url", node.url]);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /cannot reach/);
});

test("--sync opens the store with fsync per batch; blocks written that way are there after a restart", {
  timeout: 60_000,
}, async () => {
  const started = (logFile: string): Record<string, unknown> => {
    const line = readFileSync(logFile, "utf8")
      .split("\n")
      .find((l) => l.includes('"node started"'));
    assert.ok(line, "a node started line");
    return JSON.parse(line) as Record<string, unknown>;
  };
  const datadir = join(tmp, "sync");
  const blocks = makeChain(regtest, 5, { spacing: 1 });
  const synced = await spawnNode({ name: "sync", datadir, args: ["--no-p2p", "--sync"] });
  assert.equal(started(synced.logFile).syncWrites, true);
  for (let i = 1; i < blocks.length; i++) await synced.api.submitBlock(encodeBlock(blocks[i]!));
  assert.equal((await synced.api.status()).tip.height, 5);
  assert.equal(await synced.stop(), 0);

  const store = await LevelStore.open(chainDir(datadir), regtest);
  const chain = await Chain.open({ params: regtest, store });
  assert.equal(chain.height, 5);
  assert.equal(chain.tip.hash, blockHash(blocks[5]!));
  await chain.close();
  await store.close();
  const plain = await spawnNode({ name: "plain", datadir: join(tmp, "plain"), args: ["--no-p2p"] });
  assert.equal(started(plain.logFile).syncWrites, false);
  assert.equal(await plain.stop(), 0);
});
