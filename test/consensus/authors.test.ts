/** The author rule and signed author policies (src/consensus/authors.ts), pure. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  AuthorPolicyError,
  authorPolicyFromJson,
  authorPolicyToJson,
  authorRefusal,
  checkBlockAuthors,
  checkPolicyUpdate,
  isAuthorised,
  policyChangeBelow,
  verifyAuthorPolicy,
} from "../../src/consensus/authors.ts";
import { toHex } from "../../src/consensus/bytes.ts";
import { BlockError } from "../../src/consensus/errors.ts";
import { devnet, regtest } from "../../src/consensus/params.ts";
import { KEYS, makePolicy, recordBy } from "../helpers/authors.ts";
import { makeChild } from "../helpers/blocks.ts";

const hex = (who: keyof typeof KEYS): string => toHex(KEYS[who].publicKey);
// alice from 0 until 10 (then revoked), bob from 10 (rotation), carol from 5.
const policy = makePolicy(regtest, [
  { who: "alice", from: 0, until: 10 },
  { who: "bob", from: 10 },
  { who: "carol", from: 5 },
]);

const isPolicyError = (code: string) => (e: unknown) => e instanceof AuthorPolicyError && e.code === code;

describe("author policy files", () => {
  it("round-trips through JSON and verifies", () => {
    assert.ok(verifyAuthorPolicy(policy));
    const json = JSON.parse(JSON.stringify(authorPolicyToJson(policy)));
    assert.deepEqual(authorPolicyFromJson(json, "regtest"), policy);
  });

  it("refuses a tampered grant, another network and malformed fields, saying which", () => {
    const json = authorPolicyToJson(policy);
    const extended = {
      ...json,
      authors: json.authors.map((a) => (a.name === "alice" ? { ...a, until: 20 } : a)),
    };
    assert.throws(() => authorPolicyFromJson(extended, "regtest"), isPolicyError("BAD_SIGNATURE"));
    const added = { ...json, authors: [...json.authors, { publicKey: hex("mallory"), from: 0 }] };
    assert.throws(() => authorPolicyFromJson(added, "regtest"), isPolicyError("BAD_SIGNATURE"));
    assert.throws(() => authorPolicyFromJson(json, devnet.name), isPolicyError("WRONG_NETWORK"));
    const bad: [unknown, RegExp][] = [
      [[], /not a JSON object/],
      [{ ...json, type: "x" }, /type must be/],
      [{ ...json, admin: "00" }, /admin must be 32 bytes/],
      [{ ...json, sequence: -1 }, /sequence/],
      [
        { ...json, authors: [{ publicKey: hex("bob"), from: 5, until: 5 }] },
        /until must be a height above from/,
      ],
      [{ ...json, authors: [{ publicKey: hex("bob"), from: 1.5 }] }, /from must be a height/],
      [{ ...json, signature: "zz".repeat(64) }, /signature must be 64 bytes/],
    ];
    for (const [v, why] of bad)
      assert.throws(
        () => authorPolicyFromJson(v, "regtest"),
        (e: unknown) => isPolicyError("MALFORMED")(e) && why.test((e as Error).message),
      );
  });
});

describe("the author rule", () => {
  it("allows each key within its grants only: rotation and revocation are heights", () => {
    assert.ok(isAuthorised(policy, hex("alice"), 0));
    assert.ok(isAuthorised(policy, hex("alice"), 9));
    assert.ok(!isAuthorised(policy, hex("alice"), 10), "revoked at 10");
    assert.ok(!isAuthorised(policy, hex("bob"), 9));
    assert.ok(isAuthorised(policy, hex("bob"), 10), "rotated in at 10");
    assert.ok(isAuthorised(policy, hex("bob"), 0xfffffffe));
    assert.equal(authorRefusal(policy, recordBy("alice", "x"), 9), undefined);
    assert.deepEqual(authorRefusal(policy, recordBy("alice", "x"), 10), {
      author: hex("alice"),
      reason: "revoked",
      height: 10,
    });
    assert.deepEqual(authorRefusal(policy, recordBy("carol", "x"), 4), {
      author: hex("carol"),
      reason: "not-yet",
      height: 4,
    });
    assert.deepEqual(authorRefusal(policy, recordBy("mallory", "x"), 4), {
      author: hex("mallory"),
      reason: "unlisted",
      height: 4,
    });
    assert.deepEqual(authorRefusal(policy, { type: "data", data: new Uint8Array(3) }, 4), {
      author: null,
      reason: "unsigned",
      height: 4,
    });
    assert.equal(
      authorRefusal(policy, { type: "miner", height: 4, extraNonce: 0n, miner: "m" }, 4),
      undefined,
    );
    assert.equal(
      authorRefusal(undefined, recordBy("mallory", "x"), 4),
      undefined,
      "no policy: anyone writes",
    );
  });

  it("refuses a block carrying an unauthorised record with UNAUTHORISED_AUTHOR, penalty 100, cacheable", () => {
    const ok = makeChild(regtest.genesis, regtest, { records: [recordBy("alice", "a")] });
    checkBlockAuthors(ok, 1, policy, "h");
    const bad = makeChild(regtest.genesis, regtest, {
      records: [recordBy("alice", "a"), recordBy("mallory", "m")],
    });
    assert.throws(
      () => checkBlockAuthors(bad, 1, policy, "h"),
      (e: unknown) =>
        e instanceof BlockError &&
        e.code === "UNAUTHORISED_AUTHOR" &&
        e.penalty === 100 &&
        e.cacheable &&
        e.message === `record 2: author ${hex("mallory")} may not write at height 1 (unlisted)`,
    );
    checkBlockAuthors(bad, 1, undefined, "h");
  });
});

describe("policy updates", () => {
  it("may change only heights above the tip, keep the admin and never lower the sequence", () => {
    // Revoking carol at 50 and adding mallory from 40, both above a tip of 30: fine.
    const next = makePolicy(
      regtest,
      [
        { who: "alice", from: 0, until: 10 },
        { who: "bob", from: 10 },
        { who: "carol", from: 5, until: 50 },
        { who: "mallory", from: 40 },
      ],
      2,
    );
    checkPolicyUpdate(policy, next, 30);
    checkPolicyUpdate(undefined, next, 30);
    assert.equal(policyChangeBelow(policy, next, 30), undefined);
    // The same change at a tip of 45 would rewrite what mallory wrote at 40.
    assert.deepEqual(policyChangeBelow(policy, next, 45), { author: hex("mallory"), height: 40 });
    assert.throws(() => checkPolicyUpdate(policy, next, 45), isPolicyError("REWRITES_HISTORY"));
    assert.throws(() => checkPolicyUpdate(next, policy, 30), isPolicyError("ROLLBACK"));
    // Revoking alice back to 5 changes heights 5..9, already below the tip.
    const rewrite = makePolicy(
      regtest,
      [
        { who: "alice", from: 0, until: 5 },
        { who: "bob", from: 10 },
        { who: "carol", from: 5 },
      ],
      3,
    );
    assert.deepEqual(policyChangeBelow(policy, rewrite, 30), { author: hex("alice"), height: 5 });
  });
});
