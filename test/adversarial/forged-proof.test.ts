/**
 * Attack: forged record proofs through the 64-byte merkle ambiguity (docs/security.md, "Forged record
 * proofs"), both directions, against the library, a real node's API and `jbc record verify` (offline and
 * with --url). Each of these passed on the code before the 64-byte rule and proof format 2.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { ApiClientError } from "../../src/api/client.ts";
import { type Block, encodeBlock, recordIds } from "../../src/consensus/block.ts";
import { toHex } from "../../src/consensus/bytes.ts";
import { BlockError } from "../../src/consensus/errors.ts";
import { encodeHeader, hashToHex, headerHashBytes } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import { type RecordProof, verifyRecordProof } from "../../src/consensus/proof.ts";
import { encodeRecord } from "../../src/consensus/records.ts";
import { checkBlockSanity } from "../../src/consensus/validate.ts";
import { Mempool } from "../../src/mempool/index.ts";
import { recordToJson } from "../../src/mempool/json.ts";
import { makeChain } from "../helpers/blocks.ts";
import { tempDir } from "../helpers/chain.ts";
import {
  blockWith,
  carrierFor,
  grindInnerNodeBlock,
  invented,
  inventedProof,
  inventedProofV1,
  utf8,
} from "../helpers/forgery.ts";
import { killAll, type NodeProcess, spawnNode } from "../helpers/spawn.ts";

const run = promisify(execFile);
const BIN = new URL("../../bin/jbc.mjs", import.meta.url).pathname;
const tmp = tempDir("jbc-forged-proof-");
const base = makeChain(regtest, 2);
const parent = base[2]!;
const carrier = carrierFor(invented);
// A block carrying the carrier: consensus now refuses it, so it is built here without a node.
const carrierBlock = blockWith(regtest, parent, 3, [{ type: "data", data: utf8.encode("cover") }, carrier]);
// A valid block whose root's left child reads as a 62-byte data record (ground by its miner).
const ground = grindInnerNodeBlock(regtest, parent, 3, { type: "data", data: utf8.encode("an honest line") });

const codeOf = (proof: unknown, bytes: Uint8Array): string => {
  const r = verifyRecordProof(proof as RecordProof, bytes, { powLimit: regtest.powLimit });
  return r.valid ? "valid" : r.code;
};

/** The inner-node direction: the 64-byte node under the root "proved" as a record at index 0 of 1. */
function innerProof(block: Block): RecordProof {
  return { version: 2, header: toHex(encodeHeader(block.header)), index: 0, count: 1, branch: [] };
}

let node: NodeProcess;
before(async () => {
  node = await spawnNode({ name: "victim", datadir: join(tmp, "victim"), args: ["--no-p2p"] });
  for (const b of base.slice(1)) await node.api.submitBlock(encodeBlock(b));
});
after(async () => {
  await killAll();
  rmSync(tmp, { recursive: true, force: true });
});

