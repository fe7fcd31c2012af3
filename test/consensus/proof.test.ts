import assert from "node:assert/strict";
import { describe, it } from "node:test";
import vm from "node:vm";
import fc from "fast-check";
import { type Block, recordIds } from "../../src/consensus/block.ts";
import { toHex } from "../../src/consensus/bytes.ts";
import { encodeHeader, hashToHex, headerHash } from "../../src/consensus/header.ts";
import { computeMerkleRoot } from "../../src/consensus/merkle.ts";
import { devnet, regtest } from "../../src/consensus/params.ts";
import {
  buildRecordProof,
  merkleBranch,
  merkleLevels,
  type RecordProof,
  verifyRecordProof,
} from "../../src/consensus/proof.ts";
import { type BlockRecord, encodeRecord } from "../../src/consensus/records.ts";
import { buildBlock } from "../../src/consensus/template.ts";
import { mineBlock } from "../helpers/blocks.ts";

/** A mined block of `count` records: the miner record, then distinct data records. */
function blockOf(count: number, bits: number, salt = 0): Block {
  const records: BlockRecord[] = [];
  for (let i = 1; i < count; i++) {
    const data = new Uint8Array(4 + ((i * 7 + salt) % 13));
    new DataView(data.buffer).setUint32(0, i, true);
    data.fill(salt & 0xff, 4);
    records.push({ type: "data", data });
  }
  const block = buildBlock({
    prevHash: new Uint8Array(32).fill(salt & 0xff),
    height: 1 + salt,
    bits,
    time: 1795478400 + salt,
    miner: "proof-test",
    records,
  });
  return mineBlock(block, 5_000_000);
}

function proofsFor(block: Block): { proofs: RecordProof[]; bytes: Uint8Array[] } {
  const ids = recordIds(block);
  const header = encodeHeader(block.header);
  const levels = merkleLevels(ids);
  return {
    proofs: ids.map((_, i) => buildRecordProof(header, ids, i, levels)),
    bytes: block.records.map((r) => encodeRecord(r).slice()),
  };
}

function flipHex(hex: string, bit: number): string {
  const nibble = bit >> 2;
  const v = Number.parseInt(hex[nibble]!, 16) ^ (1 << (bit & 3));
  return hex.slice(0, nibble) + v.toString(16) + hex.slice(nibble + 1);
}

