import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import { fromHex, toHex } from "../../src/consensus/bytes.ts";
import { decodeHeader, hashToHex, hexToHash } from "../../src/consensus/header.ts";
import {
  branchLeafRange,
  computeMerkleRoot,
  merkleBranchFromUpper,
  merkleRoot,
  UPPER_TREE_SPAN,
  upperTreeSize,
} from "../../src/consensus/merkle.ts";
import { merkleBranch, merkleLevels } from "../../src/consensus/proof.ts";

/** Reference: the tree as Bitcoin's wiki describes it, recursively, with node:crypto's hash. */
function referenceRoot(leaves: Uint8Array[]): Uint8Array {
  const dsha = (b: Uint8Array) =>
    Uint8Array.from(createHash("sha256").update(createHash("sha256").update(b).digest()).digest());
  if (leaves.length === 1) return leaves[0]!;
  const next: Uint8Array[] = [];
  for (let i = 0; i < leaves.length; i += 2) {
    const right = leaves[i + 1] ?? leaves[i]!;
    next.push(dsha(Buffer.concat([leaves[i]!, right])));
  }
  return referenceRoot(next);
}

const leaf = (n: number) => {
  const b = new Uint8Array(32);
  b[0] = n & 0xff;
  b[1] = n >> 8;
  return b;
};

describe("merkle root", () => {
  it("gives Bitcoin block 100000's root from its four txids (display order in, display order out)", () => {
    const txids = [
      "8c14f0db3df150123e6f3dbbf30f8b955a8249b62ac1d1ff16284aefa3d06d87",
      "fff2525b8931402dd09222c50775608f75787bd2b87e56995a7bdd30f79702c4",
      "6359f0868171b1d194cbee1af2f16ea598ae8fad666d9b012c8ed2b79a236ec4",
      "e9a66845e05d5abc0ad04ec80f774a7e585c6e8db975962d069a522137b80c1d",
    ];
    const result = computeMerkleRoot(txids.map(hexToHash));
    assert.equal(hashToHex(result.root), "f3e94742aca4b5ef85488dc37c06c3282295ffec960994b2c0d5ac2a25a95766");
    assert.equal(result.mutated, false);
    // The same root sits, in internal order, in bytes 36..68 of block 100000's raw header.
    const header = decodeHeader(
      fromHex(
        "0100000050120119172a610421a6c3011dd330d9df07b63616c2cc1f1cd00200000000006657a9252aacd5c0b2940996ecff952228c3067cc38d4885efb5a4ac4247e9f337221b4d4c86041b0f2b5710",
      ),
    );
    assert.equal(toHex(header.merkleRoot), toHex(result.root));
  });

  it("gives the single leaf itself as the root of a one-element list", () => {
    // Bitcoin's genesis block: one transaction, and its merkle root is that transaction's id.
    const coinbase = hexToHash("4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b");
    const result = computeMerkleRoot([coinbase]);
    assert.deepEqual(result.root, coinbase);
    assert.equal(result.mutated, false);
  });

  it("gives 32 zero bytes for an empty list", () => {
    assert.equal(toHex(merkleRoot([])), "00".repeat(32));
  });

  for (const n of [2, 3, 5, 6, 7, 9, 11, 17]) {
    it(`matches the reference tree for ${n} leaves`, () => {
      const leaves = Array.from({ length: n }, (_, i) => leaf(i + 1));
      const result = computeMerkleRoot(leaves);
      assert.equal(toHex(result.root), toHex(referenceRoot(leaves)));
      assert.equal(result.mutated, false);
    });
  }

  it("matches the reference tree for random distinct leaves (property)", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 40 }),
        (ns) => {
          const leaves = ns.map(leaf);
          const result = computeMerkleRoot(leaves);
          assert.equal(toHex(result.root), toHex(referenceRoot(leaves)));
          assert.equal(result.mutated, false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("does not modify the caller's list (odd levels are padded on a copy)", () => {
    const leaves = [leaf(1), leaf(2), leaf(3)];
    computeMerkleRoot(leaves);
    assert.equal(leaves.length, 3);
  });
});

describe("merkle mutation (CVE-2012-2459)", () => {
  // Each pair: a list with an odd count at some level, and the same list with its tail repeated so
  // the padding becomes real leaves. Both give one root; only the second is flagged.
  const cases: { name: string; original: number[]; mutated: number[] }[] = [
    { name: "3 → 4 (last leaf repeated)", original: [1, 2, 3], mutated: [1, 2, 3, 3] },
    { name: "5 → 6 (last leaf repeated)", original: [1, 2, 3, 4, 5], mutated: [1, 2, 3, 4, 5, 5] },
    { name: "6 → 8 (last two repeated)", original: [1, 2, 3, 4, 5, 6], mutated: [1, 2, 3, 4, 5, 6, 5, 6] },
    {
      name: "10 → 12 (last two repeated)",
      original: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      mutated: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 9, 10],
    },
  ];
  for (const c of cases) {
    it(`${c.name}: same root, mutated flagged`, () => {
      const a = computeMerkleRoot(c.original.map(leaf));
      const b = computeMerkleRoot(c.mutated.map(leaf));
      assert.equal(toHex(b.root), toHex(a.root));
      assert.equal(a.mutated, false);
      assert.equal(b.mutated, true);
    });
  }

  it("flags two identical leaves paired at the bottom level", () => {
    assert.equal(computeMerkleRoot([leaf(1), leaf(1)]).mutated, true);
    assert.equal(computeMerkleRoot([leaf(1), leaf(2), leaf(3), leaf(3), leaf(5)]).mutated, true);
  });

  it("does not flag a duplicate that is never paired with itself (checked separately by validation)", () => {
    // 1,2,1 pairs (1,2) and pads (1,1) — the padding is not a mutation.
    assert.equal(computeMerkleRoot([leaf(1), leaf(2), leaf(1)]).mutated, false);
    assert.equal(computeMerkleRoot([leaf(1), leaf(2), leaf(3), leaf(1)]).mutated, false);
  });
});

