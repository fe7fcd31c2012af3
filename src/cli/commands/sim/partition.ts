/** `jbc sim partition`: two groups mine apart, then join (src/sim/partition.ts). */
import { Command } from "commander";
import { intArg } from "../../options.ts";
import { type Common, commonOptions, numberArg, numberList } from "./options.ts";
import { finish, progress } from "./output.ts";

interface PartitionOptions extends Common {
  nodes: number;
  split: number;
  duration: number[];
  trials: number;
  interval: number;
  delayMs: number;
}

/** The `partition` sub-command: reorg depth distribution and blocks lost per partition length. */
export function partitionCommand(): Command {
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
  return commonOptions(cmd, "partition").action(partition);
}

async function partition(o: PartitionOptions): Promise<void> {
  const [{ partitionExperiment }, plot] = await Promise.all([
    import("../../../sim/partition.ts"),
    import("../../../sim/plot.ts"),
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
}
