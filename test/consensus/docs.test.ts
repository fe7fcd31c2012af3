import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import {
  BLOCK_ERROR_PENALTY,
  BlockError,
  BlockErrorCode,
  type BlockErrorData,
} from "../../src/consensus/errors.ts";
import { devnet, regtest } from "../../src/consensus/params.ts";

// docs/consensus.md quotes consensus constants; these checks keep it from drifting from the code.
const doc = readFileSync(new URL("../../docs/consensus.md", import.meta.url), "utf8");

describe("docs/consensus.md", () => {
  it("lists every BlockError code with its penalty and cacheability", () => {
    const rows = new Map<string, { penalty: number; cacheable: boolean }>();
    for (const m of doc.matchAll(/^\| `([A-Z_]+)` \| .* \| (\d+) \| (yes|no) \|$/gm)) {
      rows.set(m[1]!, { penalty: Number(m[2]), cacheable: m[3] === "yes" });
    }
    assert.deepEqual([...rows.keys()].sort(), Object.values(BlockErrorCode).sort());
    for (const code of Object.values(BlockErrorCode)) {
      // Cacheability depends only on the code; the data fields are irrelevant to it.
      const err = new BlockError({ code, bits: 0, expected: 0 } as unknown as BlockErrorData);
      assert.deepEqual(
        rows.get(code),
        { penalty: BLOCK_ERROR_PENALTY[code], cacheable: err.cacheable },
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
