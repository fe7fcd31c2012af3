/**
 * Simulator benchmark (docs/simulation.md, docs/benchmarks.md): the scale run the issue sets (100 nodes
 * × 10,000 blocks, real Chain on every node), then longer stale and selfish runs than the tests afford,
 * for tighter agreement with the formulas.
 *
 *   npm run bench:sim                # everything; last line: one JSON object
 *   npm run bench:sim -- scale       # only one part: scale, scaling, stale, bitcoin or selfish
 */
import { useNativeCrypto } from "../src/node/crypto.ts";
import { fixedLatency, lognormalLatency } from "../src/sim/latency.ts";
import { Simulation } from "../src/sim/network.ts";
import { simParams } from "../src/sim/params.ts";
import { runSelfish } from "../src/sim/selfish.ts";
import { DECKER_WATTENHOFER, equalHashrates, runStale } from "../src/sim/stale.ts";

// As a node does: consensus hashes through OpenSSL here (pure JS is the browser's default).
useNativeCrypto();
const only = process.argv[2];
const mb = (b: number): number => Math.round((b / 2 ** 20) * 10) / 10;
const out: Record<string, unknown> = {};

if (!only || only === "scale") {
  // The scale target: 100 nodes × 10,000 blocks, every block through every node's real Chain.
  const nodes = 100;
  const blocks = 10_000;
  const interval = 600;
  const params = simParams({ spacing: interval });
  global.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const sim = await Simulation.create({
    params,
    seed: 1,
    nodes: equalHashrates(nodes, interval, params.genesis.header.bits).map((hashrate) => ({ hashrate })),
    latency: fixedLatency(6),
    blocks,
  });
  const s = await sim.run();
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  global.gc?.();
  // Retained after a full GC, with the simulation still reachable: what the nodes really hold.
  const retained = process.memoryUsage().heapUsed - heap0;
  const stale = 1 - sim.mainChain().length / s.found;
  const processCalls = s.delivered + s.found;
  const cpuS = (cpu.user + cpu.system) / 1e6;
  console.log(
    `scale: ${nodes} nodes × ${blocks} blocks: ${wall.toFixed(1)} s wall, ${cpuS.toFixed(1)} s CPU; ` +
      `${s.events} events (${Math.round(s.events / wall)}/s wall, ${Math.round(s.events / cpuS)}/s CPU), ` +
      `${processCalls} processBlock calls (${((cpuS / processCalls) * 1e6).toFixed(1)} µs CPU each); ` +
      `heap retained ${mb(retained)} MB = ${mb(retained / nodes)} MB per node (${Math.round(retained / nodes / blocks)} B per block per node); ` +
      `rss ${mb(process.memoryUsage().rss)} MB; stale ${(stale * 100).toFixed(2)}% (1−e^(−Δ(1−1/N)/T) ${((1 - Math.exp((-6 * 0.99) / 600)) * 100).toFixed(2)}%)`,
  );
  Object.assign(out, {
    scale_nodes: nodes,
    scale_blocks: blocks,
    scale_wall_s: Math.round(wall * 10) / 10,
    scale_cpu_s: Math.round(cpuS * 10) / 10,
    scale_events_per_s: Math.round(s.events / wall),
    scale_events_per_cpu_s: Math.round(s.events / cpuS),
    scale_process_block_us: Math.round((cpuS / processCalls) * 1e7) / 10,
    scale_heap_mb_per_node: mb(retained / nodes),
    scale_bytes_per_block_per_node: Math.round(retained / nodes / blocks),
    scale_rss_mb: mb(process.memoryUsage().rss),
    scale_stale_rate: stale,
  });
  sim.nodes.length = 0;
}

