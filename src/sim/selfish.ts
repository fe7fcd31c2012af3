import type { ChainEntry } from "../chain/types.ts";
import type { LatencyModel } from "./latency.ts";
import {
  type FoundBlock,
  type SimNode,
  type SimProgress,
  type SimStats,
  Simulation,
  type Strategy,
} from "./network.ts";
import { bitsWork, simParams } from "./params.ts";

/**
 * Selfish mining (Eyal and Sirer, "Majority is not enough", 2014). One pool with hash share α keeps a
 * private branch and publishes per the paper's Algorithm 1; the honest nodes run the real fork choice
 * (most work, first seen on equal work).
 *
 * γ, the share of honest hash power that mines on the pool's block in a tie, is not a parameter of any
 * node: it comes out of the network. Honest nodes are linked to each other with delay d; every honest
 * node reaches the pool in ε; the pool reaches a chosen set of honest nodes holding a fraction γ of the
 * honest hash power in ε and the others in 3d. When an honest block arrives and the pool answers a tie
 * with its withheld block, the γ nodes see the pool's block first (after 2ε < d) and, first-seen, mine on
 * it; the rest see the honest block first. The finder of the honest block always mines on its own, so the
 * effective γ is γ(1 − 1/Nh) for Nh equal honest nodes (reported as gamma_effective).
 */

/** The pool's state machine (Algorithm 1). Lengths are heights: the chain from genesis. */
export class SelfishPool implements Strategy {
  /** Length of the public chain as the pool knows it (honest blocks and what it published). */
  private publicLen = 0;
  /** Length of the pool's private chain. */
  private privateLen = 0;
  /** Blocks of the private branch since it forked from the public chain (0' counts its published block). */
  private branchLen = 0;
  /** Withheld blocks, oldest first. */
  private unpublished: FoundBlock[] = [];

  async onMined(sim: Simulation, node: SimNode, b: FoundBlock): Promise<void> {
    const deltaPrev = this.privateLen - this.publicLen;
    await sim.process(node, b); // extends the private tip: more work, so the pool's chain follows it
    this.privateLen = b.height;
    this.branchLen++;
    this.unpublished.push(b);
    if (deltaPrev === 0 && this.branchLen === 2) {
      // Was 0' (a tie): the new block wins the race; publish the branch.
      this.publish(sim, node, Number.POSITIVE_INFINITY);
      this.branchLen = 0;
    }
  }

  onEntry(sim: Simulation, node: SimNode, entry: ChainEntry): void {
    if (entry.miner === node.name || entry.height <= this.publicLen) return;
    // Others found a block that lengthens the public chain (once per height, normally one step).
    while (this.publicLen < entry.height) {
      const deltaPrev = this.privateLen - this.publicLen;
      this.publicLen++;
      if (deltaPrev <= 0) {
        // They are ahead (or level with nothing withheld): adopt. The chain's fork choice has already
        // moved the pool to the longer public chain.
        this.privateLen = this.publicLen;
        this.branchLen = 0;
        this.unpublished = [];
      } else if (deltaPrev === 1) {
        this.publish(sim, node, this.publicLen); // now level: the race of state 0'
      } else if (deltaPrev === 2) {
        this.publish(sim, node, Number.POSITIVE_INFINITY); // one ahead: the whole branch wins
        this.branchLen = 0;
      } else {
        this.publish(sim, node, this.publicLen); // far ahead: match their height and keep the lead
      }
    }
  }

  onEnd(sim: Simulation, node: SimNode): void {
    this.publish(sim, node, Number.POSITIVE_INFINITY);
  }

  /** Publishes withheld blocks up to `height` to every peer. */
  private publish(sim: Simulation, node: SimNode, height: number): void {
    while (this.unpublished.length && this.unpublished[0]!.height <= height) {
      const b = this.unpublished.shift()!;
      if (b.height > this.publicLen) this.publicLen = b.height;
      sim.announce(node, b.hash);
    }
  }
}

/** Eyal–Sirer closed form: the pool's share of main-chain blocks. */
export function selfishRevenue(alpha: number, gamma: number): number {
  const a = alpha;
  return (a * (1 - a) ** 2 * (4 * a + gamma * (1 - 2 * a)) - a ** 3) / (1 - a * (1 + (2 - a) * a));
}

/** Pool share above which selfish mining pays: (1 − γ) / (3 − 2γ). */
export const selfishThreshold = (gamma: number): number => (1 - gamma) / (3 - 2 * gamma);

export interface SelfishRunOptions {
  alpha: number;
  gamma: number;
  blocks: number;
  seed: number;
  /** Honest nodes (equal shares of 1 − α). */
  honestNodes: number;
  interval: number;
  /** Honest-to-honest delay d, seconds. */
  delay: number;
  onProgress?: (p: SimProgress) => void;
}

