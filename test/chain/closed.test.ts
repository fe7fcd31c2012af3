/**
 * A closed chain refuses every call with a typed ChainError (code CLOSED), not a plain Error, and what was
 * processed before the close is still there after a restart.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ChainError } from "../../src/chain/errors.ts";
import { regtest } from "../../src/consensus/params.ts";
import { makeChain } from "../helpers/blocks.ts";
import { openHarness } from "../helpers/chain.ts";

describe("a closed chain", () => {
  it("refuses processBlock, processBlocks and retryFutureBlocks with ChainError CLOSED", async () => {
    const h = await openHarness(regtest);
    try {
      const [, b1, b2] = makeChain(regtest, 2);
      await h.chain.processBlock(b1!);
      await h.chain.close();
      const closed = (err: unknown): boolean => {
        assert.ok(err instanceof ChainError, `expected a ChainError, got ${String(err)}`);
        assert.equal(err.code, "CLOSED");
        assert.equal(err.message, "chain is closed");
        return true;
      };
      await assert.rejects(h.chain.processBlock(b2!), closed);
      await assert.rejects(h.chain.processBlocks([{ block: b2! }]), closed);
      await assert.rejects(h.chain.retryFutureBlocks(), closed);
      assert.equal(h.chain.height, 1);
      await h.restart();
      assert.equal(h.chain.height, 1);
    } finally {
      await h.dispose();
    }
  });
});
