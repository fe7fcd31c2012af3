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
import { type BlockRecord, type DataRecord, encodeRecord } from "../../src/consensus/records.ts";
import { buildBlock } from "../../src/consensus/template.ts";
import { mineBlock } from "../helpers/blocks.ts";
import { carrierFor } from "../helpers/forgery.ts";

/** The data record blockOf puts at position `i`. */
function dataRecordAt(i: number, salt: number): DataRecord {
  const data = new Uint8Array(4 + ((i * 7 + salt) % 13));
  new DataView(data.buffer).setUint32(0, i, true);
  data.fill(salt & 0xff, 4);
  return { type: "data", data };
}

/**
 * A mined block of `count` records: the miner record, then distinct data records. `carriers` replaces the
 * records at those positions (1 and up) with 64-byte carriers of invented records, which consensus
 * refuses: the verifier must hold even for a block that broke the rule (a future rule change, a bug).
 */
function blockOf(count: number, bits: number, salt = 0, carriers: readonly number[] = []): Block {
  const records: BlockRecord[] = [];
  for (let i = 1; i < count; i++) {
    const rec = dataRecordAt(i, salt);
    records.push(carriers.includes(i) ? carrierFor(rec) : rec);
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
    proofs: ids.map((_, i) => buildRecordProof(header, ids, i, encodeRecord(block.records[0]!), levels)),
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

  it("no bytes, index and branch but a real record's verify, for every branch length 0 to 32 (property)", () => {
    // An attacker's moves against the tree: an inner node offered as a record one or more levels up (its
    // 64-byte preimage, with the real path above it and a count that gives that depth), a real record
    // offered deeper (its real branch with levels added, and a count to match), another record or random
    // bytes at a real position. The miner part is the real one (the only one that folds to the root),
    // or for an inner node also that level's leftmost inner node. Nothing but the real triple may pass.
    const depthCount = (b: number, atLeast: number): number =>
      Math.max(atLeast, b === 0 ? 1 : 2 ** (b - 1) + 1);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2000 }),
        fc.nat(255),
        fc.array(fc.nat(), { minLength: 8, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 3 }),
        (count, salt, picks, carrierPicks) => {
          const carriers = count > 1 ? carrierPicks.map((c) => 1 + (c % (count - 1))) : [];
          const block = blockOf(count, regtest.genesis.header.bits, salt, carriers);
          const ids = recordIds(block);
          const levels = merkleLevels(ids);
          const d = levels.length - 1;
          const bytes = block.records.map((r) => encodeRecord(r).slice());
          const hex = (b: Uint8Array) => toHex(b);
          const realBranch = (i: number) => merkleBranch(levels, i).map(hex);
          const minerPart = { record: hex(bytes[0]!), branch: realBranch(0) };
          const header = toHex(encodeHeader(block.header));
          // A real record of 64 bytes is refused too: it could be an inner node.
          const isReal = (index: number, b: Uint8Array, branch: string[]) =>
            index < count &&
            b.length !== 64 &&
            toHex(b) === toHex(bytes[index]!) &&
            JSON.stringify(branch) === JSON.stringify(realBranch(index));
          const tried: Array<{
            index: number;
            b: Uint8Array;
            branch: string[];
            count: number;
            miner: RecordProof["miner"];
          }> = [];
          const pick = (k: number, n: number) => picks[k % picks.length]! % n;
          for (let b = 0; b <= 32; b++) {
            if (b < d) {
              // An inner node at level k = d - b, read as a record.
              const k = d - b;
              const p = pick(b, levels[k]!.length);
              const below = levels[k - 1]!;
              const pre = new Uint8Array(64);
              pre.set(below[2 * p]!, 0);
              pre.set(below[2 * p + 1] ?? below[2 * p]!, 32);
              const branch = merkleBranch(levels.slice(k), p).map(hex);
              const preMiner = new Uint8Array(64);
              preMiner.set(below[0]!, 0);
              preMiner.set(below[1] ?? below[0]!, 32);
              for (const miner of [
                minerPart,
                { record: hex(preMiner), branch: merkleBranch(levels.slice(k), 0).map(hex) },
              ])
                tried.push({ index: p, b: pre, branch, count: depthCount(b, p + 1), miner });
            }
            if (b > d) {
              // A real record one or more levels deeper than the tree.
              const i = pick(b, count);
              const extra = Array.from({ length: b - d }, (_, j) => hex(levels[Math.min(j, d)]![0]!));
              const index = i + (pick(b + 1, 2 ** Math.min(b - d, 20)) << d);
              const deeper = { record: minerPart.record, branch: [...minerPart.branch, ...extra] };
              tried.push({
                index,
                b: bytes[i]!,
                branch: [...realBranch(i), ...extra],
                count: depthCount(b, index + 1),
                miner: deeper,
              });
            }
            if (b === d + 1) {
              // The invented record under each carrier: index 2i + 1, the carrier's first 32 bytes beside it.
              for (const i of carriers) {
                const carrier = bytes[i]!;
                const inventedBytes = encodeRecord(dataRecordAt(i, salt));
                const branch = [hex(carrier.subarray(0, 32)), ...realBranch(i)];
                const deeper = { record: minerPart.record, branch: [branch[0]!, ...minerPart.branch] };
                for (const miner of [minerPart, deeper])
                  tried.push({
                    index: 2 * i + 1,
                    b: inventedBytes,
                    branch,
                    count: depthCount(b, 2 * i + 2),
                    miner,
                  });
              }
            }
            if (b === d) {
              const i = pick(b, count);
              const j = pick(b + 2, count);
              tried.push({ index: i, b: bytes[j]!, branch: realBranch(i), count, miner: minerPart });
              const other = encodeRecord({ type: "data", data: Uint8Array.of(b, salt, i & 0xff, 1) });
              tried.push({ index: i, b: other, branch: realBranch(i), count, miner: minerPart });
              tried.push({ index: j, b: bytes[i]!, branch: realBranch(i), count, miner: minerPart });
            }
          }
          for (const t of tried) {
            const proof: RecordProof = {
              version: 2,
              header,
              index: t.index,
              count: t.count,
              branch: t.branch,
            };
            if (t.index !== 0 && t.miner) proof.miner = t.miner;
            const r = verifyRecordProof(proof, t.b);
            const real = isReal(t.index, t.b, t.branch);
            assert.equal(
              r.valid,
              real,
              `count ${count}, index ${t.index}, branch ${t.branch.length}: ${r.valid ? "verified" : r.code}`,
            );
          }
        },
      ),
      {
        numRuns: 30,
        examples: [
          [1, 0, [0, 1, 2, 3, 4, 5, 6, 7], []],
          [2, 1, [1, 1, 1, 1, 1, 1, 1, 1], [0]],
          [3, 2, [2, 0, 1, 2, 0, 1, 2, 0], [1]],
          [2000, 3, [1999, 7, 5, 3, 1, 0, 2, 4], [0, 998, 1997]],
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

  it("refuses a position behind a duplicated last node (CVE-2012-2459) and positions outside the block", () => {
    const block = blockOf(3, regtest.genesis.header.bits, 7);
    const { proofs, bytes } = proofsFor(block);
    const last = proofs[2]!;
    const codeOf = (p: RecordProof) => {
      const r = verifyRecordProof(p, bytes[2]!);
      return r.valid ? "valid" : r.code;
    };
    // [a, b, c] hashes as [a, b, c, c]: the fold for index 3 with c's branch reaches the same root.
    assert.equal(last.branch[0], toHex(recordIds(block)[2]!));
    assert.equal(codeOf(last), "valid");
    assert.equal(codeOf({ ...last, index: 3 }), "BAD_INDEX");
    // Claiming a fourth record to make index 3 exist: c's copy is then read as a real neighbour.
    assert.equal(codeOf({ ...last, index: 3, count: 4 }), "DUPLICATE_NODE");
    assert.equal(codeOf({ ...last, count: 4 }), "DUPLICATE_NODE");
    assert.equal(codeOf({ ...last, index: 2 + 4, count: 8 }), "BAD_DEPTH");
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
    // A fresh realm with only the language's own globals and the encoding API: what a page (or a Web
    // Worker) has, minus the DOM.
    const context = vm.createContext({
      proof: proofs[4],
      bytes: Array.from(bytes[4]!),
      TextEncoder,
      TextDecoder,
    });
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
      height: 1 + 11,
      time: block.header.time,
      bits: block.header.bits,
    });
  });
});
