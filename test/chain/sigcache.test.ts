/**
 * The signature cache (consensus/sigcache.ts): signatures verified at mempool admission are not verified
 * again when their block connects; an entry binds the whole record (its id), so a forged signature under the
 * same key and data is still refused; only successful verifications are cached; the cache is bounded.
 */
import assert from "node:assert/strict";
import { after, afterEach, describe, it } from "node:test";
import { recordIds } from "../../src/consensus/block.ts";
import { regtest } from "../../src/consensus/params.ts";
import {
  ed25519Verify,
  type SignedRecord,
  signRecord,
  useEd25519Verify,
} from "../../src/consensus/records.ts";
import { SignatureCache } from "../../src/consensus/sigcache.ts";
import { Mempool } from "../../src/mempool/mempool.ts";
import { makeChild } from "../helpers/blocks.ts";
import { type Harness, openHarness } from "../helpers/chain.ts";

/** Counts the verifications the chain asks for (the real rule underneath). */
let verifications = 0;
const previous = useEd25519Verify((sig, msg, key) => {
  verifications++;
  return ed25519Verify(sig, msg, key);
});
after(() => {
  useEd25519Verify(previous);
});

const seed = (n: number): Uint8Array => new Uint8Array(32).fill(n);
const signed = (n: number, from = 0): SignedRecord[] =>
  Array.from({ length: n }, (_, i) => signRecord(Uint8Array.of(from + i, 7, 7), seed(1 + ((from + i) % 5))));

let h: Harness | undefined;
afterEach(async () => {
  await h?.dispose();
  h = undefined;
});

describe("SignatureCache", () => {
  it("is bounded: the oldest id goes first; take forgets an id", () => {
    const cache = new SignatureCache(2);
    const id = (n: number): Uint8Array => new Uint8Array(32).fill(n);
    cache.add(id(1));
    cache.add(id(2));
    cache.add(id(3));
    assert.equal(cache.size, 2);
    assert.equal(cache.has(id(1)), false);
    assert.equal(cache.take(id(2)), true);
    assert.equal(cache.take(id(2)), false);
    assert.equal(cache.has(id(3)), true);
    assert.throws(() => new SignatureCache(0), RangeError);
  });
});

describe("the chain reads the cache at the records stage", () => {
  it("records whose ids are cached are not verified again, and their entries are used up", async () => {
    const cache = new SignatureCache();
    h = await openHarness(regtest, { signatures: cache });
    const block = makeChild(regtest.genesis, regtest, { miner: "m", records: signed(20) });
    const ids = recordIds(block);
    for (const id of ids.slice(1, 16)) cache.add(id);
    verifications = 0;
    assert.equal((await h.chain.processBlock(block)).status, "main");
    assert.equal(verifications, 5);
    assert.equal(cache.size, 0);
  });

  it("a forged signature under a cached record's key and data is still BAD_SIGNATURE", async () => {
    const cache = new SignatureCache();
    h = await openHarness(regtest, { signatures: cache });
    const honest = signed(3);
    const honestBlock = makeChild(regtest.genesis, regtest, { miner: "m", records: honest });
    for (const id of recordIds(honestBlock).slice(1)) cache.add(id);
    const forged: SignedRecord = {
      ...honest[1]!,
      signature: honest[1]!.signature.map((b, i) => (i === 0 ? b ^ 1 : b)),
    };
    const bad = makeChild(regtest.genesis, regtest, {
      miner: "x",
      records: [honest[0]!, forged, honest[2]!],
    });
    await assert.rejects(h.chain.processBlock(bad), (err: Error & { code?: string }) => {
      assert.equal(err.code, "BAD_SIGNATURE");
      return true;
    });
    assert.equal(h.chain.tip.height, 0);
  });
});

describe("the mempool fills the cache", () => {
  it("adds the id of a record it admitted, never one whose signature failed", async () => {
    const cache = new SignatureCache();
    const pool = new Mempool({ params: regtest, isConfirmed: () => false, signatures: cache });
    const [good] = signed(1, 40);
    const block = makeChild(regtest.genesis, regtest, { miner: "m", records: [good!] });
    const goodId = recordIds(block)[1]!;
    assert.equal((await pool.admit(good!, { kind: "api" })).ok, true);
    assert.equal(cache.has(goodId), true);
    const forged: SignedRecord = { ...good!, data: Uint8Array.of(99, 7, 7) };
    const result = await pool.admit(forged, { kind: "api" });
    assert.equal(result.ok, false);
    assert.equal(cache.size, 1);
  });
});