describe("record proofs", () => {
  it("builds the same tree as computeMerkleRoot, duplicated last nodes included", () => {
    for (let n = 1; n <= 70; n++) {
      const leaves = Array.from({ length: n }, (_, i) => Uint8Array.from({ length: 32 }, (_, j) => i + j));
      const levels = merkleLevels(leaves);
      assert.equal(toHex(levels.at(-1)![0]!), toHex(computeMerkleRoot(leaves).root), `n=${n}`);
      assert.equal(levels.at(-1)!.length, 1);
    }
  });

  it("verifies every position of blocks of 1 to 2,000 records (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2000 }), fc.nat(255), (count, salt) => {
        const block = blockOf(count, regtest.genesis.header.bits, salt);
        const { proofs, bytes } = proofsFor(block);
        const ids = recordIds(block);
        for (let i = 0; i < count; i++) {
          const r = verifyRecordProof(proofs[i]!, bytes[i]!, { powLimit: regtest.powLimit });
          assert.ok(r.valid, `position ${i} of ${count}: ${r.valid ? "" : r.reason}`);
          assert.equal(r.id, hashToHex(ids[i]!));
          assert.equal(r.blockHash, headerHash(block.header));
          assert.equal(proofs[i]!.branch.length, Math.ceil(Math.log2(count)));
        }
      }),
      {
        numRuns: 12,
        examples: [
          [1, 0],
          [2, 0],
          [3, 0],
          [1024, 1],
          [1025, 2],
          [2000, 3],
        ],
      },
    );
  });

  it("fails for any flipped bit in record, branch or index (property)", () => {
    const blocks = [1, 2, 3, 5, 8, 33, 257].map((n) => blockOf(n, regtest.genesis.header.bits, n));
    fc.assert(
      fc.property(
        fc.constantFrom(...blocks),
        fc.nat(),
        fc.nat(),
        fc.constantFrom("record", "branch", "index"),
        (block, pos, bit, what) => {
          const { proofs, bytes } = proofsFor(block);
          const i = pos % block.records.length;
          const proof = proofs[i]!;
          let record = bytes[i]!;
          let tampered: RecordProof;
          if (what === "record") {
            record = record.slice();
            record[(bit >> 3) % record.length]! ^= 1 << (bit & 7);
            tampered = proof;
          } else if (what === "branch") {
            if (proof.branch.length === 0) return; // one record: the root is the id, nothing to flip
            const k = bit % proof.branch.length;
            const branch = proof.branch.slice();
            branch[k] = flipHex(branch[k]!, (bit >> 5) % 256);
            tampered = { ...proof, branch };
          } else {
            tampered = { ...proof, index: (proof.index ^ (1 << (bit % 32))) >>> 0 };
          }
          const r = verifyRecordProof(tampered, record);
          assert.equal(r.valid, false, `${what} flip at position ${i} still verifies`);
        },
      ),
      { numRuns: 600 },
    );
  });

  it("fails for every flipped bit of the header (all 640, blocks at devnet's proof-of-work limit)", () => {
    // A flip outside the merkle root changes the header hash; at 0x1f00ffff a random hash meets the
    // target with chance 2^-16, so a flipped header almost never carries the work. The blocks are
    // deterministic, so this test either always passes or always fails.
    for (const n of [1, 3, 6]) {
      const block = blockOf(n, 0x1f00ffff, 100 + n);
      const { proofs, bytes } = proofsFor(block);
      for (let i = 0; i < n; i++) {
        assert.ok(verifyRecordProof(proofs[i]!, bytes[i]!, { powLimit: devnet.powLimit }).valid);
        for (let bit = 0; bit < 640; bit++) {
          const header = flipHex(proofs[i]!.header, bit);
          for (const opts of [{}, { powLimit: devnet.powLimit }]) {
            const r = verifyRecordProof({ ...proofs[i]!, header }, bytes[i]!, opts);
            assert.equal(r.valid, false, `header bit ${bit}, position ${i} of ${n}`);
          }
        }
      }
    }
  });

  it("refuses a position behind a duplicated last node (CVE-2012-2459) and indices past the branch", () => {
    const block = blockOf(3, regtest.genesis.header.bits, 7);
    const { proofs, bytes } = proofsFor(block);
    const last = proofs[2]!;
    // [a, b, c] hashes as [a, b, c, c]: the fold for index 3 with c's branch reaches the same root.
    assert.equal(last.branch[0], toHex(recordIds(block)[2]!));
    const r = verifyRecordProof({ ...last, index: 3 }, bytes[2]!);
    assert.deepEqual(r.valid ? null : r.code, "DUPLICATE_NODE");
    const far = verifyRecordProof({ ...last, index: 2 + 4 }, bytes[2]!);
    assert.deepEqual(far.valid ? null : far.code, "BAD_INDEX");
    const single = proofsFor(blockOf(1, regtest.genesis.header.bits, 8));
    assert.deepEqual(single.proofs[0]!.branch, []);
    const one = verifyRecordProof({ ...single.proofs[0]!, index: 1 }, single.bytes[0]!);
    assert.deepEqual(one.valid ? null : one.code, "BAD_INDEX");
  });

  it("names the failing check: target, work, root", () => {
    const block = blockOf(4, regtest.genesis.header.bits, 9);
    const { proofs, bytes } = proofsFor(block);
    const codeOf = (p: RecordProof, b = bytes[1]!, opts = {}) => {
      const r = verifyRecordProof(p, b, opts);
      return r.valid ? "valid" : r.code;
    };
    assert.equal(codeOf(proofs[1]!), "valid");
    assert.equal(codeOf(proofs[1]!, bytes[2]!), "ROOT_MISMATCH");
    assert.equal(codeOf(proofs[1]!, bytes[1]!, { powLimit: devnet.powLimit }), "BAD_TARGET");
    // bits 0x03000001: target 1, which no real hash meets.
    const hard = `${proofs[1]!.header.slice(0, 144)}01000003${proofs[1]!.header.slice(152)}`;
    assert.equal(codeOf({ ...proofs[1]!, header: hard }), "HIGH_HASH");
    const zero = `${proofs[1]!.header.slice(0, 144)}00000000${proofs[1]!.header.slice(152)}`;
    assert.equal(codeOf({ ...proofs[1]!, header: zero }), "BAD_TARGET");
  });

  it("returns MALFORMED, never throws, for anything that is not a proof (property)", () => {
    const block = blockOf(2, regtest.genesis.header.bits, 10);
    const { proofs, bytes } = proofsFor(block);
    const good = proofs[1]!;
    const bad: unknown[] = [
      null,
      "proof",
      { ...good, header: good.header.slice(2) },
      { ...good, header: `${good.header.slice(2)}zz` },
      { ...good, index: -1 },
      { ...good, index: 1.5 },
      { ...good, index: "1" },
      { ...good, branch: "00" },
      { ...good, branch: [good.branch[0]!.slice(1)] },
      { ...good, branch: Array.from({ length: 33 }, () => good.branch[0]!) },
    ];
    for (const p of bad) {
      const r = verifyRecordProof(p as RecordProof, bytes[1]!);
      assert.deepEqual(r.valid ? null : r.code, "MALFORMED", JSON.stringify(p));
    }
    fc.assert(
      fc.property(fc.anything(), fc.uint8Array({ maxLength: 64 }), (p, b) => {
        assert.equal(verifyRecordProof(p as RecordProof, b).valid, false);
      }),
    );
  });

  it("merkleBranch refuses positions outside the tree", () => {
    const levels = merkleLevels([new Uint8Array(32), new Uint8Array(32).fill(1)]);
    assert.throws(() => merkleBranch(levels, 2), RangeError);
    assert.throws(() => merkleBranch(levels, -1), RangeError);
    assert.throws(() => merkleLevels([]), RangeError);
  });
});

describe("verifyRecordProof in a browser-like context", () => {
  it("bundles for the browser (no node: imports) and verifies without Buffer, process or require", async () => {
    const { build } = await import("esbuild");
    const out = await build({
      entryPoints: [new URL("../../src/consensus/proof.ts", import.meta.url).pathname],
      bundle: true,
      platform: "browser",
      format: "iife",
      globalName: "jbcProof",
      write: false,
      logLevel: "silent",
    });
    const code = out.outputFiles[0]!.text;
    const block = blockOf(5, regtest.genesis.header.bits, 11);
    const { proofs, bytes } = proofsFor(block);
    // A fresh realm with only the language's own globals: what a page has, minus the DOM.
    const context = vm.createContext({ proof: proofs[4], bytes: Array.from(bytes[4]!) });
    const result = vm.runInContext(
      `${code}; JSON.stringify(jbcProof.verifyRecordProof(proof, new Uint8Array(bytes)))`,
      context,
    ) as string;
    assert.equal(
      vm.runInContext("typeof Buffer + typeof process + typeof require", context),
      "undefinedundefinedundefined",
    );
    assert.deepEqual(JSON.parse(result), {
      valid: true,
      id: hashToHex(recordIds(block)[4]!),
      blockHash: headerHash(block.header),
      time: block.header.time,
      bits: block.header.bits,
    });
  });
});
