import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { blockMerkle, decodeBlock, encodeBlock } from "../../src/consensus/block.ts";
import { toHex } from "../../src/consensus/bytes.ts";
import { bitsToTarget } from "../../src/consensus/compact.ts";
import { encodeHeader, hashToBigInt, headerHashBytes } from "../../src/consensus/header.ts";
import { devnet, genesisBytes, getNetwork, networks, regtest } from "../../src/consensus/params.ts";
import { checkBlockSanity } from "../../src/consensus/validate.ts";

const dsha = (b: Uint8Array) => createHash("sha256").update(createHash("sha256").update(b).digest()).digest();

describe("network parameters", () => {
  for (const p of [devnet, regtest]) {
    describe(p.name, () => {
      const g = p.genesis;

      it("genesis hash is the byte-reversed double SHA-256 of its header (node:crypto)", () => {
        const digest = dsha(encodeHeader(g.header));
        assert.equal(p.genesisHash, Buffer.from(digest).reverse().toString("hex"));
      });

      it("genesis satisfies its own proof of work, within the network's limit", () => {
        const target = bitsToTarget(g.header.bits, p.powLimit);
        assert.ok(target !== null, "genesis bits within powLimit");
        assert.ok(hashToBigInt(headerHashBytes(g.header)) <= target);
      });

      it("genesis merkle root commits to its records, unmutated", () => {
        const m = blockMerkle(g);
        assert.equal(toHex(m.root), toHex(g.header.merkleRoot));
        assert.equal(m.mutated, false);
      });

      it("genesis is height 0 on a zero prevHash, and passes the sanity checks", () => {
        assert.deepEqual(g.records[0], { type: "miner", height: 0, extraNonce: 0n, miner: "genesis" });
        assert.equal(toHex(g.header.prevHash), "00".repeat(32));
        const facts = checkBlockSanity(g, headerHashBytes(g.header), p, g.header.time);
        assert.equal(facts.hashHex, p.genesisHash);
      });

      it("genesis round-trips through its encoding", () => {
        const bytes = genesisBytes(p);
        assert.equal(toHex(encodeBlock(decodeBlock(bytes))), toHex(bytes));
      });

      it("is found by name", () => {
        assert.equal(getNetwork(p.name), p);
        assert.equal(networks[p.name], p);
      });
    });
  }

  it("networks have distinct genesis hashes and network ids", () => {
    assert.notEqual(devnet.genesisHash, regtest.genesisHash);
    assert.notEqual(devnet.networkId, regtest.networkId);
  });

  it("network ids spell 'jbcd' and 'jbcr' in ASCII", () => {
    const ascii = (n: number) =>
      Buffer.from([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]).toString("latin1");
    assert.equal(ascii(devnet.networkId), "jbcd");
    assert.equal(ascii(regtest.networkId), "jbcr");
  });

  it("devnet genesis needs about 2^24 hashes and its limit about 2^16; regtest about 2", () => {
    // Expected hashes = 2^256 / (target + 1): compare orders of magnitude, not exact values.
    const log2Work = (bits: number) => 256 - Math.log2(Number(bitsToTarget(bits)!) + 1);
    assert.ok(Math.abs(log2Work(devnet.genesis.header.bits) - 24) < 0.01);
    assert.ok(Math.abs(256 - Math.log2(Number(devnet.powLimit)) - 16) < 0.01);
    assert.ok(Math.abs(log2Work(regtest.genesis.header.bits) - 1) < 0.01);
    assert.equal(regtest.noRetargeting, true);
    assert.equal(devnet.noRetargeting, false);
  });

  it("refuses an unknown network name, listing the known ones", () => {
    assert.throws(() => getNetwork("mainnet"), /unknown network "mainnet" \(known: devnet, regtest\)/);
  });
});
