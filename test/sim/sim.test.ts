import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import { Chain } from "../../src/chain/chain.ts";
import { simCommand } from "../../src/cli/commands/sim/index.ts";
import { fixedLatency, parseLatency, SimConfigError } from "../../src/sim/latency.ts";
import { MemoryStore } from "../../src/sim/memory-store.ts";
import { Simulation } from "../../src/sim/network.ts";
import { simParams } from "../../src/sim/params.ts";
import { partitionSpec, renderSvg } from "../../src/sim/plot.ts";
import { makeRng } from "../../src/sim/rng.ts";
import { equalHashrates } from "../../src/sim/stale.ts";
import { openHarness } from "../helpers/chain.ts";

describe("simulator", () => {
  it("gives the same result for the same seed and another for another seed", async () => {
    const params = simParams({ spacing: 600 });
    const run = async (seed: number) => {
      const sim = await Simulation.create({
        params,
        seed,
        nodes: equalHashrates(5, 600, params.genesis.header.bits).map((hashrate) => ({ hashrate })),
        latency: parseLatency("lognormal:20000,60000"),
        blocks: 300,
      });
      const stats = await sim.run();
      // Every node's main chain with arrival numbers, and every found block with its time.
      const trees = sim.nodes.map((n) => sim.mainChain(n).map((e) => `${e.hash}@${e.seq}`));
      return {
        trees,
        found: [...sim.blocks.values()].map((b) => `${b.hash}:${b.foundAt}`),
        stats: stats.events,
      };
    };
    const a = await run(3);
    assert.equal(a.found.length, 300);
    assert.deepEqual(await run(3), a);
    assert.notDeepEqual((await run(4)).found, a.found);
  });

  it("reaches the same tree and tip as a real node on LevelDB fed the same blocks in the same order", async () => {
    // A slow network (Δ = T/4) so node 0 sees forks, orphans and reorgs, not only a straight chain.
    const params = simParams({ spacing: 600 });
    const sim = await Simulation.create({
      params,
      seed: 9,
      nodes: equalHashrates(4, 600, params.genesis.header.bits).map((hashrate) => ({ hashrate })),
      latency: (f, t, rng) => (f === t ? 0 : 60 + 240 * rng.next()),
      blocks: 150,
      trace: true,
    });
    await sim.run();
    const node = sim.nodes[0]!;
    assert.ok(node.reorgs.length > 0, "the script contains at least one reorg");
    const script = sim.arrivals.filter(([n]) => n === 0).map(([, hash]) => sim.blocks.get(hash)!);
    const h = await openHarness(params);
    try {
      h.clock.now = Math.max(...script.map((b) => b.block.header.time)) + 1;
      // As the simulation hands them over (src/sim/network.ts): asked for, so far-behind branches keep bodies.
      for (const b of script)
        await h.chain.processBlock(b.block, { raw: b.raw, requested: true }).catch(() => {});
      assert.equal(h.chain.tip.hash, node.chain.tip.hash);
      assert.equal(h.chain.height, node.chain.height);
      for (const b of script) {
        const real = h.chain.getEntry(b.hash);
        const simulated = node.chain.getEntry(b.hash);
        assert.equal(real?.height, simulated?.height, `block ${b.hash}`);
        assert.equal(real?.status, simulated?.status, `block ${b.hash}`);
      }
      assert.ok(sim.mainChain(node).length < script.length, "some blocks ended on side branches");
    } finally {
      await h.dispose();
    }
  });

  it("relays over a random graph and charges each hop the block's transfer time", async () => {
    const params = simParams({ spacing: 600 });
    const bandwidth = 1e6; // bits per second
    const sim = await Simulation.create({
      params,
      seed: 2,
      nodes: equalHashrates(12, 600, params.genesis.header.bits).map((hashrate) => ({ hashrate })),
      topology: { kind: "random", degree: 3 },
      latency: fixedLatency(0.05),
      bandwidth,
      blockBytes: 20_000,
      blocks: 30,
      trace: true,
    });
    const stats = await sim.run();
    const tips = new Set(sim.nodes.map((n) => n.chain.tip.hash));
    assert.equal(tips.size, 1, "every node ends on one tip");
    assert.ok(stats.duplicates > 0, "relayed copies reach nodes that already have the block");
    for (const [node, hash, time] of sim.arrivals) {
      const b = sim.blocks.get(hash)!;
      if (b.miner === node) continue;
      const hop = 0.05 + (b.raw.length * 8) / bandwidth; // ≈ 0.21 s for a 20 kB block
      const hops = (time - b.foundAt) / hop;
      // Virtual time is absolute (about 1.8e9 s), so sums carry rounding of about 1e-7 s.
      assert.ok(Math.abs(hops - Math.round(hops)) < 1e-4 && hops > 0.999, `arrival after ${hops} hops`);
    }
  });

  it("keeps its chain in MemoryStore across a reopen, as LevelStore does", async () => {
    const params = simParams({ spacing: 600 });
    const sim = await Simulation.create({
      params,
      seed: 1,
      nodes: equalHashrates(2, 600, params.genesis.header.bits).map((hashrate) => ({ hashrate })),
      latency: fixedLatency(1),
      blocks: 40,
    });
    await sim.run();
    const node = sim.nodes[1]!;
    const reopened = await Chain.open({ params, store: node.store, now: () => sim.clock() });
    assert.equal(reopened.tip.hash, node.chain.tip.hash);
    assert.equal(reopened.height, node.chain.height);
    const empty = await Chain.open({ params, store: new MemoryStore(), now: () => sim.clock() });
    assert.equal(empty.height, 0);
  });

  it("parses latency models and refuses bad ones with a typed error", () => {
    const rng = makeRng(1);
    assert.equal(parseLatency("250")(0, 1, rng), 0.25);
    const u = parseLatency("uniform:100-200");
    for (let i = 0; i < 100; i++) {
      const x = u(0, 1, rng);
      assert.ok(x >= 0.1 && x <= 0.2);
    }
    const ln = parseLatency("lognormal:6500,12600");
    let sum = 0;
    for (let i = 0; i < 200_000; i++) sum += ln(0, 1, rng);
    assert.ok(Math.abs(sum / 200_000 - 12.6) < 0.4, `log-normal mean ${sum / 200_000}`);
    const m = parseLatency("matrix:x", () => "0 100\n200 0");
    assert.equal(m(0, 1, rng), 0.1);
    assert.equal(m(3, 2, rng), 0.2);
    for (const bad of ["uniform:5", "lognormal:10,5", "warp:1", "fixed:-1", "matrix:x"])
      assert.throws(() => parseLatency(bad, bad === "matrix:x" ? () => "1 2\n3" : undefined), SimConfigError);
  });

  it("jbc sim has help for itself and each experiment, and prints one JSON object last", async () => {
    const sim = simCommand();
    assert.match(sim.helpInformation(), /stale[\s\S]*selfish[\s\S]*difficulty[\s\S]*partition/);
    const stale = sim.commands.find((c) => c.name() === "stale")!;
    assert.match(stale.helpInformation(), /--delay-ms[\s\S]*--latency/);
    for (const c of [sim, ...sim.commands]) c.exitOverride().configureOutput({ writeErr: () => {} });
    await assert.rejects(
      sim.parseAsync(["stale", "--latency", "warp:1"], { from: "user" }),
      /unknown latency model/,
    );
    await assert.rejects(
      sim.parseAsync(["stale", "--topology", "ring"], { from: "user" }),
      /mesh or random:K/,
    );
    const out = execFileSync(
      "node",
      ["bin/jbc.mjs", "sim", "partition", "--nodes", "4", "--duration", "1200", "--trials", "3", "--no-svg"],
      { encoding: "utf8" },
    );
    const last = JSON.parse(out.trim().split("\n").at(-1)!);
    assert.equal(last.experiment, "partition");
    assert.equal(last.points[0].trials, 3);
    // The figure, rendered headless from that result: an SVG with the formula curve and the points.
    const svg = await renderSvg(partitionSpec(last.points, 600));
    assert.match(svg, /^<svg[\s\S]*E\[min\(X, Y\)\][\s\S]*<\/svg>$/);
  });
});
