import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { describe, it } from "node:test";
import { regtest } from "../../src/consensus/params.ts";
import { MAX_SCORED_PEERS, PeerScores } from "../../src/net/peers/scores.ts";
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
});
