import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { describe, it } from "node:test";
import { regtest } from "../../src/consensus/params.ts";
import { MAX_BANS, MAX_SCORED_PEERS, PeerScores } from "../../src/net/peers/scores.ts";
import { LevelStore } from "../../src/store/level.ts";
import { BoundedMap } from "../../src/util/bounded.ts";
import { silentLogger } from "../../src/util/logger.ts";
import { tempDir } from "../helpers/chain.ts";

describe("memory keyed by remote peers stays bounded", () => {
  it("BoundedMap forgets the oldest entry first; setting again refreshes", () => {
    const s = new BoundedMap<string, number>(3);
    for (const [i, x] of ["a", "b", "c"].entries()) s.set(x, i);
    s.set("a", 10);
    s.set("d", 3);
    assert.equal(s.size, 3);
    assert.equal(s.has("b"), false, "b was the oldest");
    assert.ok(s.has("a") && s.has("c") && s.has("d"));
    assert.equal(s.get("a"), 10);
    assert.equal(s.get("b"), undefined);
  });

  it("PeerScores keeps at most MAX_SCORED_PEERS scores, without touching bans", async () => {
    const dir = tempDir();
    const store = await LevelStore.open(dir, regtest);
    const scores = new PeerScores({ banThreshold: 100, banMs: 60_000, logger: silentLogger, bans: store });
    await scores.penalize("banned", 100);
    for (let i = 0; i < MAX_SCORED_PEERS + 50; i++) await scores.penalize(`p${i}`, 5);
    assert.equal(scores.score("p0"), 0, "the oldest score was forgotten");
    assert.equal(scores.score(`p${MAX_SCORED_PEERS + 49}`), 5);
    assert.ok(scores.isBanned("banned"), "bans are kept apart from scores");
    assert.ok((await store.loadBans()).has("banned"));
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("PeerScores keeps at most maxBans bans, in memory and in the store: expired first, then the soonest to end", async () => {
    assert.equal(MAX_BANS, 10_000);
    const dir = tempDir();
    const store = await LevelStore.open(dir, regtest);
    let now = 1_000;
    const opts = { banThreshold: 100, banMs: 60_000, logger: silentLogger, bans: store, maxBans: 5 };
    const scores = new PeerScores({ ...opts, now: () => now });
    for (let i = 0; i < 4; i++) await scores.ban(`p${i}`, now + 1_000 + i);
    await scores.ban("expires", now + 10);
    now += 20; // "expires" has ended, unasked
    await scores.ban("late", now + 5_000); // one too many: the expired ban goes
    assert.deepEqual([...scores.listBans().keys()].sort(), ["late", "p0", "p1", "p2", "p3"]);
    await scores.ban("later", now + 6_000); // one too many: the one that ends soonest goes
    await new Promise((r) => setTimeout(r, 50)); // the store's deletes
    const kept = [...(await store.loadBans()).keys()].sort();
    assert.deepEqual(kept, ["late", "later", "p1", "p2", "p3"]);
    assert.equal(scores.isBanned("p0"), false);
    // A restart under a smaller bound trims too.
    const again = new PeerScores({ ...opts, maxBans: 2, now: () => now });
    await again.load();
    assert.deepEqual([...again.listBans().keys()].sort(), ["late", "later"]);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
