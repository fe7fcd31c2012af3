import { readFileSync, writeFileSync } from "node:fs";
import { Command, InvalidArgumentError, Option } from "commander";
import { type LatencyModel, parseLatency } from "../../sim/latency.ts";
import type { SimProgress, Topology } from "../../sim/network.ts";
import { errorMessage } from "../../util/errors.ts";
import { progressBar } from "../../util/format.ts";
import { intArg } from "../options.ts";

/**
 * `jbc sim EXPERIMENT`: the simulator (src/sim, docs/simulation.md). Each experiment prints a table,
 * writes an SVG figure, and ends with one JSON object on the last line (alone with --json). Progress goes
 * to stderr, only on a terminal. The simulator modules are loaded when a command runs, not at startup.
 */

/** A comma-separated list of numbers in [min, max]. */
function numberList(min: number, max: number): (value: string) => number[] {
  return (value: string): number[] => {
    const xs = value.split(",").map((s) => Number(s.trim()));
    if (xs.length === 0 || xs.some((x) => !Number.isFinite(x) || x < min || x > max))
      throw new InvalidArgumentError(`expected comma-separated numbers from ${min} to ${max}`);
    return xs;
  };
}

/** A latency spec (src/sim/latency.ts), parsed when the option is read so a bad one is a usage error. */
function latencyArg(value: string): LatencyModel {
  try {
    return parseLatency(value, (path) => readFileSync(path, "utf8"));
  } catch (err) {
    throw new InvalidArgumentError(errorMessage(err));
  }
}

function topologyArg(value: string): Topology {
  if (value === "mesh") return { kind: "mesh" };
  const m = value.match(/^random:(\d+)$/);
  if (!m || Number(m[1]) < 1)
    throw new InvalidArgumentError("expected mesh or random:K (K ≥ 1 peers per node)");
  return { kind: "random", degree: Number(m[1]) };
}

function numberArg(min: number, max: number): (value: string) => number {
  return (value: string): number => {
    const x = Number(value);
    if (!Number.isFinite(x) || x < min || x > max)
      throw new InvalidArgumentError(`expected a number from ${min} to ${max}`);
    return x;
  };
}

interface Common {
  seed: number;
  json?: boolean;
  svg: string | false;
}

/** Progress on stderr when it is a terminal: one rewritten line, at most every 200 ms. */
function progress(): { report: (label: string, p: SimProgress) => void; done: () => void } {
  const tty = process.stderr.isTTY === true;
  let label = "";
  let since = Date.now(); // start of the current run: events count from zero in each
  let last = 0;
  return {
    report(l, p) {
      if (l !== label) {
        label = l;
        since = Date.now();
      }
      if (!tty || Date.now() - last < 200) return;
      last = Date.now();
      const secs = (Date.now() - since) / 1000;
      const rate = p.events
        ? ` ${Math.round(p.events / Math.max(secs, 0.001)).toLocaleString("en")} events/s`
        : "";
      process.stderr.write(`\r\x1b[K${label} ${progressBar(p.found, p.target, 20)}${rate}`);
    },
    done() {
      if (tty) process.stderr.write("\r\x1b[K");
    },
  };
}

function common(cmd: Command, name: string): Command {
  return cmd
    .option("--seed <n>", "PRNG seed (same seed, same result)", intArg(0, 2 ** 32 - 1), 1)
    .option("--svg <file>", "where to write the figure", `sim-${name}.svg`)
    .option("--no-svg", "write no figure")
    .option("--json", "print only the JSON result");
}

async function finish(
  o: Common,
  lines: string[],
  json: Record<string, unknown>,
  svg: () => Promise<string>,
): Promise<void> {
  if (o.svg !== false) {
    writeFileSync(o.svg, await svg());
    lines.push(`figure: ${o.svg}`);
  }
  if (!o.json) for (const l of lines) console.log(l);
  console.log(JSON.stringify(json));
}

const pct = (x: number, d = 2): string => `${(x * 100).toFixed(d)}%`;
const strip = <T extends { stats?: unknown }>(p: T): Omit<T, "stats"> => {
  const { stats: _s, ...rest } = p;
  return rest;
};