describe("merkle upper levels (the store's 'm' keys)", () => {
  const leaves = (n: number): Uint8Array[] => Array.from({ length: n }, (_, i) => leaf(i + 1));

  it("are the levels from UPPER_TREE_LEVEL to below the root, without duplicated last nodes", () => {
    for (const n of [1, 2, 31, 32, 33, 63, 64, 65, 100, 1001, 2048, 2049]) {
      const all = merkleLevels(leaves(n));
      const r = computeMerkleRoot(leaves(n), true);
      const expected = all.slice(5, -1).flat();
      assert.equal(r.upper?.length ?? 0, expected.length * 32, `n=${n}`);
      assert.equal(upperTreeSize(n), expected.length * 32, `n=${n}`);
      if (expected.length) assert.equal(toHex(r.upper!), expected.map(toHex).join(""), `n=${n}`);
      assert.equal(r.upper === undefined, n <= UPPER_TREE_SPAN, `n=${n}`);
      // Asking for them changes neither the root nor the mutation flag.
      assert.deepEqual(computeMerkleRoot(leaves(n)), { root: r.root, mutated: r.mutated });
    }
  });

  it("with the leaves branchLeafRange names give merkleBranch's branch (every position up to 130 leaves, then sampled)", () => {
    const sizes = [...Array.from({ length: 130 }, (_, i) => i + 1), 255, 256, 257, 1000, 1001, 2000];
    for (const n of sizes) {
      const all = leaves(n);
      const levels = merkleLevels(all);
      const { upper } = computeMerkleRoot(all, true);
      // Large trees: every 11th position, and the last run of leaves whole (the duplicated end).
      const at = (i: number): boolean => n <= 130 || i % 11 === 0 || i >= n - UPPER_TREE_SPAN;
      for (let index = 0; index < n; index++) {
        if (!at(index)) continue;
        const { from, to } = branchLeafRange(index, n);
        assert.ok(to - from <= UPPER_TREE_SPAN);
        const got = merkleBranchFromUpper(all.slice(from, to), index, n, upper);
        const want = merkleBranch(levels, index);
        assert.deepEqual(got.branch.map(toHex), want.map(toHex), `n=${n} index=${index}`);
        assert.equal(toHex(got.root), toHex(levels.at(-1)![0]!), `n=${n} index=${index}`);
      }
    }
  });

  it("refuse leaves or levels that do not belong together", () => {
    const all = leaves(100);
    const { upper } = computeMerkleRoot(all, true);
    const { from, to } = branchLeafRange(40, 100);
    const wrong = all.slice(from, to);
    wrong[3] = leaf(9999);
    assert.throws(() => merkleBranchFromUpper(wrong, 40, 100, upper), /do not give node 1 of level 5/);
    assert.throws(() => merkleBranchFromUpper(all.slice(from, to), 40, 100, upper!.subarray(32)), /bytes/);
    assert.throws(() => merkleBranchFromUpper(all.slice(from, to), 40, 100, undefined), /bytes/);
    assert.throws(() => merkleBranchFromUpper(all.slice(from, to - 1), 40, 100, upper), /leaves/);
    assert.throws(() => merkleBranchFromUpper(all, 100, 100, upper), RangeError);
  });
});
