import { fixedLatency, type LatencyModel, lognormalLatency } from "./latency.ts";
import { type SimProgress, type SimStats, Simulation } from "./network.ts";
import { bitsWork, simParams } from "./params.ts";
import type { Topology } from "./topology.ts";

/**
 * Stale-block rate against propagation delay Δ and block interval T. With every block reaching every
 * node Δ after it was found, a block goes stale when a miner who has not seen it finds a competitor in
 * those Δ seconds, so to first order the stale rate is 1 − e^(−Δ/T) (Gervais et al. 2016; with N equal
 * miners the finder never competes with itself: 1 − e^(−Δ(1−1/N)/T)).
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
  onProgress?: (p: SimProgress) => void;
}

export interface StalePoint {
  nodes: number;
  interval_s: number;
  delay_s: number;
  blocks: number;
  main_chain: number;
  stale_rate: number;
  /** Half-width of the 95 % binomial interval of stale_rate. */
  ci95: number;
  /** 1 − e^(−Δ/T). */
  formula: number;
  /** 1 − e^(−Δ(1−1/N)/T). */
  formula_n: number;
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
    blocks: o.blocks,
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  });
  const stats = await sim.run();
  const main = sim.mainChain().length;
  const rate = 1 - main / stats.found;
  const x = o.delay / o.interval;
  return {
    nodes: o.nodes,
    interval_s: o.interval,
    delay_s: o.delay,
    blocks: stats.found,
    main_chain: main,
    stale_rate: rate,
    ci95: 1.96 * Math.sqrt((rate * (1 - rate)) / stats.found),
    formula: 1 - Math.exp(-x),
    formula_n: 1 - Math.exp(-x * (1 - 1 / o.nodes)),
    stats,
  };
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