function staleCommand(): Command {
  const cmd = new Command("stale")
    .description(
      "stale-block rate against delay Δ and interval T, beside 1 − e^(−Δ/T) and Bitcoin's measured rate",
    )
    .option("--nodes <n>", "miners with equal hash shares", intArg(2, 10_000), 20)
    .option(
      "--delay-ms <list>",
      "propagation delays Δ (ms, comma-separated)",
      numberList(0, 1e9),
      [3000, 6000, 15000, 30000, 60000, 120000],
    )
    .option("--interval <list>", "block intervals T (s, comma-separated)", numberList(0.001, 1e9), [60, 600])
    .option("--blocks <n>", "blocks to mine per point", intArg(1, 10_000_000), 2000)
    .addOption(
      new Option(
        "--latency <spec>",
        "latency model instead of a fixed Δ: fixed:MS, uniform:MIN-MAX, lognormal:MEDIAN,MEAN, matrix:FILE",
      ).argParser(latencyArg),
    )
    .addOption(
      new Option("--topology <t>", "mesh (finder sends to all) or random:K (K peers each, every node relays)")
        .argParser(topologyArg)
        .default({ kind: "mesh" }, "mesh"),
    )
    .option("--bandwidth <mbit>", "link bandwidth, Mbit/s (default unlimited)", numberArg(0.001, 1e9))
    .option(
      "--block-bytes <n>",
      "data bytes per block (transfer time with --bandwidth)",
      intArg(0, 900_000),
      0,
    )
    .option("--no-bitcoin", "skip the Bitcoin (T = 600 s, Decker–Wattenhofer) run");
  return common(cmd, "stale").action(
    async (
      o: Common & {
        nodes: number;
        delayMs: number[];
        interval: number[];
        blocks: number;
        latency?: LatencyModel;
        topology: Topology;
        bandwidth?: number;
        blockBytes: number;
        bitcoin: boolean;
      },
    ) => {
      const [{ staleExperiment, runStale }, plot] = await Promise.all([
        import("../../sim/stale.ts"),
        import("../../sim/plot.ts"),
      ]);
      const bar = progress();
      const custom = o.latency !== undefined || o.topology.kind !== "mesh" || o.bandwidth || o.blockBytes;
      let result: Awaited<ReturnType<typeof staleExperiment>>;
      if (custom) {
        const latency = o.latency;
        // Δ for the formula: the model's mean delay (sampled) when a model is given.
        const { makeRng } = await import("../../sim/rng.ts");
        const rng = makeRng(o.seed);
        let delay = (o.delayMs[0] ?? 0) / 1000;
        if (latency) {
          let s = 0;
          for (let i = 0; i < 100_000; i++) s += latency(i % o.nodes, (i + 1) % o.nodes, rng);
          delay = s / 100_000;
        }
        const points = [];
        for (const interval of o.interval) {
          points.push(
            await runStale({
              nodes: o.nodes,
              interval,
              delay,
              blocks: o.blocks,
              seed: o.seed,
              ...(latency ? { latency } : {}),
              topology: o.topology,
              ...(o.bandwidth ? { bandwidth: o.bandwidth * 1e6 } : {}),
              blockBytes: o.blockBytes,
              onProgress: (p) => bar.report(`T=${interval}s`, p),
            }),
          );
        }
        result = { points };
      } else {
        result = await staleExperiment({
          nodes: o.nodes,
          blocks: o.blocks,
          seed: o.seed,
          delays: o.delayMs.map((d) => d / 1000),
          intervals: o.interval,
          bitcoin: o.bitcoin,
          onProgress: bar.report,
        });
      }
      bar.done();
      const lines = [
        `stale: ${o.nodes} nodes, ${o.blocks} blocks per point, seed ${o.seed}`,
        "     T s      Δ s   Δ/T    stale ± 95%        1−e^(−Δ/T)  1−e^(−Δ(1−1/N)/T)",
        ...result.points.map(
          (p) =>
            `${String(p.interval_s).padStart(8)} ${p.delay_s.toFixed(2).padStart(8)} ${(p.delay_s / p.interval_s).toFixed(3).padStart(5)}` +
            `  ${pct(p.stale_rate).padStart(7)} ± ${pct(p.ci95).padStart(6)}  ${pct(p.formula).padStart(10)}  ${pct(p.formula_n).padStart(10)}`,
        ),
      ];
      if (result.bitcoin) {
        const b = result.bitcoin;
        lines.push(
          `Bitcoin: T = 600 s, log-normal propagation (median 6.5 s, mean 12.6 s): stale ${pct(b.stale_rate)} ± ${pct(b.ci95)};` +
            ` Decker–Wattenhofer measured ${pct(b.measured_stale_rate)}; 1 − e^(−12.6/600) = ${pct(b.formula)}`,
        );
      }
      const events =
        result.points.reduce((a, p) => a + p.stats.events, 0) + (result.bitcoin?.stats.events ?? 0);
      const ms = result.points.reduce((a, p) => a + p.stats.wallMs, 0) + (result.bitcoin?.stats.wallMs ?? 0);
      const json = {
        experiment: "stale",
        seed: o.seed,
        nodes: o.nodes,
        stale_rate:
          result.points.length === 1 ? result.points[0]!.stale_rate : (result.bitcoin?.stale_rate ?? null),
        points: result.points.map(strip),
        ...(result.bitcoin ? { bitcoin: strip(result.bitcoin) } : {}),
        events_per_s: Math.round(events / (ms / 1000)),
      };
      await finish(o, lines, json, () => plot.renderSvg(plot.staleSpec(result)));
    },
  );
}

