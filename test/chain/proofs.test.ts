/**
 * Record proofs from the store (src/chain/proofs.ts) and the merkle upper levels kept for them ('m' keys),
 * on a real Chain and LevelStore (and the simulator's MemoryStore, which must behave the same):
 *
 *   genesis -> a1 (100 records) -> a2 (33) -> a3 (5) -> a4 (1,000)     a3, a4 through processBlocks
 *          \-> s1 (40)  -> s2 (2)                                      side branch, then the main chain
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { describe, it } from "node:test";
import { ClassicLevel } from "classic-level";
import { Chain } from "../../src/chain/chain.ts";
import type { ChainStore } from "../../src/chain/store.ts";
import { verifyChain } from "../../src/chain/verify.ts";
import { recordIds } from "../../src/consensus/block.ts";
import { toHex } from "../../src/consensus/bytes.ts";
import { encodeHeader, hashToHex, hexToHash } from "../../src/consensus/header.ts";
import { computeMerkleRoot } from "../../src/consensus/merkle.ts";
import { regtest } from "../../src/consensus/params.ts";
import { buildRecordProof, verifyRecordProof } from "../../src/consensus/proof.ts";
import { type BlockRecord, encodeRecord, signRecord } from "../../src/consensus/records.ts";
import { MemoryStore } from "../../src/sim/memory-store.ts";
import { META_KEY, P_UPPER, prefixRange, upperKey } from "../../src/store/layout.ts";
import { LevelStore } from "../../src/store/level.ts";
import { openHarness, Scenario } from "../helpers/chain.ts";
import { dataRecords } from "../helpers/net.ts";

const seed = new Uint8Array(32).fill(3);
const signed = (n: number): BlockRecord[] =>
  Array.from({ length: n }, (_, i) => signRecord(new TextEncoder().encode(`signed ${i}`), seed));

function scenario(): Scenario {
  const s = new Scenario(regtest);
  s.add("a1", "genesis", { records: [...dataRecords(1, 95, 50), ...signed(4)] });
  s.add("a2", "a1", { records: dataRecords(2, 32, 10) });
  s.add("a3", "a2", { records: dataRecords(3, 4, 10) });
  s.add("a4", "a3", { records: dataRecords(4, 999, 40) });
  s.add("s1", "genesis", { records: dataRecords(11, 39, 20) });
  s.add("s2", "s1", { records: dataRecords(12, 1, 20) });
  return s;
}

/** a1 and a2 one by one, a3 and a4 as a sync's run, s1 as a side block. */
async function load(chain: Chain, s: Scenario): Promise<void> {
  for (const n of ["a1", "a2", "s1"]) await chain.processBlock(s.get(n));
  const run = await chain.processBlocks([{ block: s.get("a3") }, { block: s.get("a4") }]);
  assert.deepEqual(
    run.map((r) => ("status" in r ? r.status : r.code)),
    ["main", "main"],
  );
  assert.equal(chain.getEntry(s.hash("s1"))?.status, "accepted");
}

/** Every position of small blocks, a sample of the large one: the proof is the one built from the whole block. */
async function checkProofs(chain: Chain, s: Scenario, names: string[]): Promise<number> {
  let checked = 0;
  for (const name of names) {
    const block = s.get(name);
    const ids = recordIds(block);
    const header = encodeHeader(block.header);
    for (let index = 0; index < ids.length; index++) {
      if (ids.length > 200 && index % 17 !== 0 && index < ids.length - 40) continue;
      const place = await chain.findRecord(hashToHex(ids[index]!));
      assert.deepEqual(place, { blockHash: s.hash(name), height: place?.height, index });
      const got = await chain.readRecord(place!, { proof: true });
      assert.deepEqual(
        got?.proof,
        buildRecordProof(header, ids, index, encodeRecord(block.records[0]!)),
        `${name} position ${index}`,
      );
      assert.deepEqual(got?.record, block.records[index]);
      assert.equal(got?.time, block.header.time);
      const v = verifyRecordProof(got!.proof!, encodeRecord(block.records[index]!), {
        powLimit: regtest.powLimit,
      });
      assert.equal(v.valid, true, JSON.stringify(v));
      // Without the proof: the same record, no tree read.
      assert.deepEqual(await chain.readRecord(place!, { proof: false }), {
        record: block.records[index],
        time: block.header.time,
      });
      checked++;
    }
  }
  return checked;
}

async function expectUppers(store: ChainStore, s: Scenario): Promise<void> {
  const names = ["genesis", "a1", "a2", "a3", "a4", "s1"];
  const got = await store.getUpperTrees(names.map((n) => hexToHash(s.hash(n))));
  names.forEach((n, i) => {
    const want = computeMerkleRoot(recordIds(s.get(n)), true).upper;
    assert.equal(got[i] && toHex(got[i]!), want && toHex(want), n);
  });
  // Kept exactly for blocks of more than 32 records (a2 has 33 with its miner record, a3 5).
  assert.deepEqual(
    got.map((u) => u !== undefined),
    [false, true, true, false, true, true],
  );
}

const openDb = async (dir: string): Promise<ClassicLevel<Uint8Array, Uint8Array>> => {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: "view", valueEncoding: "view" });
  await db.open();
  return db;
};

