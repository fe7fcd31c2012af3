import { fixedLatency, type LatencyModel, lognormalLatency } from "./latency.ts";
import { type SimProgress, type SimStats, Simulation } from "./network.ts";
import { bitsWork, simParams } from "./params.ts";
import type { RelayOptions, RelayStats } from "./relay.ts";
import { renewalInterval, renewalStaleRate } from "./stale-model.ts";
import type { Topology } from "./topology.ts";

/**
 * Stale-block rate against propagation delay Δ and block interval T. With every block reaching every
 * node Δ after it was found, a block goes stale when a miner who has not seen it finds a competitor in
 * those Δ seconds, so to first order the stale rate is 1 − e^(−Δ/T) (Gervais et al. 2016; with N equal
 * miners the finder never competes with itself: 1 − e^(−Δ(1−1/N)/T)). Both are first order; the
 * renewal figures (stale-model.ts) are what this network's rules give, and each run measures the
 * propagation delay it really had, so a topology's extra hops show up beside the nominal Δ.
 */

export interface StaleRunOptions {
  nodes: number;
  /** Block interval T, seconds. */
  interval: number;
  blocks: number;
  seed: number;
  /** One-way delay model; default fixed `delay` seconds. */
  latency?: LatencyModel;
  /** Fixed delay Δ in seconds when no latency model is given (also the Δ reported). */
  delay: number;
  topology?: Topology;
  bandwidth?: number;
  blockBytes?: number;
  /** Full or compact relay and the modelled block size (relay.ts). */
  relay?: RelayOptions;
  onProgress?: (p: SimProgress) => void;
}

/** Measured delays from a block's discovery to its first arrival at each other node, seconds. */
export interface PropagationFigures {
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface StalePoint {
  nodes: number;
  interval_s: number;
  delay_s: number;
  blocks: number;
  main_chain: number;
  stale_rate: number;
  /** Half-width of the 95 % interval of stale_rate: binomial for one run, between seeds when pooled. */
  ci95: number;
  /** Runs pooled into this point (runStaleSeeds); 1 for a single run. */
  seeds: number;
  /** 1 − e^(−Δ/T). */
  formula: number;
  /** 1 − e^(−Δ(1−1/N)/T). */
  formula_n: number;
  /** The renewal rate for a fixed delay Δ = delay_s (stale-model.ts renewalStaleRate). */
  formula_renewal: number;
  /** The renewal rate from the delays this run measured (stale-model.ts renewalInterval). */
  renewal_measured: number;
  propagation_s: PropagationFigures;
  relay: {
    policy: string;
    /** Mean bytes per block per link crossed, round trips included. */
    bytes_per_delivery: number;
    /** Share of deliveries that needed the missing-record round trip. */
    round_trip_share: number;
    /** Share of deliveries that fell back to the full block. */
    fallback_share: number;
  };
  stats: SimStats;
}

/** Equal hash shares summing to one block per `interval` seconds at the genesis bits. */
export function equalHashrates(n: number, interval: number, bits: number): number[] {
  return Array.from({ length: n }, () => bitsWork(bits) / interval / n);
}

/** One stale-rate measurement. */
export async function runStale(o: StaleRunOptions): Promise<StalePoint> {
  const params = simParams({ spacing: o.interval });
  const sim = await Simulation.create({
    params,
    seed: o.seed,
    nodes: equalHashrates(o.nodes, o.interval, params.genesis.header.bits).map((hashrate) => ({ hashrate })),
    latency: o.latency ?? fixedLatency(o.delay),
    ...(o.topology ? { topology: o.topology } : {}),
    ...(o.bandwidth ? { bandwidth: o.bandwidth } : {}),
    ...(o.blockBytes ? { blockBytes: o.blockBytes } : {}),
    ...(o.relay ? { relay: o.relay } : {}),
    measurePropagation: true,
    blocks: o.blocks,
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  });
  const stats = await sim.run();
  const main = sim.mainChain().length;
  const rate = 1 - main / stats.found;
  const x = o.delay / o.interval;
  const measured = propagation(sim, o.interval);
  const r: RelayStats = sim.relay.stats;
  return {
    nodes: o.nodes,
    interval_s: o.interval,
    delay_s: o.delay,
    blocks: stats.found,
    main_chain: main,
    stale_rate: rate,
    ci95: 1.96 * Math.sqrt((rate * (1 - rate)) / stats.found),
    seeds: 1,
    formula: 1 - Math.exp(-x),
    formula_n: 1 - Math.exp(-x * (1 - 1 / o.nodes)),
    formula_renewal: renewalStaleRate(x, o.nodes),
    renewal_measured: 1 - o.interval / measured.meanInterval,
    propagation_s: measured.figures,
    relay: {
      policy: sim.relay.policy,
      bytes_per_delivery: r.deliveries ? Math.round(r.bytes / r.deliveries) : 0,
      round_trip_share: r.deliveries ? r.roundTrips / r.deliveries : 0,
      fallback_share: r.deliveries ? r.fallbacks / r.deliveries : 0,
    },
    stats,
  };
}

/**
 * The delays a run measured (each block to each node but its finder) and the mean renewal interval E[S]
 * over blocks, each block with its own delays.
 */
function propagation(
  sim: Simulation,
  interval: number,
): { figures: PropagationFigures; meanInterval: number } {
  const all: number[] = [];
  let sumS = 0;
  let count = 0;
  for (const b of sim.blocks.values()) {
    const first = sim.relay.firstArrivals(b.hash);
    if (!first) continue;
    const delays = Array.from(first, (t) => t - b.foundAt);
    for (let j = 0; j < delays.length; j++) if (j !== b.miner) all.push(delays[j]!);
    sumS += renewalInterval(delays, interval);
    count++;
  }
  const sorted = Float64Array.from(all.filter(Number.isFinite)).sort();
  const q = (p: number): number =>
    sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : 0;
  const mean = sorted.length ? sorted.reduce((a, v) => a + v, 0) / sorted.length : 0;
  return {
    figures: { mean, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: sorted.at(-1) ?? 0 },
    meanInterval: count ? sumS / count : interval,
  };
}

/** One configuration run with seeds seed, seed + 1, …, seed + seeds − 1, pooled by poolStale. */
export async function runStaleSeeds(o: StaleRunOptions, seeds: number): Promise<StalePoint> {
  const runs: StalePoint[] = [];
  for (let i = 0; i < seeds; i++) runs.push(await runStale({ ...o, seed: o.seed + i }));
  return poolStale(runs);
}

/**
 * Runs of one configuration with different seeds as one point: the stale rate over all their blocks,
 * and a 95 % interval from the spread of the runs' rates (Student t), not the binomial one: that one
 * assumes stale blocks independent, which forks that orphan two blocks at once are not. Delay figures,
 * renewal rate and relay figures are the means over the runs.
 */
export function poolStale(runs: StalePoint[]): StalePoint {
  const first = runs[0];
  if (!first) throw new Error("poolStale needs at least one run");
  if (runs.length === 1) return first;
  const n = runs.length;
  const mean = (f: (p: StalePoint) => number): number => runs.reduce((a, p) => a + f(p), 0) / n;
  const blocks = runs.reduce((a, p) => a + p.blocks, 0);
  const main = runs.reduce((a, p) => a + p.main_chain, 0);
  const m = mean((p) => p.stale_rate);
  const sd = Math.sqrt(runs.reduce((a, p) => a + (p.stale_rate - m) ** 2, 0) / (n - 1));
  const figures = Object.keys(first.propagation_s) as (keyof PropagationFigures)[];
  const stats: SimStats = { ...first.stats, rejected: {} };
  for (const k of [
    "found",
    "events",
    "duplicates",
    "delivered",
    "dropped",
    "virtualSeconds",
    "wallMs",
  ] as const)
    stats[k] = runs.reduce((a, p) => a + p.stats[k], 0);
  for (const p of runs)
    for (const [code, c] of Object.entries(p.stats.rejected))
      stats.rejected[code] = (stats.rejected[code] ?? 0) + c;
  return {
    ...first,
    blocks,
    main_chain: main,
    stale_rate: 1 - main / blocks,
    ci95: (studentT95(n - 1) * sd) / Math.sqrt(n),
    seeds: n,
    renewal_measured: mean((p) => p.renewal_measured),
    propagation_s: Object.fromEntries(
      figures.map((k) => [k, mean((p) => p.propagation_s[k])]),
    ) as unknown as PropagationFigures,
    relay: {
      policy: first.relay.policy,
      bytes_per_delivery: Math.round(mean((p) => p.relay.bytes_per_delivery)),
      round_trip_share: mean((p) => p.relay.round_trip_share),
      fallback_share: mean((p) => p.relay.fallback_share),
    },
    stats,
  };
}

/** t(0.975, df) for df = 1 … 30 (any statistics table). */
const T95 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** The two-sided 95 % Student t quantile for `df` degrees of freedom: the table, then Cornish–Fisher. */
export function studentT95(df: number): number {
  if (df < 1) return Number.NaN;
  if (df <= T95.length) return T95[Math.floor(df) - 1]!;
  const z = 1.959964;
  return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df * df);
}