function selfishCommand(): Command {
  const cmd = new Command("selfish")
    .description("Eyal–Sirer selfish mining: the pool's share of main-chain blocks beside the closed form")
    .option(
      "--alpha <list>",
      "pool hash shares α",
      numberList(0.001, 0.499),
      [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45],
    )
    .option(
      "--gamma <list>",
      "share γ of honest power that mines on the pool's block in a tie",
      numberList(0, 1),
      [0, 0.5, 1],
    )
    .option("--blocks <n>", "blocks to mine per point", intArg(10, 10_000_000), 2000)
    .option("--honest-nodes <n>", "honest miners (equal shares of 1 − α)", intArg(2, 10_000), 20)
    .option("--delay-ms <ms>", "delay between honest nodes", numberArg(0, 1e9), 500)
    .option("--interval <s>", "block interval T", numberArg(0.001, 1e9), 600);
  return common(cmd, "selfish").action(
    async (
      o: Common & {
        alpha: number[];
        gamma: number[];
        blocks: number;
        honestNodes: number;
        delayMs: number;
        interval: number;
      },
    ) => {
      const [{ selfishExperiment }, plot] = await Promise.all([
        import("../../sim/selfish.ts"),
        import("../../sim/plot.ts"),
      ]);
      const bar = progress();
      const r = await selfishExperiment({
        alphas: o.alpha,
        gammas: o.gamma,
        blocks: o.blocks,
        seed: o.seed,
        honestNodes: o.honestNodes,
        interval: o.interval,
        delay: o.delayMs / 1000,
        onProgress: bar.report,
      });
      bar.done();
      const lines = [
        `selfish: ${o.honestNodes} honest nodes, ${o.blocks} blocks per point, seed ${o.seed}`,
        "    α     γ   γ_eff   pool revenue ± 95%   Eyal–Sirer R   R(γ_eff)",
        ...r.points.map(
          (p) =>
            `${p.alpha.toFixed(2).padStart(5)} ${p.gamma.toFixed(2).padStart(5)} ${p.gamma_effective.toFixed(3).padStart(7)}` +
            `   ${pct(p.pool_revenue).padStart(8)} ± ${pct(p.ci95).padStart(6)}   ${pct(p.formula).padStart(12)}   ${pct(p.formula_effective).padStart(8)}`,
        ),
        ...r.thresholds.map(
          (t) =>
            `threshold γ = ${t.gamma}: (1−γ)/(3−2γ) = ${t.formula.toFixed(3)}, measured ${t.measured !== null ? t.measured.toFixed(3) : t.bracket ? `below ${t.bracket[1]}` : "not crossed"}`,
        ),
      ];
      const single = r.points.length === 1;
      const json = {
        experiment: "selfish",
        seed: o.seed,
        pool_revenue: single ? r.points[0]!.pool_revenue : r.points.map((p) => p.pool_revenue),
        honest_revenue: single ? r.points[0]!.honest_revenue : r.points.map((p) => p.honest_revenue),
        points: r.points.map(strip),
        thresholds: r.thresholds,
      };
      await finish(o, lines, json, () => plot.renderSvg(plot.selfishSpec(r)));
    },
  );
}

