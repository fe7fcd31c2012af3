/** `jbc sim difficulty`: ASERT's answer to hash-rate steps on real nodes (src/sim/difficulty.ts). */
import { Command } from "commander";
import { intArg } from "../../options.ts";
import { type Common, commonOptions, numberArg, numberList } from "./options.ts";
import { finish, pct, progress } from "./output.ts";

interface DifficultyOptions extends Common {
  halfLife: number[];
  blocks: number;
  nodes: number;
  delayMs: number;
}

/** The figures of one run (the chain's or the node-free model's), as `difficultyExperiment` reports them. */
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

/** The `difficulty` sub-command: hash-rate steps ×10 and ÷10, the chain beside the model. */
export function difficultyCommand(): Command {
  const cmd = new Command("difficulty")
    .description("ASERT's answer to hash-rate steps ×10 and ÷10 on real nodes, beside the node-free model")
    .option("--half-life <list>", "ASERT half-lives (s)", numberList(1, 1e7), [60, 150, 300, 600, 1200])
    .option("--blocks <n>", "blocks per half-life (steps at 1/3 and 2/3)", intArg(30, 10_000_000), 10_000)
    .option("--nodes <n>", "miners with equal shares", intArg(1, 10_000), 2)
    .option("--delay-ms <ms>", "delay between nodes", numberArg(0, 1e9), 100);
  return commonOptions(cmd, "difficulty").action(difficulty);
}

async function difficulty(o: DifficultyOptions): Promise<void> {
  const [{ difficultyExperiment }, plot] = await Promise.all([
    import("../../../sim/difficulty.ts"),
    import("../../../sim/plot.ts"),
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
}

/** One run's figures as the JSON line names them. */
function figures(x: DifficultyFigures): Record<string, number | null> {
  return {
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
  };
}
