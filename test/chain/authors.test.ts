/**
 * The author rule on a real Chain and LevelStore (consensus/authors.ts through chain/connect.ts): a policy
 * with a revocation and a rotation at a height, a malicious miner's longer branch carrying an outsider's
 * record, and a restart under the next policy (sequence 2) that keeps every old record valid.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Chain } from "../../src/chain/chain.ts";
import { verifyChain } from "../../src/chain/verify.ts";
import { checkPolicyUpdate } from "../../src/consensus/authors.ts";
import type { Block } from "../../src/consensus/block.ts";
import { BlockError } from "../../src/consensus/errors.ts";
import { hashToHex } from "../../src/consensus/header.ts";
import { type NetworkParams, regtest } from "../../src/consensus/params.ts";
import { recordId } from "../../src/consensus/records.ts";
import { LevelStore } from "../../src/store/level.ts";
import { makePolicy, recordBy } from "../helpers/authors.ts";
import { type Harness, openHarness, Scenario } from "../helpers/chain.ts";

// v1: alice writes until height 4 (revoked there), bob from 4 (her rotated key, say).
const v1 = makePolicy(regtest, [
  { who: "alice", from: 0, until: 4 },
  { who: "bob", from: 4 },
]);
const params: NetworkParams = { ...regtest, authors: v1 };
const harnesses: Harness[] = [];
after(async () => {
  for (const h of harnesses) await h.dispose().catch(() => undefined);
});

async function refused(h: Harness, block: Block, code: string): Promise<BlockError> {
  const tip = h.chain.tip.hash;
  const err = await h.chain.processBlock(block).then(
    () => assert.fail("the block was accepted"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof BlockError, String(err));
  assert.equal(err.code, code, err.message);
  assert.equal(h.chain.tip.hash, tip);
  return err;
}

describe("authorised authors in the chain", () => {
  it("a revoked key's new records are refused, its old ones stay; the rotated key writes", async () => {
    const h = await openHarness(params);
    harnesses.push(h);
    const s = new Scenario(params);
    s.add("b1", "genesis", { records: [recordBy("alice", "1")] });
    s.add("b2", "b1", { records: [recordBy("alice", "2")] });
    s.add("b3", "b2", { records: [recordBy("alice", "3")] });
    for (const n of ["b1", "b2", "b3"]) assert.equal((await h.chain.processBlock(s.get(n))).status, "main");
    const err = await refused(
      h,
      s.add("b4a", "b3", { records: [recordBy("alice", "4")] }),
      "UNAUTHORISED_AUTHOR",
    );
    assert.equal(err.data.code === "UNAUTHORISED_AUTHOR" && err.data.reason, "revoked");
    await refused(
      h,
      s.add("b4u", "b3", { records: [{ type: "data", data: new Uint8Array(10) }] }),
      "UNAUTHORISED_AUTHOR",
    );
    assert.equal(
      (await h.chain.processBlock(s.add("b4", "b3", { records: [recordBy("bob", "4")] }))).status,
      "main",
    );
    // A side block is judged as well: a competing block 4 with an outsider's record.
    await refused(h, s.add("b4m", "b3", { records: [recordBy("mallory", "4")] }), "UNAUTHORISED_AUTHOR");
    for (const n of ["b1", "b2", "b3"]) {
      const rec = s.get(n).records[1]!;
      assert.ok(
        await h.chain.isRecordConfirmed(hashToHex(recordId(rec))),
        `${n}'s record by alice stays confirmed`,
      );
    }
  });

  it("a malicious miner's longer branch with an outsider's record never becomes the chain", async () => {
    const h = await openHarness(params);
    harnesses.push(h);
    const s = new Scenario(params);
    s.branch("b", "genesis", 1, 3, { records: [] });
    for (const n of ["b1", "b2", "b3"]) await h.chain.processBlock(s.get(n));
    // Forks at height 2 with mallory's record, then outruns the honest chain by three blocks.
    s.add("f2", "b1", { miner: "evil", records: [recordBy("mallory", "x")] });
    s.branch("f", "f2", 3, 6, { miner: "evil" });
    await refused(h, s.get("f2"), "UNAUTHORISED_AUTHOR");
    for (const n of ["f3", "f4", "f5", "f6"]) await refused(h, s.get(n), "INVALID_PARENT");
    assert.equal(h.chain.tip.hash, s.hash("b3"));
    assert.equal(await h.chain.isRecordConfirmed(hashToHex(recordId(s.get("f2").records[1]!))), false);
  });

  it("restarts under the next policy (sequence 2, changes above the tip) with every old record valid", async () => {
    const h = await openHarness(params);
    harnesses.push(h);
    const s = new Scenario(params);
    s.add("b1", "genesis", { records: [recordBy("alice", "1")] });
    s.add("b2", "b1", { records: [recordBy("alice", "2")] });
    for (const n of ["b1", "b2"]) await h.chain.processBlock(s.get(n));
    // v2 revokes alice earlier still, at 3 (above the tip of 2), and lets carol write from 3.
    const v2 = makePolicy(
      regtest,
      [
        { who: "alice", from: 0, until: 3 },
        { who: "bob", from: 4 },
        { who: "carol", from: 3 },
      ],
      2,
    );
    checkPolicyUpdate(v1, v2, h.chain.tip.height);
    await h.chain.close();
    await h.store.close();
    const p2: NetworkParams = { ...regtest, authors: v2 };
    const store = await LevelStore.open(h.dir, p2);
    const chain = await Chain.open({ params: p2, store, now: () => h.clock.now });
    Object.assign(h, { chain, store });
    const verified = await verifyChain(store, p2);
    assert.deepEqual(verified.problems, []);
    assert.equal(verified.ok, true);
    assert.equal(chain.tip.height, 2);
    await refused(h, s.add("b3a", "b2", { records: [recordBy("alice", "3")] }), "UNAUTHORISED_AUTHOR");
    assert.equal(
      (await chain.processBlock(s.add("b3", "b2", { records: [recordBy("carol", "3")] }))).status,
      "main",
    );
  });
});
