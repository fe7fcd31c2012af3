/**
 * Attack: a proof for a record in a block that is not on the best chain (docs/security.md, "A proof
 * from a side branch"). Node B confirms the record on its branch and writes a valid proof file; node A
 * has a heavier branch from the same fork. The file is valid offline (it cannot know better), but
 * against A, against A and B, and against a light state synced from A, it is refused with the branch's
 * work against the best chain's; B is named as disagreeing. Before issue 18 `jbc record verify --url B`
 * said "confirmed" (B answered "main chain"), and offline there was nothing else to say.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { encodeBlock } from "../../src/consensus/block.ts";
import { hashToHex } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import { recordId } from "../../src/consensus/records.ts";
import { makeChain } from "../helpers/blocks.ts";
import { tempDir } from "../helpers/chain.ts";
import { jbc, killAll, type NodeProcess, spawnNode } from "../helpers/spawn.ts";

const tmp = tempDir("jbc-side-proof-");
const line = { type: "data" as const, data: new TextEncoder().encode("paid on a branch that lost") };

const common = makeChain(regtest, 10);
const branchB = makeChain(regtest, 4, {
  from: common[10]!,
  miner: "b",
  records: (h) => (h === 12 ? [line] : []),
});
const branchA = makeChain(regtest, 10, { from: common[10]!, miner: "a" });

let a: NodeProcess;
let b: NodeProcess;
const proof = join(tmp, "proof.json");
before(async () => {
  [a, b] = await Promise.all([
    spawnNode({ name: "a", datadir: join(tmp, "a"), args: ["--no-p2p"] }),
    spawnNode({ name: "b", datadir: join(tmp, "b"), args: ["--no-p2p"] }),
  ]);
  for (const blk of [...common.slice(1), ...branchA.slice(1)]) await a.api.submitBlock(encodeBlock(blk));
  for (const blk of [...common.slice(1), ...branchB.slice(1)]) await b.api.submitBlock(encodeBlock(blk));
  const g = await jbc("record", "get", hashToHex(recordId(line)), "--url", b.url, "--proof", proof);
  assert.equal(g.code, 0, g.out);
});
after(async () => {
  await killAll();
  rmSync(tmp, { recursive: true, force: true });
});

// regtest: 2 hashes a block. Branch B has 4 blocks above the fork at 10, branch A 10.
const refused =
  /^REFUSED: block [0-9a-f]{64} is on a side branch: 8 hashes \(2\^3\.0\) since it left the best chain at height 10, against 20 hashes \(2\^4\.3\) on the best chain$/m;

describe("attack: a proof from a side branch", () => {
  it("offline, the file is valid and says only how much work it carries", async () => {
    const r = await jbc("record", "verify", proof);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /^work on top: 6 hashes \(2\^2\.6\) in 3 header\(s\)/m);
    assert.match(r.out, /^offline: nothing here shows these headers are the network's best chain/m);
  });

  it("against the node with the heavier branch: refused, with both branches' work", async () => {
    const r = await jbc("record", "verify", proof, "--url", a.url);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, refused);
    assert.doesNotMatch(r.out, /^confirmed/m);
  });

  it("against both nodes: still refused, and the node on the lighter branch is named", async () => {
    const r = await jbc("record", "verify", proof, "--url", b.url, "--url", a.url);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, refused);
    const esc = b.url.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    assert.match(
      r.out,
      new RegExp(
        `^node ${esc}: DISAGREES: its tip 14 [0-9a-f]{16}… is on a branch off height 10: 8 hashes \\(2\\^3\\.0\\) since the fork, against 20 hashes \\(2\\^4\\.3\\) on the best chain$`,
        "m",
      ),
    );
  });

  it("against a light state synced from the heavier node, without asking anyone: refused", async () => {
    const state = join(tmp, "state.json");
    const s = await jbc("headers", "sync", "--network", "regtest", "--url", a.url, "--state", state);
    assert.equal(s.code, 0, s.out);
    const r = await jbc("record", "verify", proof, "--state", state);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, refused);
  });
});
