/**
 * Attack: history rewritten by more hash power (docs/security.md, "History rewritten below a saved
 * checkpoint"). A light client's state remembers a trusted checkpoint; the node it syncs from then
 * follows a heavier branch. A reorg above the checkpoint is reported as such and accepted; one that
 * replaces the checkpoint is a REWRITE, with the fork, the depth and the work on each side, exit code 6,
 * and the state is left as it was (until --accept-rewrite). The same holds for a rewrite deeper than the
 * headers the state keeps: the node's new chain is checked from the newest point both histories share.
 * Before issue 18 nothing remembered what a client had seen.
 */
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { encodeBlock } from "../../src/consensus/block.ts";
import { hashToHex } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import { recordId } from "../../src/consensus/records.ts";
import { makeChain } from "../helpers/blocks.ts";
import { tempDir } from "../helpers/chain.ts";
import { killAll, type NodeProcess, runJbc, spawnNode } from "../helpers/spawn.ts";

const tmp = tempDir("jbc-rewrite-");

const jbc = (...args: string[]): Promise<{ code: number; out: string }> => runJbc(args, 120_000);

let node: NodeProcess;
let deep: NodeProcess;
const line = { type: "data" as const, data: new TextEncoder().encode("written before the rewrite") };
const main = makeChain(regtest, 30, { records: (h) => (h === 10 ? [line] : []) });
const proof = join(tmp, "proof.json");
const long = makeChain(regtest, 100, { miner: "long" });
before(async () => {
  [node, deep] = await Promise.all([
    spawnNode({ name: "n", datadir: join(tmp, "n"), args: ["--no-p2p"] }),
    spawnNode({ name: "deep", datadir: join(tmp, "deep"), args: ["--no-p2p"] }),
  ]);
  for (const b of main.slice(1)) await node.api.submitBlock(encodeBlock(b));
  for (const b of long.slice(1)) await deep.api.submitBlock(encodeBlock(b));
  const g = await jbc("record", "get", hashToHex(recordId(line)), "--url", node.url, "--proof", proof);
  assert.equal(g.code, 0, g.out);
});
after(async () => {
  await killAll();
  rmSync(tmp, { recursive: true, force: true });
});

describe("attack: history rewritten below a saved checkpoint", () => {
  const state = join(tmp, "state.json");
  const sync = (...extra: string[]) =>
    jbc("headers", "sync", "--network", "regtest", "--url", node.url, "--state", state, ...extra);

  it("a reorg above the trusted checkpoint is reported as one and accepted", async () => {
    const first = await sync("--confirmations", "6");
    assert.equal(first.code, 0, first.out);
    assert.match(first.out, /trusted checkpoint at height 25 \(6 confirmations\)/);
    // Three blocks off 28: the node reorganises two blocks deep.
    for (const b of makeChain(regtest, 3, { from: main[28]!, miner: "shallow" }).slice(1))
      await node.api.submitBlock(encodeBlock(b));
    const r = await sync();
    assert.equal(r.code, 0, r.out);
    assert.match(
      r.out,
      /^reorg: 2 header\(s\) above height 28 replaced \(4 hashes \(2\^2\.0\) by 6 hashes \(2\^2\.6\)\), shallower than the trusted checkpoint at height 25 \(6 confirmations\)$/m,
    );
    assert.match(r.out, /trusted checkpoint at height 26/);
  });

  it("a heavier branch that replaces the trusted checkpoint is a REWRITE: exit 6, the state kept", async () => {
    const before = readFileSync(state, "utf8");
    // Fifteen blocks off 20: the trusted checkpoint (26) is no longer on the node's chain.
    // Posted blocks nobody asked for: the first pass leaves headers (the branch is far below the tip until
    // its last blocks), the second, once those headers outwork the tip, the bodies (docs/api.md).
    const branch = makeChain(regtest, 15, { from: main[20]!, miner: "attacker" }).slice(1);
    for (let pass = 0; pass < 2; pass++) for (const b of branch) await node.api.submitBlock(encodeBlock(b));
    const r = await sync();
    assert.equal(r.code, 6, r.out);
    assert.match(
      r.out,
      /^REWRITE: the trusted checkpoint at height 26 \([0-9a-f]{16}…, chain work 54\) is not on the best chain: it forks at height 20, 11 header\(s\) of the trusted history replaced \(22 hashes \(2\^4\.5\)\) by 30 hashes \(2\^4\.9\)$/m,
    );
    assert.equal(readFileSync(state, "utf8"), before, "the state file is unchanged");
    // Still a rewrite next time: the evidence is kept, not forgotten.
    assert.equal((await sync()).code, 6);
    // A record check against that state says so too (the record itself, below the fork, is still there).
    const v = await jbc("record", "verify", proof, "--state", state, "--url", node.url);
    assert.equal(v.code, 6, v.out);
    assert.match(v.out, /^REWRITE: the trusted checkpoint at height 26 /m);
    assert.equal(readFileSync(state, "utf8"), before, "the state file is still unchanged");
    const accepted = await sync("--accept-rewrite");
    assert.equal(accepted.code, 0, accepted.out);
    assert.match(accepted.out, /trusted checkpoint at height 30/);
    assert.equal((await sync()).code, 0);
  });

  it("a rewrite deeper than the headers the state keeps is checked and reported too", async () => {
    const small = join(tmp, "small.json");
    const first = await jbc(
      "headers",
      "sync",
      "--network",
      "regtest",
      "--url",
      deep.url,
      "--state",
      small,
      "--window",
      "16",
    );
    assert.equal(first.code, 0, first.out);
    const kept = JSON.parse(readFileSync(small, "utf8")) as { base: { height: number } };
    assert.ok(kept.base.height > 50, `base ${kept.base.height}`);
    // A branch off 50, 60 blocks long: it forks below every header the state keeps.
    const branch = makeChain(regtest, 60, { from: long[50]!, miner: "deep attacker" }).slice(1);
    for (let pass = 0; pass < 2; pass++) for (const b of branch) await deep.api.submitBlock(encodeBlock(b));
    const r = await jbc("headers", "sync", "--network", "regtest", "--url", deep.url, "--state", small);
    assert.equal(r.code, 6, r.out);
    assert.match(
      r.out,
      new RegExp(
        `^node .*: DIVERGES below the headers kept: it does not hold [0-9a-f]{16}… at height ${kept.base.height}; it agrees up to height 0 and differs at ${kept.base.height}; its chain, checked from there, ends at height 110 with chain work 222`,
        "m",
      ),
    );
    assert.match(r.out, /^REWRITE: .* serves a checked chain with more work \(222 against 202\)/m);
  });
});
