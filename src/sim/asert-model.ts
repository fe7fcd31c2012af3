/**
 * A model of ASERT under hash-rate steps, without nodes: each block's bits come from asertBits exactly as
 * the chain computes them (block 1 at genesis bits, then ASERT anchored at block 1); its solve time is
 * drawn from the exponential distribution with mean work / hashrate; its timestamp is the whole second a
 * miner's clock shows, raised to MTP + 1 when needed, as a real node's block template does.
 *
 * `npm run sim:difficulty` prints this model's figures (docs/consensus.md); `jbc sim difficulty` runs the
 * same steps on real nodes and reports both side by side. Deterministic for a seed.
 */
import { bitsToTarget, targetWork } from "../consensus/compact.ts";
import { anchorFromBlockOne, asertBits } from "../consensus/difficulty.ts";
import type { NetworkParams } from "../consensus/params.ts";
import { medianTimePast } from "../consensus/time.ts";
import { makeRng } from "./rng.ts";

/** From block `fromHeight` on, the network hashes at `hashrate` hashes per second. */
export interface SimPhase {
  fromHeight: number;
  hashrate: number;
}

export interface SimOptions {
  params: Pick<NetworkParams, "genesis" | "targetSpacing" | "asertHalfLife" | "powLimit">;
  /** Overrides params.asertHalfLife. */
  halfLife?: number;
  /** Blocks to mine after genesis. */
  blocks: number;
  /** Sorted by fromHeight; the first must start at height 1. */
  phases: SimPhase[];
  seed: number;
  /** A phase counts as settled this many half-lives (in blocks at the target pace) after it starts. */
  settleHalfLives?: number;
}

export interface PhaseStats {
  fromHeight: number;
  toHeight: number;
  hashrate: number;
  /** First height counted in the settled mean. */
  settledFrom: number;
  /** Mean seconds between block timestamps over [settledFrom, toHeight]; null if that range is empty. */
  settledMean: number | null;
  /**
   * Blocks from the phase start until the expected solve time (work / hashrate at the block's bits)
   * first comes within 10 % of the target spacing; null if it never does.
   */
  blocksToWithin10pct: number | null;
  /** Seconds of block timestamps that adjustment took. */
  secondsToWithin10pct: number | null;
  /** Coefficient of variation of the expected solve time over the settled blocks: difficulty noise. */
  settledNoise: number | null;
}

export interface SimResult {
  halfLife: number;
  spacing: number;
  /** Timestamps and bits by height (index 0 is genesis). */
  times: number[];
  bits: number[];
  phases: PhaseStats[];
  /** Mean seconds between timestamps from block 1 to the last. */
  overallMean: number;
  /** Largest lead of a block timestamp over the simulated clock (MTP + 1 bumps), seconds. */
  maxClockLead: number;
  /**
   * Over all blocks, the mean of |expected solve time / target − 1|: one figure for the whole run that
   * counts transient errors after steps and noise while settled alike.
   */
  meanAbsDeviation: number;
  /** Over all blocks, the root mean square of log2(expected solve time / target): weighs big misses more. */
  rmsLog2Error: number;
}

/** Mines `blocks` blocks in simulated time; pure apart from its return value. */
export function simulate(opts: SimOptions): SimResult {
  const { params, blocks, phases } = opts;
  const spacing = params.targetSpacing;
  const halfLife = opts.halfLife ?? params.asertHalfLife;
  if (phases[0]?.fromHeight !== 1) throw new RangeError("the first phase must start at height 1");
  const rng = makeRng(opts.seed).next;
  const genesisBits = params.genesis.header.bits;

  const times = [params.genesis.header.time];
  const bits = [genesisBits];
  const expected = [spacing];
  let clock = params.genesis.header.time;
  let anchor: ReturnType<typeof anchorFromBlockOne> | undefined;
  let maxClockLead = 0;
  let phase = 0;

  for (let h = 1; h <= blocks; h++) {
    while (phase + 1 < phases.length && phases[phase + 1]!.fromHeight <= h) phase++;
    const hashrate = phases[phase]!.hashrate;
    const b =
      anchor === undefined
        ? genesisBits
        : asertBits(anchor, h - 1, times[h - 1]!, spacing, halfLife, params.powLimit);
    const work = Number(targetWork(bitsToTarget(b)!));
    const mean = work / hashrate;
    clock += -Math.log(1 - rng()) * mean;
    const time = Math.max(Math.floor(clock), medianTimePast(times) + 1);
    maxClockLead = Math.max(maxClockLead, time - clock);
    times.push(time);
    bits.push(b);
    expected.push(mean);
    if (h === 1) anchor = anchorFromBlockOne(genesisBits, time, spacing);
  }

  return {
    halfLife,
    spacing,
    times,
    bits,
    maxClockLead,
    ...summarize(times, expected, phases, spacing, halfLife, opts.settleHalfLives ?? 5),
  };
}

