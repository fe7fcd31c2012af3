/**
 * Attack: a proof of an invented record under cheap work (docs/security.md, "A proof under a
 * proof-of-work-limit header"). Issue 18's example: a standalone devnet header at the proof-of-work limit,
 * dated 2020, committing to "Alice owes Mallory 1,000,000", costs about 65,536 hashes. Before issue 18
 * `jbc record verify` offline said "valid" and nothing more. Now it says how little work is on the
 * record, fails any --confirmations or --min-work requirement, and a fully forged self-contained file
 * (eleven headers below it and a block 1, all valid under devnet's rules) does no better; against a node
 * the block is tied to nothing.
 */
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { recordIds } from "../../src/consensus/block.ts";
import { bitsToTarget } from "../../src/consensus/compact.ts";
import { anchorFromBlockOne, requiredBits } from "../../src/consensus/difficulty.ts";
import { sha256d } from "../../src/consensus/hash.ts";
import { type BlockHeader, encodeHeader, hashToHex, hexToHash } from "../../src/consensus/header.ts";
import { devnet } from "../../src/consensus/params.ts";
import { buildRecordProof } from "../../src/consensus/proof.ts";
import { encodeRecord, recordId } from "../../src/consensus/records.ts";
import { buildBlock } from "../../src/consensus/template.ts";
import { buildProofFile } from "../../src/light/index.ts";
import { recordToJson } from "../../src/mempool/json.ts";
import { loadKernel } from "../../src/mining/kernels/index.ts";
import { findNonce, prepareHeader } from "../../src/mining/search.ts";
import { tempDir } from "../helpers/chain.ts";
import { jbc, killAll, type NodeProcess, spawnNode } from "../helpers/spawn.ts";

const tmp = tempDir("jbc-pow-limit-");
const kernel = loadKernel();
const invented = { type: "data" as const, data: new TextEncoder().encode("Alice owes Mallory 1,000,000") };
const LIMIT = 0x1f00ffff;
const T2020 = 1577836800;
const H = 123_456;

/** The header with the first nonce that meets its bits (the fastest kernel this machine has). */
function mine(h: BlockHeader): BlockHeader {
  const nonce = findNonce(kernel, prepareHeader(encodeHeader(h), bitsToTarget(h.bits)!), 0, 2 ** 32);
  if (nonce === null) throw new Error("no nonce");
  return { ...h, nonce };
}

// Block 1 on the real devnet genesis, at the genesis bits (about 2^24 hashes): ASERT's anchor.
const blockOne = mine(
  buildBlock({
    prevHash: hexToHash(devnet.genesisHash),
    height: 1,
    bits: devnet.genesis.header.bits,
    time: T2020,
    miner: "forger",
  }).header,
);
const anchor = anchorFromBlockOne(devnet.genesis.header.bits, T2020, devnet.targetSpacing);
// Eleven headers below the record's block and the block itself, stamped far behind ASERT's schedule so
// the bits it requires are the limit: every one valid under devnet's rules.
const headers: BlockHeader[] = [];
let prev: Uint8Array = sha256d(new TextEncoder().encode("nowhere"));
let block = buildBlock({ prevHash: prev, height: H, bits: LIMIT, time: 0, miner: "forger" });
for (let h = H - 11; h <= H; h++) {
  const time = T2020 + 5 * H + 2000 + 5 * (h - H);
  const parent = headers[headers.length - 1];
  const bits = parent ? requiredBits(devnet, h - 1, parent.time, () => anchor) : LIMIT;
  assert.equal(bits, LIMIT);
  block = buildBlock({
    prevHash: prev,
    height: h,
    bits,
    time,
    miner: "forger",
    ...(h === H ? { records: [invented] } : {}),
  });
  const mined = mine(block.header);
  headers.push(mined);
  prev = sha256d(encodeHeader(mined));
}
const recordBlock = { header: headers[11]!, records: block.records };
const proof = buildRecordProof(
  encodeHeader(recordBlock.header),
  recordIds(recordBlock),
  1,
  encodeRecord(block.records[0]!),
);
const bare = join(tmp, "bare.json");
const forged = join(tmp, "forged.json");

let node: NodeProcess;
before(async () => {
  writeFileSync(bare, JSON.stringify({ record: recordToJson(invented), proof }));
  const file = buildProofFile({
    params: devnet,
    id: hashToHex(recordId(invented)),
    record: recordToJson(invented),
    proof,
    from: H - 11,
    headers: headers.map(encodeHeader),
    blockOne: encodeHeader(blockOne),
  });
  writeFileSync(forged, JSON.stringify(file));
  node = await spawnNode({
    name: "devnet",
    network: "devnet",
    datadir: join(tmp, "node"),
    args: ["--no-p2p"],
  });
});
after(async () => {
  await killAll();
  rmSync(tmp, { recursive: true, force: true });
});

/** About 65,537 hashes: devnet's limit. */
const tiny = /65,5\d\d hashes \(2\^16\.0\)/;

describe("attack: a proof under a proof-of-work-limit header", () => {
  it("the bare proof: valid, with its tiny work shown, and failing any requirement", async () => {
    const r = await jbc("record", "verify", bare);
    assert.equal(r.code, 0, r.out);
    assert.match(
      r.out,
      new RegExp(
        `^valid: record ${hashToHex(recordId(invented))} is in block [0-9a-f]{64} at height ${H}, position 1 \\(2020-`,
        "m",
      ),
    );
    assert.match(r.out, new RegExp(`the only work on the record is its own block's, ${tiny.source}`));
    const two = await jbc("record", "verify", bare, "--confirmations", "2");
    assert.equal(two.code, 1, two.out);
    assert.match(two.out, /^NOT CONFIRMED: offline, in the file, 1 confirmation\(s\), fewer than 2$/m);
    const work = await jbc("record", "verify", bare, "--min-work", "2^20");
    assert.equal(work.code, 1, work.out);
    assert.match(
      work.out,
      new RegExp(
        `^NOT CONFIRMED: offline, in the file, ${tiny.source} on top, less than --min-work 1048576$`,
        "m",
      ),
    );
  });

  it("the fully forged self-contained file: its headers pass, and its work is still tiny", async () => {
    const r = await jbc("record", "verify", forged);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`^headers: 12 in the file, heights ${H - 11} to ${H}: linked`, "m"));
    assert.match(r.out, new RegExp(`^work on top: ${tiny.source} in 1 header\\(s\\)`, "m"));
    for (const extra of [
      ["--confirmations", "6"],
      ["--min-work", "2^24"],
    ]) {
      const f = await jbc("record", "verify", forged, ...extra);
      assert.equal(f.code, 1, f.out);
      assert.match(f.out, /^NOT CONFIRMED: offline, in the file/m);
    }
  });

  it("against a devnet node: the block is tied to nothing", async () => {
    for (const file of [bare, forged]) {
      const r = await jbc("record", "verify", file, "--url", node.url);
      assert.equal(r.code, 1, r.out);
      assert.match(r.out, /^NOT CONFIRMED: cannot tie block [0-9a-f]{64} to the best chain/m);
    }
  });
});