function difficultyCommand(): Command {
  const cmd = new Command("difficulty")
    .description("ASERT's answer to hash-rate steps ×10 and ÷10 on real nodes, beside the node-free model")
    .option("--half-life <list>", "ASERT half-lives (s)", numberList(1, 1e7), [60, 150, 300, 600, 1200])
    .option("--blocks <n>", "blocks per half-life (steps at 1/3 and 2/3)", intArg(30, 10_000_000), 10_000)
    .option("--nodes <n>", "miners with equal shares", intArg(1, 10_000), 2)
    .option("--delay-ms <ms>", "delay between nodes", numberArg(0, 1e9), 100);
  return common(cmd, "difficulty").action(
    async (o: Common & { halfLife: number[]; blocks: number; nodes: number; delayMs: number }) => {
      const [{ difficultyExperiment }, plot] = await Promise.all([
        import("../../sim/difficulty.ts"),
        import("../../sim/plot.ts"),
      ]);
      const bar = progress();
      const runs = await difficultyExperiment({
        halfLives: o.halfLife,
        blocks: o.blocks,
        nodes: o.nodes,
        seed: o.seed,
        delay: o.delayMs / 1000,
        onProgress: bar.report,
      });
      bar.done();
      const f = (x: number | null, d = 2): string => (x === null ? "-" : x.toFixed(d));
      const lines = [
        `difficulty: ${o.blocks} blocks per half-life, ${o.nodes} nodes, seed ${o.seed}; H, then 10H from a third, then H`,
        "half-life  phase  settled-mean-s chain/model  to-10%-blocks chain/model  noise-% chain/model",
      ];
      for (const r of runs) {
        r.chain.phases.forEach((p, i) => {
          const m = r.model.phases[i]!;
          lines.push(
            `${String(r.half_life_s).padStart(9)}  ${String(i + 1).padStart(5)}  ${f(p.settledMean).padStart(13)} / ${f(m.settledMean).padEnd(11)}` +
              `  ${f(p.blocksToWithin10pct, 0).padStart(12)} / ${f(m.blocksToWithin10pct, 0).padEnd(11)}` +
              `  ${f((p.settledNoise ?? 0) * 100, 1).padStart(6)} / ${f((m.settledNoise ?? 0) * 100, 1)}`,
          );
        });
        lines.push(
          `${String(r.half_life_s).padStart(9)}  overall mean ${r.chain.overallMean.toFixed(3)} / ${r.model.overallMean.toFixed(3)} s,` +
            ` mean |E/T−1| ${pct(r.chain.meanAbsDeviation, 1)} / ${pct(r.model.meanAbsDeviation, 1)}, stale ${r.chain.stale}`,
        );
      }
      const figures = (x: DifficultyFigures) => ({
        phase1_mean_s: x.phases[0]?.settledMean ?? null,
        phase2_mean_s: x.phases[1]?.settledMean ?? null,
        phase3_mean_s: x.phases[2]?.settledMean ?? null,
        phase1_blocks_to_10pct: x.phases[0]?.blocksToWithin10pct ?? null,
        phase2_blocks_to_10pct: x.phases[1]?.blocksToWithin10pct ?? null,
        phase3_blocks_to_10pct: x.phases[2]?.blocksToWithin10pct ?? null,
        phase2_seconds_to_10pct: x.phases[1]?.secondsToWithin10pct ?? null,
        phase3_seconds_to_10pct: x.phases[2]?.secondsToWithin10pct ?? null,
        settled_noise_pct: Math.max(...x.phases.map((p) => (p.settledNoise ?? 0) * 100)),
        overall_mean_s: x.overallMean,
        mean_abs_dev_pct: x.meanAbsDeviation * 100,
        rms_log2_error: x.rmsLog2Error,
      });
      const json = {
        experiment: "difficulty",
        seed: o.seed,
        blocks: o.blocks,
        runs: runs.map((r) => ({
          half_life_s: r.half_life_s,
          chain: figures(r.chain),
          model: figures(r.model),
          stale: r.chain.stale,
        })),
      };
      await finish(o, lines, json, () => plot.renderSvg(plot.difficultySpec(runs)));
    },
  );
}

