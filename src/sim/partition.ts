import { fixedLatency } from "./latency.ts";
import { type SimProgress, Simulation } from "./network.ts";
import { bitsWork, simParams } from "./params.ts";

/**
 * A network partition: the nodes split into two groups holding `split` and 1 − `split` of the hash
 * rate, mine apart for `duration` seconds, then join. At the join every block found while apart is sent
 * across (as a sync would), the chain with more work wins, and the other side reorganises. On equal
 * work each node keeps what it saw first, so the split lasts until the next block.
 *
 * Expected cost: with X ~ Poisson(s·D/T) and Y ~ Poisson((1−s)·D/T) blocks on each side, the losing
 * side loses min(X, Y) blocks and its nodes reorganise that deep (ties settled by the next block).
 */

export interface PartitionOptions {
  nodes: number;
  /** Hash share of group A (nodes 0..k−1). */
  split: number;
  interval: number;
  /** Partition lengths to try, seconds. */
  durations: number[];
  trials: number;
  seed: number;
  /** Delay between any two connected nodes, seconds. */
  delay: number;
  onProgress?: (label: string, p: SimProgress) => void;
}

export interface PartitionPoint {
  duration_s: number;
  trials: number;
  /** Mean blocks found while apart that ended off the main chain. */
  blocks_lost_mean: number;
  /** E[min(X, Y)]. */
  blocks_lost_formula: number;
  /** Reorg depth at the join, per node and trial: depth → count (0 = the node was on the winning side). */
  reorg_depth_histogram: Record<string, number>;
  reorg_depth_mean: number;
  reorg_depth_max: number;
}

/** E[min(X, Y)] for independent Poisson X, Y with means a, b: Σ_{k≥1} P(X ≥ k) P(Y ≥ k). */
export function expectedMinPoisson(a: number, b: number): number {
  let sum = 0;
  let pa = Math.exp(-a); // P(X = k)
  let pb = Math.exp(-b);
  let ca = pa; // P(X <= k)
  let cb = pb;
  for (let k = 1; k < 1000; k++) {
    const term = (1 - ca) * (1 - cb);
    sum += term;
    if (term < 1e-12 && k > a + b) break;
    pa *= a / k;
    pb *= b / k;
    ca += pa;
    cb += pb;
  }
  return sum;
}

/** One partition: returns (blocks lost, reorg depth of each node at the join). */
export async function runPartitionOnce(
  o: Omit<PartitionOptions, "durations" | "trials"> & { duration: number },
): Promise<{ lost: number; depths: number[]; found: number }> {
  const params = simParams({ spacing: o.interval });
  const total = bitsWork(params.genesis.header.bits) / o.interval;
  const k = Math.max(1, Math.min(o.nodes - 1, Math.round(o.split * o.nodes)));
  const group = (i: number): number => (i < k ? 0 : 1);
  const start = params.genesis.header.time + 1;
  const split = start + 5 * o.interval;
  const join = split + o.duration;
  const end = join + 10 * o.interval;
  const apart = (now: number): boolean => now >= split && now < join;
  const sim = await Simulation.create({
    params,
    seed: o.seed,
    nodes: Array.from({ length: o.nodes }, (_, i) => ({
      hashrate: (total * (i < k ? o.split : 1 - o.split)) / (i < k ? k : o.nodes - k),
    })),
    latency: fixedLatency(o.delay),
    linkUp: (f, t, now) => !apart(now) || group(f) === group(t),
    blocks: Number.MAX_SAFE_INTEGER,
  });
  const depthsBefore = sim.nodes.map((n) => n.reorgs.length);
  sim.queue.at(join, () => {
    // The sync at the join: every block found while apart crosses to the other group, parents first.
    const during = [...sim.blocks.values()]
      .filter((b) => b.foundAt >= split && b.foundAt < join)
      .sort((a, b) => a.height - b.height);
    for (const n of sim.nodes) depthsBefore[n.id] = n.reorgs.length;
    for (const b of during) {
      const from = sim.nodes[b.miner]!;
      for (const to of sim.nodes) if (group(to.id) !== group(from.id)) sim.send(from, to, b.hash);
    }
  });
  sim.queue.at(end, () => sim.stop());
  await sim.run();
  const main = new Set(sim.mainChain().map((e) => e.hash));
  let lost = 0;
  let found = 0;
  for (const b of sim.blocks.values()) {
    if (b.foundAt < split || b.foundAt >= join) continue;
    found++;
    if (!main.has(b.hash)) lost++;
  }
  const depths = sim.nodes.map((n) => Math.max(0, ...n.reorgs.slice(depthsBefore[n.id])));
  return { lost, depths, found };
}

export async function partitionExperiment(o: PartitionOptions): Promise<PartitionPoint[]> {
  const out: PartitionPoint[] = [];
  let seed = o.seed;
  for (const duration of o.durations) {
    let lost = 0;
    const hist: Record<string, number> = {};
    let depthSum = 0;
    let depthN = 0;
    let depthMax = 0;
    for (let t = 0; t < o.trials; t++) {
      const r = await runPartitionOnce({ ...o, duration, seed: seed++ });
      lost += r.lost;
      for (const d of r.depths) {
        hist[d] = (hist[d] ?? 0) + 1;
        depthSum += d;
        depthN++;
        depthMax = Math.max(depthMax, d);
      }
      o.onProgress?.(`D=${duration}s`, { found: t + 1, target: o.trials, events: 0, virtualTime: 0 });
    }
    const x = duration / o.interval;
    out.push({
      duration_s: duration,
      trials: o.trials,
      blocks_lost_mean: lost / o.trials,
      blocks_lost_formula: expectedMinPoisson(o.split * x, (1 - o.split) * x),
      reorg_depth_histogram: hist,
      reorg_depth_mean: depthSum / depthN,
      reorg_depth_max: depthMax,
    });
  }
  return out;
}