if (!only || only === "scaling") {
  // How the cost grows: CPU per processBlock call at 10, 30 and 100 nodes (2,000 blocks each).
  for (const nodes of [10, 30, 100]) {
    const cpu0 = process.cpuUsage();
    const p = await runStale({ nodes, interval: 600, delay: 6, blocks: 2000, seed: 3 });
    const cpu = process.cpuUsage(cpu0);
    const calls = p.stats.delivered + p.stats.found;
    const us = (cpu.user + cpu.system) / calls; // cpuUsage is in µs
    console.log(
      `scaling: ${nodes} nodes × 2000 blocks: ${calls} processBlock calls, ${us.toFixed(1)} µs CPU each`,
    );
    out[`scaling_${nodes}_process_block_us`] = Math.round(us * 10) / 10;
  }
}

if (!only || only === "stale") {
  for (const [delay, key] of [
    [6, "stale_t600_d6"],
    [60, "stale_t600_d60"],
  ] as const) {
    const p = await runStale({ nodes: 20, interval: 600, delay, blocks: 20_000, seed: 7 });
    const z = (p.stale_rate - p.formula_n) / Math.sqrt((p.formula_n * (1 - p.formula_n)) / p.blocks);
    console.log(
      `stale Δ=${delay}s T=600s, 20 nodes, ${p.blocks} blocks: ${(p.stale_rate * 100).toFixed(3)}% vs ` +
        `1−e^(−Δ(1−1/N)/T) ${(p.formula_n * 100).toFixed(3)}% (z = ${z.toFixed(2)}); 1−e^(−Δ/T) ${(p.formula * 100).toFixed(3)}%`,
    );
    out[`${key}_rate`] = p.stale_rate;
    out[`${key}_formula_n`] = p.formula_n;
    out[`${key}_z`] = Math.round(z * 100) / 100;
  }
}

if (!only || only === "bitcoin") {
  // Bitcoin's T = 600 s with log-normal propagation (Decker–Wattenhofer: median 6.5 s, mean 12.6 s).
  const dw = DECKER_WATTENHOFER;
  const p = await runStale({
    nodes: 20,
    interval: dw.intervalS,
    delay: dw.meanS,
    latency: lognormalLatency(dw.medianS, dw.meanS),
    blocks: 20_000,
    seed: 13,
  });
  console.log(
    `Bitcoin (log-normal propagation, mean ${dw.meanS} s), 20 nodes, ${p.blocks} blocks: stale ${(p.stale_rate * 100).toFixed(2)}%` +
      ` ± ${(p.ci95 * 100).toFixed(2)}% vs measured ${(dw.staleRate * 100).toFixed(2)}% and 1−e^(−Δ(1−1/N)/T) ${(p.formula_n * 100).toFixed(2)}%`,
  );
  out["bitcoin_stale_rate"] = p.stale_rate;
  out["bitcoin_ci95"] = p.ci95;
  out["bitcoin_formula_n"] = p.formula_n;
}

if (!only || only === "selfish") {
  for (const [alpha, gamma, key] of [
    [1 / 3, 0, "selfish_a033_g0"],
    [0.25, 0.5, "selfish_a025_g05"],
    [0.4, 1, "selfish_a040_g1"],
  ] as const) {
    const p = await runSelfish({
      alpha,
      gamma,
      blocks: 20_000,
      seed: 11,
      honestNodes: 20,
      interval: 600,
      delay: 0.5,
    });
    console.log(
      `selfish α=${alpha.toFixed(3)} γ=${gamma} (γ_eff ${p.gamma_effective.toFixed(3)}), ${p.blocks} blocks: pool ${(p.pool_revenue * 100).toFixed(2)}%` +
        ` vs R(α,γ) ${(p.formula * 100).toFixed(2)}%, R(α,γ_eff) ${(p.formula_effective * 100).toFixed(2)}%`,
    );
    out[`${key}_pool_revenue`] = p.pool_revenue;
    out[`${key}_formula`] = p.formula;
    out[`${key}_formula_effective`] = p.formula_effective;
  }
}

console.log(JSON.stringify(out));
