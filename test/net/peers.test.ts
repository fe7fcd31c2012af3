/**
 * Peer scores, bans persisted in a real LevelStore (temporary directory), and the request token bucket.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeBlock } from "../../src/consensus/block.ts";
import { DecodeError } from "../../src/consensus/bytes.ts";
import { BlockError } from "../../src/consensus/errors.ts";
import { regtest } from "../../src/consensus/params.ts";
import { PeerScores, PROTOCOL_PENALTY, penaltyFor } from "../../src/net/peers/scores.ts";
import { ProtocolError } from "../../src/net/protocols.ts";
import { silentLogger } from "../../src/util/logger.ts";
import { openChain } from "../helpers/net.ts";

describe("PeerScores", () => {
  it("adds penalties, bans at the threshold, persists the ban and lifts it when it expires", async () => {
    const tc = await openChain(regtest);
    let now = 1_000_000;
    const opts = { bans: tc.store, banThreshold: 100, banMs: 60_000, logger: silentLogger, now: () => now };
    const scores = new PeerScores(opts);
    await scores.load();
    assert.deepEqual(await scores.penalize("p1", 0), { score: 0 });
    assert.deepEqual(await scores.penalize("p1", 50), { score: 50 });
    assert.equal(scores.isBanned("p1"), false);
    assert.deepEqual(await scores.penalize("p1", 50), { score: 100, bannedUntil: now + 60_000 });
    assert.equal(scores.isBanned("p1"), true);
    // A further offence does not extend or repeat the ban.
    assert.deepEqual(await scores.penalize("p1", 10), { score: 110 });
    assert.deepEqual(await tc.store.loadBans(), new Map([["p1", now + 60_000]]));

    // A new instance on the same store (a restart) sees the ban.
    const reloaded = new PeerScores(opts);
    await reloaded.load();
    assert.equal(reloaded.isBanned("p1"), true);
    assert.equal(reloaded.score("p1"), 0, "scores are not persisted, bans are");

    now += 60_001;
    assert.equal(reloaded.isBanned("p1"), false);
    // isBanned deletes the expired ban from the store in the background.
    let bans = await tc.store.loadBans();
    for (let i = 0; i < 200 && bans.size > 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
      bans = await tc.store.loadBans();
    }
    assert.deepEqual(bans, new Map(), "the expired ban is deleted");
    await tc.remove();
  });

  it("drops expired bans at load and lifts bans by hand", async () => {
    const tc = await openChain(regtest);
    const now = Date.now();
    await tc.store.putBan("old", now - 1);
    await tc.store.putBan("new", now + 10_000);
    const scores = new PeerScores({ bans: tc.store, banThreshold: 100, banMs: 1, logger: silentLogger });
    await scores.load();
    assert.deepEqual([...scores.listBans().keys()], ["new"]);
    assert.deepEqual([...(await tc.store.loadBans()).keys()], ["new"]);
    await scores.unban("new");
    assert.equal(scores.isBanned("new"), false);
    assert.deepEqual(await tc.store.loadBans(), new Map());
    await tc.remove();
  });
});

describe("penaltyFor", () => {
  it("prices protocol errors, bad blocks and undecodable bytes, and nothing else", () => {
    assert.deepEqual(penaltyFor(new ProtocolError("TIMEOUT", "slow"), "status request"), {
      points: PROTOCOL_PENALTY.TIMEOUT,
      reason: "status request: slow",
    });
    const early = new BlockError({ code: "TIME_TOO_NEW", time: 2, now: 1, maxDrift: 0 });
    assert.equal(penaltyFor(early, "block download")?.points, 0, "an early block is not the sender's fault");
    const bad = new BlockError({ code: "BAD_BITS", bits: 1, expected: 2 });
    assert.deepEqual(penaltyFor(bad, "block download"), {
      points: bad.penalty,
      reason: `block download: BAD_BITS ${bad.message}`,
    });
    let undecodable: unknown;
    try {
      decodeBlock(new Uint8Array(10));
    } catch (err) {
      undecodable = err;
    }
    assert.ok(undecodable instanceof DecodeError);
    assert.equal(penaltyFor(undecodable, "x")?.points, PROTOCOL_PENALTY.BAD_BLOCK_ENCODING);
    assert.equal(penaltyFor(new Error("connection reset"), "x"), undefined);
    assert.equal(penaltyFor("not even an error", "x"), undefined);
  });
});
