import { devnet } from "../consensus/params.ts";
import { type SimPhase, type SimResult, simulate, stepPhases, summarize } from "./asert-model.ts";
import { fixedLatency } from "./latency.ts";
import { type SimProgress, Simulation } from "./network.ts";
import { bitsWork, simParams } from "./params.ts";

/**
 * ASERT's answer to hash-rate steps on real nodes: the network hashes at H, then 10H from a third of
 * the run, then H again (÷10) from two thirds; every node's bits come from its own Chain
 * (`nextBlockContext`, the real ASERT on real block times), and every block passes the real BAD_BITS,
 * TIME_TOO_OLD and TIME_TOO_NEW checks on every node. Reports the same figures as the node-free model
 * (asert-model.ts, `npm run sim:difficulty`), computed from the main chain of node 0, with the model's
 * figures for the same seed beside them.
 *
 * H stands in the same ratio to the genesis work as the model's H = 2^24 H/s to devnet's genesis work
 * (about a block a second against a 5 s target, so phase 1 starts with a hardening): ASERT is
 * scale-free, so both runs see the same schedule.
 */

/** The model's base hash rate (bench/difficulty-sim.ts): one core of the native kernel. */
const MODEL_HASHRATE = 2 ** 24;

export interface DifficultyOptions {
  halfLives: number[];
  blocks: number;
  nodes: number;
  seed: number;
  /** Delay between nodes, seconds. */
  delay: number;
  onProgress?: (label: string, p: SimProgress) => void;
}

export interface DifficultyRun {
  half_life_s: number;
  chain: Omit<SimResult, "times" | "bits"> & { stale: number };
  model: Omit<SimResult, "times" | "bits">;
  /** Expected solve time / target by height (every `stride`-th block), for the plot. */
  series: Array<{ height: number; chain: number; model: number }>;
}

export async function runDifficulty(
  halfLife: number,
  o: Omit<DifficultyOptions, "halfLives">,
): Promise<DifficultyRun> {
  const spacing = devnet.targetSpacing;
  const params = simParams({ spacing, asertHalfLife: halfLife });
  const base = (bitsWork(params.genesis.header.bits) * MODEL_HASHRATE) / bitsWork(devnet.genesis.header.bits);
  const phases = stepPhases(o.blocks, base);
  const rateAt = (height: number): number => {
    let r = phases[0]!.hashrate;
    for (const p of phases) if (p.fromHeight <= height) r = p.hashrate;
    return r;
  };
  const sim = await Simulation.create({
    params,
    seed: o.seed,
    nodes: Array.from({ length: o.nodes }, () => ({ hashrate: base / o.nodes })),
    latency: fixedLatency(o.delay),
    blocks: o.blocks * 2, // stopped by height below
    ...(o.onProgress ? { onProgress: (p: SimProgress) => o.onProgress!(`half-life ${halfLife}s`, p) } : {}),
  });
  let step = 0;
  sim.onFound.push((b) => {
    // The next block is mined at the next phase's rate.
    const next = phases.findIndex((p: SimPhase) => p.fromHeight === b.height + 1);
    if (next > step) {
      step = next;
      for (const n of sim.nodes) {
        n.hashrate = phases[next]!.hashrate / o.nodes;
        n.schedule(sim);
      }
    }
    if (b.height >= o.blocks) sim.stop();
  });
  const stats = await sim.run();
  const main = sim.mainChain().slice(0, o.blocks);
  const times = [params.genesis.header.time, ...main.map((e) => e.header.time)];
  const bits = [params.genesis.header.bits, ...main.map((e) => e.header.bits)];
  const expected = bits.map((b, h) => (h === 0 ? spacing : bitsWork(b) / rateAt(h)));
  let maxClockLead = 0;
  for (const e of main) {
    const found = sim.blocks.get(e.hash)!.foundAt;
    maxClockLead = Math.max(maxClockLead, e.header.time - found);
  }
  const chain = {
    halfLife,
    spacing,
    maxClockLead,
    stale: stats.found - sim.mainChain().length,
    ...summarize(times, expected, phases, spacing, halfLife, 5),
  };
  const m = simulate({
    params: devnet,
    halfLife,
    blocks: o.blocks,
    phases: stepPhases(o.blocks, MODEL_HASHRATE),
    seed: o.seed,
  });
  const { times: mt, bits: mb, ...model } = m;
  const mExpected = mb.map((b, h) => (h === 0 ? spacing : bitsWork(b) / rateAt(h) / (MODEL_HASHRATE / base)));
  void mt;
  const stride = Math.max(1, Math.floor(o.blocks / 400));
  const series: DifficultyRun["series"] = [];
  for (let h = 1; h <= o.blocks; h += stride)
    series.push({ height: h, chain: expected[h]! / spacing, model: mExpected[h]! / spacing });
  return { half_life_s: halfLife, chain, model, series };
}

export async function difficultyExperiment(o: DifficultyOptions): Promise<DifficultyRun[]> {
  const out: DifficultyRun[] = [];
  for (const h of o.halfLives) out.push(await runDifficulty(h, o));
  return out;
}