describe("attack: forged record proofs (64-byte merkle ambiguity)", () => {
  it("the library refuses the invented record under a carrier, in format 1 and 2", () => {
    const v2 = inventedProof(carrierBlock, 2);
    const inventedBytes = encodeRecord(invented);
    // The fold itself still reaches the root: the forgery is real, the binding is what stops it.
    assert.equal(codeOf(v2, inventedBytes), "BAD_MINER_PROOF");
    assert.equal(codeOf({ ...v2, count: 9 }, inventedBytes), "BAD_DEPTH");
    assert.equal(codeOf({ ...v2, count: 3 }, inventedBytes), "BAD_INDEX");
    assert.equal(codeOf(inventedProofV1(carrierBlock, 2), inventedBytes), "UNSUPPORTED_VERSION");
    // The carrier, though really in that block, is refused as a record: it could be an inner node.
    const realIndex = 2;
    const ids = recordIds(carrierBlock);
    assert.equal(
      toHex(ids[realIndex]!),
      toHex(recordIds({ header: carrierBlock.header, records: [carrier] })[0]!),
    );
    const carrierProof: RecordProof = { ...v2, index: realIndex, count: 3, branch: v2.branch.slice(1) };
    assert.equal(codeOf(carrierProof, encodeRecord(carrier)), "RECORD_64_BYTES");
  });

  it("the library refuses the inner node offered as a 62-byte data record", () => {
    assert.equal(ground.innerBytes[0], 0x01);
    assert.equal(ground.innerBytes[1], 0x3e);
    assert.equal(codeOf(innerProof(ground.real), ground.innerBytes), "RECORD_64_BYTES");
    // Format 1 passed: header, index 0, an empty branch.
    const v1 = { header: toHex(encodeHeader(ground.real.header)), index: 0, branch: [] };
    assert.equal(codeOf(v1, ground.innerBytes), "UNSUPPORTED_VERSION");
  });

  it("consensus and the mempool refuse the carrier before it can be mined", async () => {
    assert.throws(
      () =>
        checkBlockSanity(
          carrierBlock,
          headerHashBytes(carrierBlock.header),
          regtest,
          Number.MAX_SAFE_INTEGER,
        ),
      (err: unknown) => err instanceof BlockError && err.code === "RECORD_64_BYTES" && !err.cacheable,
    );
    const pool = new Mempool({ params: regtest, isConfirmed: async () => false });
    const r = await pool.admit(carrier, { kind: "peer", peer: "p" });
    assert.equal(r.ok ? "admitted" : r.error.code, "RECORD_64_BYTES");
    assert.equal(r.ok ? 0 : r.error.penalty, 100);
    assert.equal(pool.stats().count, 0);
  });

  it("through the API: the carrier is refused as a record and in a block; the node serves no such proof", async () => {
    await assert.rejects(node.api.submitRecords(recordToJson(carrier)), (err: unknown) => {
      return err instanceof ApiClientError && err.status === 400 && err.code === "RECORD_64_BYTES";
    });
    await assert.rejects(node.api.submitBlock(encodeBlock(carrierBlock)), (err: unknown) => {
      return err instanceof ApiClientError && err.code === "RECORD_64_BYTES";
    });
    const status = await node.api.status();
    assert.equal(status.tip.height, 2, "the tip did not move");
    // The ground block is valid: the node takes it, and its proofs are for its real records only.
    const r = await node.api.submitBlock(encodeBlock(ground.real));
    assert.equal(r.status, "main");
    const id = hashToHex(recordIds(ground.real)[1]!);
    const rec = await node.api.record(id);
    assert.equal(rec.status, "confirmed");
    assert.equal(codeOf(rec.proof, encodeRecord(ground.real.records[1]!)), "valid");
  });

  it("through `jbc record verify`, offline and with --url: both forgeries are INVALID", async () => {
    const files = {
      carrier: join(tmp, "invented.json"),
      inner: join(tmp, "inner.json"),
      old: join(tmp, "old.json"),
    };
    writeFileSync(
      files.carrier,
      JSON.stringify({ record: recordToJson(invented), proof: inventedProof(carrierBlock, 2) }),
    );
    const innerRecord = { type: "data" as const, data: ground.innerBytes.slice(2) };
    writeFileSync(
      files.inner,
      JSON.stringify({ record: recordToJson(innerRecord), proof: innerProof(ground.real) }),
    );
    writeFileSync(
      files.old,
      JSON.stringify({ record: recordToJson(invented), proof: inventedProofV1(carrierBlock, 2) }),
    );
    const verify = async (file: string, ...extra: string[]) => {
      try {
        const r = await run(process.execPath, [
          BIN,
          "record",
          "verify",
          file,
          "--network",
          "regtest",
          ...extra,
        ]);
        return { code: 0, out: r.stdout };
      } catch (err) {
        const e = err as { code: number; stdout: string };
        return { code: e.code, out: e.stdout };
      }
    };
    for (const [file, want] of [
      [files.carrier, "INVALID (BAD_MINER_PROOF)"],
      [files.inner, "INVALID (RECORD_64_BYTES)"],
      [files.old, "INVALID (UNSUPPORTED_VERSION)"],
    ] as const) {
      for (const extra of [[], ["--url", node.url]]) {
        const r = await verify(file, ...extra);
        assert.equal(r.code, 1, `${file} ${extra.join(" ")}: ${r.out}`);
        assert.ok(r.out.startsWith(want), r.out);
        assert.ok(!r.out.includes("confirmed"), r.out);
      }
    }
    const old = await verify(files.old);
    assert.match(old.out, /jbc record get ID --proof FILE/, "an old proof says what to do");
  });
});
