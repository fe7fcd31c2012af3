/**
 * Attack: a node that lies about the chain's headers (docs/security.md, "A node lying about the chain").
 * Four real HTTP servers answer the header routes with crafted chains beside one honest `jbc node`:
 *
 * - less work than claimed: a valid branch off height 10, shorter than the honest chain, under a claim of
 *   far more work;
 * - bad bits: the honest chain, then headers mined at harder bits than the network requires (more work
 *   per header, which would win fork choice if bits were not checked);
 * - a broken link: the honest chain with one header from another branch spliced in;
 * - forged proof of work: a header whose hash misses its target.
 *
 * `jbc headers sync` and `jbc record verify` (real processes) must keep the honest chain, confirm the
 * honest record, and name each liar with the check it failed. Before issue 18 there was no way to ask
 * for headers at all: `jbc record verify --url` believed one node's "main chain" answer.
 */
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Block, encodeBlock } from "../../src/consensus/block.ts";
import { encodeHeader, hashToHex, headerHash } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import { recordId } from "../../src/consensus/records.ts";
import { makeChain, makeChild, mineHighHash } from "../helpers/blocks.ts";
import { tempDir } from "../helpers/chain.ts";
import { type HeaderServer, serveHeaders } from "../helpers/header-server.ts";
import { jbc, killAll, type NodeProcess, spawnNode } from "../helpers/spawn.ts";

const tmp = tempDir("jbc-lying-headers-");
const utf8 = new TextEncoder();

const line = { type: "data" as const, data: utf8.encode("an honest line") };
const honest = makeChain(regtest, 30, { records: (h) => (h === 20 ? [line] : []) });
const work = (height: number): bigint => 2n * BigInt(height + 1); // regtest: 2 hashes a block
const headersOf = (blocks: readonly Block[]): Uint8Array[] => blocks.map((b) => encodeHeader(b.header));

// Less work than claimed: a valid branch off 10, to height 25, claiming height 40 and a huge work.
const shortBranch = makeChain(regtest, 15, { from: honest[10]!, miner: "short" });
const lessWork = [...honest.slice(0, 11), ...shortBranch.slice(1)];
// Bad bits: headers 31..35 at bits 256 times harder than regtest's (which never retargets).
const hard: Block[] = [honest[30]!];
for (let i = 0; i < 5; i++)
  hard.push(makeChild(hard[hard.length - 1]!, regtest, { bits: 0x2000ffff, miner: "hard" }));
const badBits = [...honest, ...hard.slice(1)];
// A broken link: honest to 30, then a header whose parent is another branch's 30 (valid on its own).
const other = makeChain(regtest, 3, { from: honest[29]!, miner: "other" });
const broken = [...honest, other[2]!, other[3]!];
// Forged proof of work: honest to 30, then a header above its target.
const high = [...honest, mineHighHash(makeChild(honest[30]!, regtest, { mine: false }))];

let node: NodeProcess;
const liars: Record<string, HeaderServer> = {};
before(async () => {
  node = await spawnNode({ name: "honest", datadir: join(tmp, "honest"), args: ["--no-p2p"] });
  for (const b of honest.slice(1)) await node.api.submitBlock(encodeBlock(b));
  const tipOf = (blocks: Block[], claimHeight = blocks.length - 1, claimWork?: bigint) => ({
    height: claimHeight,
    hash: headerHash(blocks[blocks.length - 1]!.header),
    chainWork: claimWork ?? work(claimHeight),
  });
  liars["less-work"] = await serveHeaders(regtest, headersOf(lessWork), tipOf(lessWork, 40, 999_999n));
  const hardWork = work(30) + 5n * 512n;
  liars["bad-bits"] = await serveHeaders(regtest, headersOf(badBits), tipOf(badBits, 35, hardWork));
  liars["broken-link"] = await serveHeaders(regtest, headersOf(broken), tipOf(broken));
  liars["forged-pow"] = await serveHeaders(regtest, headersOf(high), tipOf(high));
});
after(async () => {
  await Promise.all(Object.values(liars).map((l) => l.close()));
  await killAll();
  rmSync(tmp, { recursive: true, force: true });
});

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

describe("attack: a node lying about the chain's headers", () => {
  it("jbc headers sync keeps the honest chain and names each liar with the check it failed", async () => {
    const state = join(tmp, "state.json");
    // Liars first: the order of the nodes must not matter.
    const r = await jbc(
      "headers",
      "sync",
      "--network",
      "regtest",
      ...Object.values(liars).flatMap((l) => ["--url", l.url]),
      "--url",
      node.url,
      "--state",
      state,
    );
    assert.equal(r.code, 1, r.out);
    const named = (liar: string, code: string, height: number): void =>
      assert.match(
        r.out,
        new RegExp(`^node ${esc(liars[liar]!.url)}: REFUSED \\(${code} at height ${height}\\)`, "m"),
        `${liar}: ${r.out}`,
      );
    named("less-work", "LESS_WORK", 25);
    named("bad-bits", "BAD_BITS", 31);
    named("broken-link", "BAD_LINK", 31);
    named("forged-pow", "HIGH_HASH", 31);
    assert.match(
      r.out,
      /claims a tip at height 40 with chain work 999999, served a chain ending at height 25 with 52/,
    );
    assert.match(r.out, new RegExp(`^node ${esc(node.url)}: agrees: tip 30 [0-9a-f]{16}…$`, "m"));
    assert.match(
      r.out,
      new RegExp(
        `^best chain: height 30 ${headerHash(honest[30]!.header).slice(0, 16)}…, chain work 62 `,
        "m",
      ),
    );
    const saved = JSON.parse(readFileSync(state, "utf8")) as { tip: { height: number; hash: string } };
    assert.deepEqual(saved.tip, { height: 30, hash: headerHash(honest[30]!.header), chainWork: "62" });
  });

  it("jbc record verify confirms the honest record through the liars, and names them", async () => {
    const id = hashToHex(recordId(line));
    const proof = join(tmp, "proof.json");
    const g = await jbc("record", "get", id, "--url", node.url, "--proof", proof);
    assert.equal(g.code, 0, g.out);
    const r = await jbc(
      "record",
      "verify",
      proof,
      ...Object.values(liars).flatMap((l) => ["--url", l.url]),
      "--url",
      node.url,
      "--confirmations",
      "11",
    );
    assert.equal(r.code, 0, r.out);
    assert.match(
      r.out,
      /^confirmed: block [0-9a-f]{16}… is on the best chain at height 20, 11 confirmation\(s\)/m,
    );
    for (const l of Object.values(liars))
      assert.match(r.out, new RegExp(`^node ${esc(l.url)}: REFUSED `, "m"));
    assert.match(r.out, /^4 node\(s\) refused: their headers are not believed$/m);
    // Asked only the less-work liar: its valid branch leaves the record's chain at height 10 with less
    // work than the headers the proof file carries, so those are the best chain this client knows.
    const alone = await jbc(
      "record",
      "verify",
      proof,
      "--url",
      liars["less-work"]!.url,
      "--confirmations",
      "11",
    );
    assert.equal(alone.code, 0, alone.out);
    assert.match(alone.out, new RegExp(`^node ${esc(liars["less-work"]!.url)}: REFUSED \\(LESS_WORK`, "m"));
    assert.match(
      alone.out,
      /^confirmed: block [0-9a-f]{16}… is on the best chain at height 20, 11 confirmation\(s\)/m,
    );
  });
});
