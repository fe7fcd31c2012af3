import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as jbc from "../src/index.ts";

describe("package root", () => {
  it("exports the consensus library a user of jbc as a library needs", () => {
    for (const name of [
      "encodeHeader",
      "decodeHeader",
      "headerHash",
      "bitsToTarget",
      "targetToBits",
      "blockWork",
      "encodeBlock",
      "decodeBlock",
      "merkleRoot",
      "checkBlockSanity",
      "asertBits",
      "signRecord",
      "verifyRecordProof",
      "buildRecordProof",
    ]) {
      assert.equal(typeof (jbc as Record<string, unknown>)[name], "function", name);
    }
    assert.equal(jbc.devnet.name, "devnet");
    assert.equal(jbc.regtest.name, "regtest");
    assert.equal(jbc.getNetwork("regtest"), jbc.regtest);
    assert.throws(() => jbc.getNetwork("mainnet"), /unknown network/);
    const err = new jbc.BlockError({ code: "HIGH_HASH", hash: "00", target: "01" });
    assert.ok(err instanceof Error);
    assert.equal(err.penalty, jbc.BLOCK_ERROR_PENALTY.HIGH_HASH);
    assert.ok(new jbc.DecodeError("x") instanceof Error);
  });

  it("round-trips the devnet genesis through the exported codecs", () => {
    const g = jbc.devnet.genesis;
    const bytes = jbc.encodeBlock(g);
    const back = jbc.decodeBlock(bytes);
    assert.equal(jbc.headerHash(back.header), jbc.devnet.genesisHash);
    assert.deepEqual(jbc.merkleRoot(jbc.recordIds(back)), g.header.merkleRoot);
  });
});