export interface SelfishPoint {
  alpha: number;
  gamma: number;
  gamma_effective: number;
  blocks: number;
  main_chain: number;
  pool_revenue: number;
  honest_revenue: number;
  /** Eyal–Sirer R(α, γ). */
  formula: number;
  /** R at gamma_effective. */
  formula_effective: number;
  ci95: number;
  stats: SimStats;
}

/** The network of the module comment: node 0 is the pool, nodes 1..Nh honest; the first round(γ·Nh) are the γ nodes. */
export function selfishLatency(honestNodes: number, gamma: number, d: number): LatencyModel {
  const eps = d / 50;
  const gammaNodes = Math.round(gamma * honestNodes);
  return (from, to) => {
    if (to === 0) return eps;
    if (from === 0) return to <= gammaNodes ? eps : 3 * d;
    return d;
  };
}

export async function runSelfish(o: SelfishRunOptions): Promise<SelfishPoint> {
  const params = simParams({ spacing: o.interval });
  const total = bitsWork(params.genesis.header.bits) / o.interval;
  const pool = new SelfishPool();
  const sim = await Simulation.create({
    params,
    seed: o.seed,
    nodes: [
      { hashrate: total * o.alpha, strategy: pool },
      ...Array.from({ length: o.honestNodes }, () => ({ hashrate: (total * (1 - o.alpha)) / o.honestNodes })),
    ],
    latency: selfishLatency(o.honestNodes, o.gamma, o.delay),
    blocks: o.blocks,
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  });
  const stats = await sim.run();
  const main = sim.mainChain(sim.nodes[1]!);
  const poolBlocks = main.filter((e) => e.miner === sim.nodes[0]!.name).length;
  const r = poolBlocks / main.length;
  const gEff = (Math.round(o.gamma * o.honestNodes) / o.honestNodes) * (1 - 1 / o.honestNodes);
  return {
    alpha: o.alpha,
    gamma: o.gamma,
    gamma_effective: gEff,
    blocks: stats.found,
    main_chain: main.length,
    pool_revenue: r,
    honest_revenue: 1 - r,
    formula: selfishRevenue(o.alpha, o.gamma),
    formula_effective: selfishRevenue(o.alpha, gEff),
    ci95: 1.96 * Math.sqrt((r * (1 - r)) / main.length),
    stats,
  };
}

export interface SelfishExperimentOptions extends Omit<SelfishRunOptions, "alpha" | "gamma" | "onProgress"> {
  alphas: number[];
  gammas: number[];
  onProgress?: (label: string, p: SimProgress) => void;
}

export interface SelfishExperimentResult {
  points: SelfishPoint[];
  /** Per γ: the paper's threshold and where the measured revenue first exceeds α (linear interpolation). */
  thresholds: Array<{
    gamma: number;
    formula: number;
    measured: number | null;
    bracket: [number, number] | null;
  }>;
}

export async function selfishExperiment(o: SelfishExperimentOptions): Promise<SelfishExperimentResult> {
  const { onProgress, alphas, gammas, ...base } = o;
  const points: SelfishPoint[] = [];
  let i = 0;
  for (const gamma of gammas) {
    for (const alpha of alphas) {
      const label = `α=${alpha} γ=${gamma}`;
      points.push(
        await runSelfish({
          ...base,
          alpha,
          gamma,
          seed: o.seed + i++,
          ...(onProgress ? { onProgress: (p: SimProgress) => onProgress(label, p) } : {}),
        }),
      );
    }
  }
  const thresholds = gammas.map((gamma) => {
    const ps = points.filter((p) => p.gamma === gamma).sort((a, b) => a.alpha - b.alpha);
    // The first α at which the measured revenue exceeds α, interpolated linearly from the point below;
    // null when it pays already at the smallest α tried (the threshold is then below it) or never.
    let measured: number | null = null;
    let bracket: [number, number] | null = null;
    for (let k = 0; k < ps.length; k++) {
      const g = ps[k]!.pool_revenue - ps[k]!.alpha;
      if (g <= 0) continue;
      const prev = ps[k - 1];
      if (prev) {
        const gp = prev.pool_revenue - prev.alpha;
        measured = prev.alpha + ((ps[k]!.alpha - prev.alpha) * -gp) / (g - gp);
        bracket = [prev.alpha, ps[k]!.alpha];
      } else bracket = [0, ps[k]!.alpha];
      break;
    }
    return { gamma, formula: selfishThreshold(gamma), measured, bracket };
  });
  return { points, thresholds };
}
