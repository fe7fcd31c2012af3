/**
 * A syncing node fed a chain of small blocks, then large ones (docs/security.md): the body window bounds
 * the bytes it holds and asks for, not only heights at the mean size seen (which the small blocks keep low,
 * so that 8,192 heights of 1 MB blocks, 8 GB, could be held). The real headers-first sync and its window
 * against a real Chain on LevelDB, the peers serving through test/helpers/fake-sync.ts (no libp2p: what is
 * measured is what the window holds, which the network does not change).
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { encodeBlock } from "../../src/consensus/block.ts";
import { regtest } from "../../src/consensus/params.ts";
import { blockHash } from "../helpers/blocks.ts";
import { type Harness, openHarness } from "../helpers/chain.ts";
import { decode, makeSync, peer, serve } from "../helpers/fake-sync.ts";
import { buildChain, dataRecords } from "../helpers/net.ts";

let h: Harness;
beforeEach(async () => {
  h = await openHarness(regtest);
});
afterEach(async () => {
  await h.dispose();
});

describe("attack: small blocks, then large ones, to a syncing node", () => {
  it("holds no more body bytes than the window's bound when small blocks come before large ones", async () => {
    // 300 blocks of about 200 bytes, then 100 of about 40 KB: the mean size the window has seen stays
    // small while the large ones come, so a bound in heights at that mean would let it ask for all of them.
    // The answer holding the first large block is slow, so the bodies above it pile up.
    const chain = buildChain(regtest, 400, regtest.genesis, {
      records: (x) => (x > 300 ? dataRecords(x, 4, 10_000) : []),
    });
    const sizes = chain.map((b) => encodeBlock(b).length);
    const maxBytes = 1024 * 1024;
    const maxResponseBytes = 128 * 1024;
    const batchSize = 10;
    const peers = [peer("a", chain), peer("b", chain)];
    const delivered = new Set<number>();
    let peak = 0;
    const held = (): number => {
      let n = 0;
      for (const height of delivered) if (height > h.chain.height) n += sizes[height - 1]!;
      return n;
    };
    let slowed = false;
    const { sync } = makeSync(h, peers, {
      batchSize,
      maxResponseBytes,
      window: { maxBytes },
      fetchBlocks: async (p, locator, { max, skip }) => {
        const served = serve(p, locator, max, skip, maxResponseBytes);
        const first = served[0]
          ? chain.findIndex((b) => blockHash(b) === blockHash(decode(served[0]!))) + 1
          : 0;
        if (!slowed && first <= 301 && first + served.length > 301) {
          slowed = true;
          await new Promise((r) => setTimeout(r, 500));
        }
        for (let k = 0; k < served.length; k++) delivered.add(first + k);
        peak = Math.max(peak, held());
        return served;
      },
    });
    sync.request();
    await sync.idle();
    assert.equal(h.chain.height, 400);
    assert.ok(slowed, "the slow answer was sent");
    // Held or in flight within maxBytes, one answer past it for the height waited on, and the run the
    // importer holds.
    const bound = maxBytes + maxResponseBytes + batchSize * Math.max(...sizes);
    assert.ok(peak <= bound, `peak ${peak} bytes delivered and not imported, bound ${bound}`);
  });
});
