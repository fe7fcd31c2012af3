import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { poolStale, runStale, studentT95 } from "../../src/sim/stale.ts";
import { renewalInterval, renewalStaleRate, staleMonteCarlo } from "../../src/sim/stale-model.ts";

/** The renewal stale-rate model (src/sim/stale-model.ts) and the pooling of seeds (src/sim/stale.ts). */
describe("stale-rate model", () => {
  it("renewalInterval with one fixed delay gives the closed form, and N → ∞ gives Δ/(T + Δ)", () => {
    for (const [n, x] of [
      [20, 0.1],
      [5, 0.5],
      [100, 2],
    ] as const) {
      const delays = Array.from({ length: n }, (_, j) => (j === 0 ? 0 : x * 600));
      const rate = 1 - 600 / renewalInterval(delays, 600);
      assert.ok(Math.abs(rate - renewalStaleRate(x, n)) < 1e-12, `N=${n} x=${x}`);
    }
    assert.ok(Math.abs(renewalStaleRate(0.1, 1e7) - 0.1 / 1.1) < 1e-6);
    // Below the first-order formula at every x, and zero without delay.
    for (const x of [0.01, 0.1, 1]) assert.ok(renewalStaleRate(x, 20) < 1 - Math.exp(-x * (1 - 1 / 20)));
    assert.equal(renewalStaleRate(0, 20), 0);
  });

  it("matches the chain-free Monte Carlo at Δ/T = 0.1 with 20 miners, where 1 − e^(−Δ/T) is 0.9 points high", () => {
    const blocks = 400_000;
    const mc = staleMonteCarlo(20, 0.1, blocks, 3);
    const r = renewalStaleRate(0.1, 20);
    const sigma = Math.sqrt((r * (1 - r)) / blocks);
    assert.ok(Math.abs(mc - r) < 4 * sigma, `Monte Carlo ${mc} vs renewal ${r} ± ${4 * sigma}`);
    assert.ok(1 - Math.exp(-0.1) - mc > 0.007, `first order ${1 - Math.exp(-0.1)} vs ${mc}`);
  });

  it("pools seeds: rate over all blocks, t interval from their spread, each seed's run as run alone", async () => {
    const o = { nodes: 6, interval: 600, delay: 60, blocks: 200 };
    const runs = [];
    for (const seed of [1, 2, 3]) runs.push(await runStale({ ...o, seed }));
    const pooled = poolStale(runs);
    assert.equal(pooled.seeds, 3);
    assert.equal(pooled.blocks, 600);
    assert.equal(
      pooled.main_chain,
      runs.reduce((a, p) => a + p.main_chain, 0),
    );
    assert.equal(pooled.stale_rate, 1 - pooled.main_chain / 600);
    const m = runs.reduce((a, p) => a + p.stale_rate, 0) / 3;
    const sd = Math.sqrt(runs.reduce((a, p) => a + (p.stale_rate - m) ** 2, 0) / 2);
    assert.ok(Math.abs(pooled.ci95 - (studentT95(2) * sd) / Math.sqrt(3)) < 1e-15);
    assert.equal(pooled.stats.found, 600);
    assert.equal(studentT95(4), 2.776);
    assert.ok(Math.abs(studentT95(49) - 2.0096) < 0.001, `${studentT95(49)}`);
    assert.equal(poolStale([runs[0]!]), runs[0]);
    assert.throws(() => poolStale([]), /at least one run/);
  });
});
