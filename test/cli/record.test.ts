import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it, mock } from "node:test";
import { promisify } from "node:util";
import { recordCommand } from "../../src/cli/commands/record.ts";
import { type Block, encodeBlock, recordIds } from "../../src/consensus/block.ts";
import { encodeHeader } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import { buildRecordProof } from "../../src/consensus/proof.ts";
import { type DataRecord, encodeRecord, signRecord } from "../../src/consensus/records.ts";
import { recordToJson } from "../../src/mempool/json.ts";
import { makeChain, makeChild } from "../helpers/blocks.ts";
import { tempDir } from "../helpers/chain.ts";
import { killAll, type NodeProcess, spawnNode } from "../helpers/spawn.ts";

/**
 * `jbc record verify` offline and against a real node (regtest, no p2p) that holds the block, with proofs
 * in the bare `{ record, proof }` shape (what the API answers; files with headers: test/light/cli.test.ts).
 */

const run = promisify(execFile);
const BIN = new URL("../../bin/jbc.mjs", import.meta.url).pathname;
const tmp = tempDir("jbc-record-");
const utf8 = new TextEncoder();

const hello: DataRecord = { type: "data", data: utf8.encode("hello, ledger") };
const signed = signRecord(utf8.encode("signed line"), new Uint8Array(32).fill(1));
const chain = makeChain(regtest, 1);
const withRecords = makeChild(chain[1]!, regtest, { records: [hello, signed] });
const tip = makeChild(withRecords, regtest);
// A block the node never sees: same parent, another miner.
const unknown = makeChild(chain[1]!, regtest, { records: [hello], miner: "elsewhere" });

let node: NodeProcess;
before(async () => {
  node = await spawnNode({ name: "n", datadir: join(tmp, "n"), args: ["--no-p2p"] });
  for (const b of [chain[1]!, withRecords, tip]) await node.api.submitBlock(encodeBlock(b));
});
after(async () => {
  await killAll();
  rmSync(tmp, { recursive: true, force: true });
});

function proofFile(name: string, block: Block, index: number, record = block.records[index]!): string {
  const file = join(tmp, name);
  const proof = buildRecordProof(
    encodeHeader(block.header),
    recordIds(block),
    index,
    encodeRecord(block.records[0]!),
  );
  if (record.type === "miner") throw new Error("not a submitted record");
  writeFileSync(file, JSON.stringify({ id: "ignored extra field", record: recordToJson(record), proof }));
  return file;
}

/** Runs `jbc record ...` in this process, collecting what it prints. */
async function recordCli(args: string[]): Promise<{ ok: boolean; out: string }> {
  const lines: string[] = [];
  const log = mock.method(console, "log", (...a: unknown[]) => lines.push(a.join(" ")));
  const err = mock.method(console, "error", (...a: unknown[]) => lines.push(a.join(" ")));
  const before = process.exitCode;
  process.exitCode = 0;
  try {
    await recordCommand().parseAsync(args, { from: "user" });
    return { ok: process.exitCode === 0, out: lines.join("\n") };
  } finally {
    process.exitCode = before;
    log.mock.restore();
    err.mock.restore();
  }
}

describe("jbc record verify", () => {
  it("through the real executable: valid offline, and confirmed on the node's main chain", async () => {
    const file = proofFile("signed.json", withRecords, 2);
    const r = await run(process.execPath, [
      BIN,
      "record",
      "verify",
      file,
      "--network",
      "regtest",
      "--url",
      node.url,
    ]);
    assert.match(r.stdout, /^valid: record [0-9a-f]{64} is in block [0-9a-f]{64}/m);
    assert.match(r.stdout, /^node http:\/\/127\.0\.0\.1:\d+: agrees: tip 3 /m);
    assert.match(
      r.stdout,
      /^confirmed: block [0-9a-f]{16}… is on the best chain at height 2, 2 confirmation\(s\), 4 hashes \(2\^2\.0\) on top$/m,
    );
  });

  it("refuses tampered records, too few confirmations, unknown blocks and files that are not proofs", async () => {
    const good = proofFile("hello.json", withRecords, 1);
    assert.deepEqual((await recordCli(["verify", good, "--network", "regtest"])).ok, true);

    const tampered = proofFile("tampered.json", withRecords, 1, {
      type: "data",
      data: utf8.encode("hello, ledgeR"),
    });
    const t = await recordCli(["verify", tampered, "--network", "regtest"]);
    assert.equal(t.ok, false);
    assert.match(t.out, /^INVALID \(ROOT_MISMATCH\)/m);

    // Held to devnet's proof-of-work limit, a regtest header is refused.
    const d = await recordCli(["verify", good]);
    assert.equal(d.ok, false);
    assert.match(d.out, /^INVALID \(BAD_TARGET\)/m);

    const deep = await recordCli([
      "verify",
      good,
      "--network",
      "regtest",
      "--url",
      node.url,
      "--confirmations",
      "3",
    ]);
    assert.equal(deep.ok, false);
    assert.match(
      deep.out,
      /NOT CONFIRMED: block [0-9a-f]{16}… is on the best chain at height 2, 2 confirmation\(s\), fewer than 3/,
    );
    const offline = await recordCli(["verify", good, "--network", "regtest", "--confirmations", "2"]);
    assert.equal(offline.ok, false);
    assert.match(offline.out, /^NOT CONFIRMED: offline, in the file, 1 confirmation\(s\), fewer than 2$/m);

    const elsewhere = proofFile("unknown.json", unknown, 1);
    const u = await recordCli(["verify", elsewhere, "--network", "regtest", "--url", node.url]);
    assert.equal(u.ok, false);
    assert.match(u.out, /^valid: /m, "the proof itself is fine");
    // A sibling of block 2 the node never saw: a side branch of the header chain, its work shown.
    assert.match(
      u.out,
      /^REFUSED: block [0-9a-f]{64} is on a side branch: 2 hashes \(2\^1\.0\) since it left the best chain at height 1, against 4 hashes \(2\^2\.0\) on the best chain$/m,
    );

    const junk = join(tmp, "junk.json");
    writeFileSync(junk, JSON.stringify({ proof: 1 }));
    const j = await recordCli(["verify", junk]);
    assert.equal(j.ok, false);
    assert.match(j.out, /is not a proof file/);
    const missing = await recordCli(["verify", join(tmp, "none.json")]);
    assert.match(missing.out, /cannot read/);
  });
});