describe("record proofs from the store", () => {
  it("serves every record's proof from the body and the upper levels, on LevelDB and in memory", async () => {
    const s = scenario();
    const h = await openHarness(regtest);
    try {
      await load(h.chain, s);
      await expectUppers(h.store, s);
      assert.ok((await checkProofs(h.chain, s, ["genesis", "a1", "a2", "a3", "a4"])) > 200);
      assert.deepEqual((await verifyChain(h.store, regtest)).problems, []);
      // After a restart, from disk alone.
      await h.restart();
      assert.ok((await checkProofs(h.chain, s, ["a4"])) > 0);

      // The side branch overtakes: s1's proofs come from what was stored when it arrived as a side block.
      // s2.. are asked for (as a sync delivers them): 2 blocks below the tip, a branch nobody asked for keeps
      // only its headers (docs/protocol.md, "Blocks nobody asked for").
      await h.chain.processBlock(s.get("s2"), { requested: true });
      assert.equal(h.chain.tip.hash, s.hash("a4")); // s2 only ties the work up to height 2
      s.add("s3", "s2");
      s.add("s4", "s3");
      s.add("s5", "s4");
      for (const n of ["s3", "s4", "s5"]) await h.chain.processBlock(s.get(n), { requested: true });
      assert.equal(h.chain.tip.hash, s.hash("s5"));
      await checkProofs(h.chain, s, ["s1", "s2"]);
      // a1's records left the main chain; its upper levels stay with its body (a block's own data).
      assert.equal(await h.chain.findRecord(hashToHex(recordIds(s.get("a1"))[5]!)), undefined);
      await expectUppers(h.store, s);
      assert.deepEqual((await verifyChain(h.store, regtest)).problems, []);
    } finally {
      await h.dispose();
    }

    const store = new MemoryStore();
    const chain = await Chain.open({
      params: regtest,
      store,
      now: () => regtest.genesis.header.time + 86_400,
    });
    await load(chain, s);
    await expectUppers(store, s);
    await checkProofs(chain, s, ["a1", "a2", "a4"]);
    assert.deepEqual((await verifyChain(store, regtest)).problems, []);
  });

  it("a damaged or missing upper level is a StoreError CORRUPT for the proof and a problem for verify", async () => {
    const s = scenario();
    const h = await openHarness(regtest);
    try {
      await load(h.chain, s);
      const a4 = recordIds(s.get("a4"));
      const place = (await h.chain.findRecord(hashToHex(a4[700]!)))!;
      await h.chain.close();
      await h.store.close();
      const db = await openDb(h.dir);
      const key = upperKey(hexToHash(s.hash("a4")));
      const upper = (await db.get(key))!;
      // Position 700 is under node 21 of level 5 (the first level kept), so node 20 is in its branch.
      upper[32 * 20 + 5]! ^= 1;
      await db.put(key, upper);
      await db.del(upperKey(hexToHash(s.hash("s1")))); // the side block's
      await db.put(upperKey(hexToHash(s.hash("a3"))), new Uint8Array(64)); // a block too small to have any
      await db.close();
      const store = await LevelStore.open(h.dir, regtest);
      const chain = await Chain.open({ params: regtest, store });
      try {
        await assert.rejects(
          chain.readRecord(place, { proof: true }),
          (e: Error) => e.name === "StoreError" && "code" in e && e.code === "CORRUPT",
        );
        // Records whose branch does not pass through the damaged node still prove.
        const other = (await chain.findRecord(hashToHex(a4[10]!)))!;
        assert.ok((await chain.readRecord(other, { proof: true }))?.proof);
        const v = await verifyChain(store, regtest);
        assert.equal(v.ok, false);
        const about = (name: string, what: RegExp): boolean =>
          v.problems.some((p) => p.includes(s.hash(name)) && what.test(p));
        assert.ok(about("a4", /stored merkle upper levels are not its tree's/), JSON.stringify(v.problems));
        assert.ok(about("s1", /merkle upper levels missing/), JSON.stringify(v.problems));
        assert.ok(
          about("a3", /merkle upper levels of 64 bytes, 5 records need 0/),
          JSON.stringify(v.problems),
        );
        assert.ok(about("a3", /stored merkle upper levels are not its tree's/), JSON.stringify(v.problems));
        assert.equal(v.problems.length, 4, JSON.stringify(v.problems));
      } finally {
        await chain.close();
        await store.close();
      }
    } finally {
      await h.dispose();
    }
  });

  it("a version-2 store gets its upper levels on open, and a kill during that only restarts it", async () => {
    const s = scenario();
    const h = await openHarness(regtest);
    await load(h.chain, s);
    await h.chain.close();
    await h.store.close();
    const db = await openDb(h.dir);
    // What jbc before schema 3 left: no 'm' keys, version 2; plus one key of a migration cut short.
    const a1 = upperKey(hexToHash(s.hash("a1")));
    const kept = (await db.get(a1))!;
    await db.clear(prefixRange(P_UPPER));
    await db.put(a1, kept);
    const meta = (await db.get(META_KEY))!;
    meta[0] = 2;
    await db.put(META_KEY, meta);
    await db.close();
    const store = await LevelStore.open(h.dir, regtest);
    try {
      await expectUppers(store, s);
      const chain = await Chain.open({ params: regtest, store });
      await checkProofs(chain, s, ["a2"]);
      assert.deepEqual((await verifyChain(store, regtest)).problems, []);
      await chain.close();
    } finally {
      await store.close();
    }
    const after = await openDb(h.dir);
    // docs/storage.md's regtest metadata: the current version (5), network id, genesis hash.
    assert.equal(
      toHex((await after.get(META_KEY))!),
      "050000007263626acdea3724bea01e1ee64a1631b4da86480fcba4d38bc5079dd6b7ddbc12b7a104",
    );
    await after.close();
    rmSync(h.dir, { recursive: true, force: true });
  });
});
