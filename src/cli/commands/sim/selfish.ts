/** `jbc sim selfish`: Eyal–Sirer selfish mining (src/sim/selfish.ts). */
import { Command } from "commander";
import { intArg } from "../../options.ts";
import { type Common, commonOptions, numberArg, numberList } from "./options.ts";
import { finish, pct, progress, strip } from "./output.ts";

interface SelfishOptions extends Common {
  alpha: number[];
  gamma: number[];
  blocks: number;
  honestNodes: number;
  delayMs: number;
  interval: number;
}

/** The `selfish` sub-command: the pool's share of main-chain blocks beside the closed form. */
export function selfishCommand(): Command {
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
  return commonOptions(cmd, "selfish").action(selfish);
}

async function selfish(o: SelfishOptions): Promise<void> {
  const [{ selfishExperiment }, plot] = await Promise.all([
    import("../../../sim/selfish.ts"),
    import("../../../sim/plot.ts"),
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
}
