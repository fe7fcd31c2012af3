import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { proofExample } from "../../scripts/proof-example.ts";
import { fromHex } from "../../src/consensus/bytes.ts";
import {
  BLOCK_ERROR_CACHE,
  BLOCK_ERROR_PENALTY,
  BlockError,
  BlockErrorCode,
  type BlockErrorData,
} from "../../src/consensus/errors.ts";
import { devnet, regtest } from "../../src/consensus/params.ts";
import { type RecordProof, verifyRecordProof } from "../../src/consensus/proof.ts";

// docs/consensus.md quotes consensus constants; these checks keep it from drifting from the code.
const doc = readFileSync(new URL("../../docs/consensus.md", import.meta.url), "utf8");

describe("docs/consensus.md", () => {
  it("lists every BlockError code with its penalty, cacheability and the reason for it", () => {
    const rows = new Map<string, { penalty: number; cacheable: boolean; why: string }>();
    for (const m of doc.matchAll(/^\| `([A-Z_0-9]+)` \| .* \| (\d+) \| (yes|no) \| (.*) \|$/gm)) {
      rows.set(m[1]!, { penalty: Number(m[2]), cacheable: m[3] === "yes", why: m[4]! });
    }
    assert.deepEqual([...rows.keys()].sort(), Object.values(BlockErrorCode).sort());
    for (const code of Object.values(BlockErrorCode)) {
      // Cacheability depends only on the code; the data fields are irrelevant to it.
      const err = new BlockError({ code, bits: 0, expected: 0 } as unknown as BlockErrorData);
      assert.deepEqual(
        rows.get(code),
        { penalty: BLOCK_ERROR_PENALTY[code], cacheable: err.cacheable, why: BLOCK_ERROR_CACHE[code].why },
        code,
      );
    }
  });

  it("quotes the networks' genesis hashes and the devnet half-life", () => {
    assert.ok(doc.includes(devnet.genesisHash));
    assert.ok(doc.includes(regtest.genesisHash));
    assert.ok(
      doc.includes(`"half_life_s":${devnet.asertHalfLife},`),
      "the simulation output of the chosen half-life",
    );
    assert.ok(doc.includes(`half-life ${devnet.asertHalfLife} s, anchored at block 1`));
  });
});

describe("docs/consensus.md, record inclusion proofs", () => {
  it("shows the bytes scripts/proof-example.ts produces, and its proof verifies", () => {
    const ex = proofExample();
    for (const hex of [...ex.records, ...ex.ids, ...ex.level1, ex.root, ex.blockHash]) {
      assert.ok(doc.includes(hex), `doc lacks ${hex}`);
    }
    const quoted = doc.match(/```json\n(\{\n {2}"version"[\s\S]*?)```/);
    assert.ok(quoted, "the worked example's proof");
    const proof = JSON.parse(quoted[1]!) as RecordProof;
    assert.deepEqual(proof, ex.proof);
    const result = verifyRecordProof(proof, fromHex(ex.records[2]!), { powLimit: regtest.powLimit });
    assert.ok(result.valid);
    assert.equal(result.blockHash, ex.blockHash);
    const outside = verifyRecordProof({ ...proof, index: 3 }, fromHex(ex.records[2]!));
    assert.equal(outside.valid ? "valid" : outside.code, "BAD_INDEX");
    const dup = verifyRecordProof({ ...proof, index: 3, count: 4 }, fromHex(ex.records[2]!));
    assert.equal(dup.valid ? "valid" : dup.code, "DUPLICATE_NODE");
  });
});