interface DifficultyFigures {
  phases: Array<{
    settledMean: number | null;
    blocksToWithin10pct: number | null;
    secondsToWithin10pct: number | null;
    settledNoise: number | null;
  }>;
  overallMean: number;
  meanAbsDeviation: number;
  rmsLog2Error: number;
}

function partitionCommand(): Command {
  const cmd = new Command("partition")
    .description("two groups mine apart, then join: reorg depth distribution and blocks lost")
    .option("--nodes <n>", "nodes", intArg(2, 10_000), 20)
    .option("--split <share>", "hash share of the first group", numberArg(0.01, 0.99), 0.5)
    .option(
      "--duration <list>",
      "partition lengths (s)",
      numberList(1, 1e9),
      [600, 1200, 2400, 4800, 9600, 19200],
    )
    .option("--trials <n>", "partitions per length", intArg(1, 1_000_000), 100)
    .option("--interval <s>", "block interval T", numberArg(0.001, 1e9), 600)
    .option("--delay-ms <ms>", "delay between connected nodes", numberArg(0, 1e9), 1000);
  return common(cmd, "partition").action(
    async (
      o: Common & {
        nodes: number;
        split: number;
        duration: number[];
        trials: number;
        interval: number;
        delayMs: number;
      },
    ) => {
      const [{ partitionExperiment }, plot] = await Promise.all([
        import("../../sim/partition.ts"),
        import("../../sim/plot.ts"),
      ]);
      const bar = progress();
      const points = await partitionExperiment({
        nodes: o.nodes,
        split: o.split,
        interval: o.interval,
        durations: o.duration,
        trials: o.trials,
        seed: o.seed,
        delay: o.delayMs / 1000,
        onProgress: bar.report,
      });
      bar.done();
      const lines = [
        `partition: ${o.nodes} nodes, split ${o.split}, T = ${o.interval} s, ${o.trials} trials per length, seed ${o.seed}`,
        "  D s     D/T  lost (mean)  E[min(X,Y)]  reorg depth mean / max",
        ...points.map(
          (p) =>
            `${String(p.duration_s).padStart(5)}  ${(p.duration_s / o.interval).toFixed(1).padStart(6)}  ${p.blocks_lost_mean.toFixed(2).padStart(11)}` +
            `  ${p.blocks_lost_formula.toFixed(2).padStart(11)}  ${p.reorg_depth_mean.toFixed(2).padStart(8)} / ${p.reorg_depth_max}`,
        ),
      ];
      const json = { experiment: "partition", seed: o.seed, points };
      await finish(o, lines, json, () => plot.renderSvg(plot.partitionSpec(points, o.interval)));
    },
  );
}

/** `jbc sim`: one subcommand per experiment. */
export function simCommand(): Command {
  return new Command("sim")
    .description(
      "simulate a proof-of-work network in virtual time on the real chain code (docs/simulation.md)",
    )
    .addCommand(staleCommand())
    .addCommand(selfishCommand())
    .addCommand(difficultyCommand())
    .addCommand(partitionCommand())
    .hook("preAction", async () => {
      // The simulated chains hash every block of every node: OpenSSL's SHA-256, not the pure-JS default.
      const { useNativeCrypto } = await import("../../node/crypto.ts");
      useNativeCrypto();
    });
}