/** Decker and Wattenhofer (2013): block propagation median 6.5 s, mean 12.6 s; measured stale rate 1.69 %. */
export const DECKER_WATTENHOFER = { medianS: 6.5, meanS: 12.6, staleRate: 0.0169, intervalS: 600 } as const;

export interface StaleExperimentOptions {
  nodes: number;
  blocks: number;
  seed: number;
  /** Delays Δ in seconds. */
  delays: number[];
  /** Intervals T in seconds. */
  intervals: number[];
  /** Also run Bitcoin's T = 600 s with log-normal propagation (Decker–Wattenhofer). */
  bitcoin: boolean;
  onProgress?: (label: string, p: SimProgress) => void;
}

export interface StaleExperimentResult {
  points: StalePoint[];
  bitcoin?: StalePoint & { measured_stale_rate: number; mean_delay_s: number };
}

/** The sweep of Δ × T, then the Bitcoin run. */
export async function staleExperiment(o: StaleExperimentOptions): Promise<StaleExperimentResult> {
  const points: StalePoint[] = [];
  let i = 0;
  for (const interval of o.intervals) {
    for (const delay of o.delays) {
      const label = `T=${interval}s Δ=${delay}s`;
      points.push(
        await runStale({
          nodes: o.nodes,
          interval,
          delay,
          blocks: o.blocks,
          seed: o.seed + i++,
          ...(o.onProgress ? { onProgress: (p: SimProgress) => o.onProgress!(label, p) } : {}),
        }),
      );
    }
  }
  const result: StaleExperimentResult = { points };
  if (o.bitcoin) {
    const dw = DECKER_WATTENHOFER;
    const p = await runStale({
      nodes: o.nodes,
      interval: dw.intervalS,
      delay: dw.meanS,
      latency: lognormalLatency(dw.medianS, dw.meanS),
      blocks: o.blocks,
      seed: o.seed + 1000,
      ...(o.onProgress ? { onProgress: (q: SimProgress) => o.onProgress!("Bitcoin", q) } : {}),
    });
    result.bitcoin = { ...p, measured_stale_rate: dw.staleRate, mean_delay_s: dw.meanS };
  }
  return result;
}