/**
 * The figures of a run from its block times and expected solve times (index = height, 0 = genesis):
 * per phase the settled mean, time to come within 10 %, noise; overall deviation. Shared by this model
 * and the real-chain difficulty experiment (difficulty.ts), so both report the same figures.
 */
export function summarize(
  times: readonly number[],
  expected: readonly number[],
  phases: readonly SimPhase[],
  spacing: number,
  halfLife: number,
  settleHalfLives: number,
): Pick<SimResult, "phases" | "overallMean" | "meanAbsDeviation" | "rmsLog2Error"> {
  const blocks = times.length - 1;
  const settleBlocks = Math.ceil((settleHalfLives * halfLife) / spacing);
  const stats: PhaseStats[] = phases.map((p, i) => {
    const fromHeight = p.fromHeight;
    const toHeight = Math.min(blocks, (phases[i + 1]?.fromHeight ?? blocks + 1) - 1);
    const settledFrom = fromHeight + settleBlocks;
    const n = toHeight - settledFrom + 1;
    let settledMean: number | null = null;
    let settledNoise: number | null = null;
    if (n > 0) {
      settledMean = (times[toHeight]! - times[settledFrom - 1]!) / n;
      const xs = expected.slice(settledFrom, toHeight + 1);
      const m = xs.reduce((a, x) => a + x, 0) / n;
      settledNoise = Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / n) / m;
    }
    let blocksToWithin10pct: number | null = null;
    let secondsToWithin10pct: number | null = null;
    for (let h = fromHeight; h <= toHeight; h++) {
      if (Math.abs(expected[h]! / spacing - 1) <= 0.1) {
        blocksToWithin10pct = h - fromHeight;
        secondsToWithin10pct = times[h]! - times[fromHeight - 1]!;
        break;
      }
    }
    return {
      fromHeight,
      toHeight,
      hashrate: p.hashrate,
      settledFrom,
      settledMean,
      blocksToWithin10pct,
      secondsToWithin10pct,
      settledNoise,
    };
  });

  let absDev = 0;
  let sqLog = 0;
  for (let h = 1; h <= blocks; h++) {
    absDev += Math.abs(expected[h]! / spacing - 1);
    sqLog += Math.log2(expected[h]! / spacing) ** 2;
  }
  return {
    phases: stats,
    overallMean: (times[blocks]! - times[0]!) / blocks,
    meanAbsDeviation: absDev / blocks,
    rmsLog2Error: Math.sqrt(sqLog / blocks),
  };
}

/** Three equal phases: base hash rate, ten times it, and back to base. */
export function stepPhases(blocks: number, baseHashrate: number): SimPhase[] {
  const third = Math.floor(blocks / 3);
  return [
    { fromHeight: 1, hashrate: baseHashrate },
    { fromHeight: third + 1, hashrate: baseHashrate * 10 },
    { fromHeight: 2 * third + 1, hashrate: baseHashrate },
  ];
}

/** Whether every phase's settled mean is within `tolerance` of the target spacing. */
export function settledWithin(result: SimResult, tolerance: number): boolean {
  return result.phases.every(
    (p) => p.settledMean !== null && Math.abs(p.settledMean / result.spacing - 1) <= tolerance,
  );
}
