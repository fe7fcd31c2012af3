/** `jbc sim stale`: the stale-block rate against the delay Δ and the interval T (src/sim/stale.ts). */
import { Command, Option } from "commander";
import type { LatencyModel } from "../../../sim/latency.ts";
import type { RelayPolicy } from "../../../sim/relay.ts";
import type { StaleExperimentResult, StalePoint } from "../../../sim/stale.ts";
import type { Topology } from "../../../sim/topology.ts";
import { intArg } from "../../options.ts";
import {
  type Common,
  commonOptions,
  latencyArg,
  numberArg,
  numberList,
  relayArg,
  topologyArg,
} from "./options.ts";
import { finish, pct, progress, strip } from "./output.ts";

interface StaleOptions extends Common {
  nodes: number;
  delayMs: number[];
  interval: number[];
  blocks: number;
  latency?: LatencyModel;
  topology: Topology;
  bandwidth?: number;
  blockBytes: number;
  recordBytes: number;
  relay: RelayPolicy;
  mempoolOverlap: number;
  compactFailure: number;
  seeds: number;
  bitcoin: boolean;
}

/** The `stale` sub-command: its options, and the run, the table and the JSON line. */
export function staleCommand(): Command {
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
    .addOption(
      new Option(
        "--relay <policy>",
        "block relay: full (the whole block) or compact (BIP 152: short ids, missing records in one round trip)",
      )
        .argParser(relayArg)
        .default("full"),
    )
    .option(
      "--block-bytes <n>",
      "bytes of records per block, modelled by size only (transfer time with --bandwidth)",
      intArg(0, 64_000_000),
      0,
    )
    .option("--record-bytes <n>", "bytes of each modelled record", intArg(2, 65_536), 500)
    .option(
      "--mempool-overlap <f>",
      "compact relay: fraction of a block's records a receiver already holds",
      numberArg(0, 1),
      0.9999,
    )
    .option(
      "--compact-failure <f>",
      "compact relay: chance a block fails to rebuild and the receiver fetches it in full",
      numberArg(0, 1),
      0,
    )
    .option(
      "--seeds <n>",
      "runs per point with seeds --seed, --seed + 1, …, pooled (the interval then from their spread)",
      intArg(1, 10_000),
      1,
    )
    .option("--no-bitcoin", "skip the Bitcoin (T = 600 s, Decker–Wattenhofer) run");
  return commonOptions(cmd, "stale").action(stale);
}

async function stale(o: StaleOptions): Promise<void> {
  const [{ staleExperiment }, plot] = await Promise.all([
    import("../../../sim/stale.ts"),
    import("../../../sim/plot.ts"),
  ]);
  const bar = progress();
  const custom =
    o.latency !== undefined ||
    o.topology.kind !== "mesh" ||
    o.bandwidth !== undefined ||
    o.blockBytes > 0 ||
    o.relay !== "full" ||
    o.seeds > 1;
  const result: StaleExperimentResult = custom
    ? { points: await customPoints(o, bar.report) }
    : await staleExperiment({
        nodes: o.nodes,
        blocks: o.blocks,
        seed: o.seed,
        delays: o.delayMs.map((d) => d / 1000),
        intervals: o.interval,
        bitcoin: o.bitcoin,
        onProgress: bar.report,
      });
  bar.done();
  await finish(o, table(o, result, custom), summary(o, result), () => plot.renderSvg(plot.staleSpec(result)));
}

/**
 * One point per interval with a latency model, a topology, a bandwidth, block bytes, compact relay or
 * several seeds given: the formula's Δ is then the latency model's mean (sampled), or the first
 * --delay-ms; the point also reports the propagation delay the run measured.
 */
async function customPoints(
  o: StaleOptions,
  report: ReturnType<typeof progress>["report"],
): Promise<StalePoint[]> {
  const [{ runStaleSeeds }, { makeRng }] = await Promise.all([
    import("../../../sim/stale.ts"),
    import("../../../sim/rng.ts"),
  ]);
  const latency = o.latency;
  const rng = makeRng(o.seed);
  let delay = (o.delayMs[0] ?? 0) / 1000;
  if (latency) {
    let s = 0;
    for (let i = 0; i < 100_000; i++) s += latency(i % o.nodes, (i + 1) % o.nodes, rng);
    delay = s / 100_000;
  }
  const points: StalePoint[] = [];
  for (const interval of o.interval) {
    points.push(
      await runStaleSeeds(
        {
          nodes: o.nodes,
          interval,
          delay,
          blocks: o.blocks,
          seed: o.seed,
          ...(latency ? { latency } : {}),
          topology: o.topology,
          ...(o.bandwidth ? { bandwidth: o.bandwidth * 1e6 } : {}),
          relay: {
            policy: o.relay,
            records: Math.round(o.blockBytes / o.recordBytes),
            recordBytes: o.recordBytes,
            overlap: o.mempoolOverlap,
            failure: o.compactFailure,
          },
          onProgress: (p) => report(`T=${interval}s`, p),
        },
        o.seeds,
      ),
    );
  }
  return points;
}

function table(o: StaleOptions, result: StaleExperimentResult, custom: boolean): string[] {
  const seeds = o.seeds > 1 ? `seeds ${o.seed}–${o.seed + o.seeds - 1} pooled` : `seed ${o.seed}`;
  const lines = [
    `stale: ${o.nodes} nodes, ${o.blocks * o.seeds} blocks per point, ${seeds}`,
    "     T s      Δ s   Δ/T    stale ± 95%  1−e^(−Δ/T)  1−e^(−Δ(1−1/N)/T)  renewal(Δ)  measured Δ s  renewal(measured)",
    ...result.points.map(
      (p) =>
        `${String(p.interval_s).padStart(8)} ${p.delay_s.toFixed(2).padStart(8)} ${(p.delay_s / p.interval_s).toFixed(3).padStart(5)}` +
        `  ${pct(p.stale_rate).padStart(7)} ± ${pct(p.ci95).padStart(6)}  ${pct(p.formula).padStart(10)}  ${pct(p.formula_n).padStart(17)}` +
        `  ${pct(p.formula_renewal).padStart(10)}  ${p.propagation_s.mean.toFixed(2).padStart(12)}  ${pct(p.renewal_measured).padStart(17)}`,
    ),
  ];
  // Custom points: what crossed the links, and how the measured delays spread.
  if (custom)
    for (const p of result.points) {
      const compact = p.relay.policy === "compact";
      lines.push(
        `relay ${p.relay.policy} (T = ${p.interval_s} s): ${p.relay.bytes_per_delivery.toLocaleString("en")} B per block per link` +
          (compact
            ? `, missing-record round trip on ${pct(p.relay.round_trip_share, 1)} of deliveries` +
              `, full-block fallback on ${pct(p.relay.fallback_share, 1)}`
            : "") +
          `; measured delay p50 / p90 / max ${p.propagation_s.p50.toFixed(2)} / ${p.propagation_s.p90.toFixed(2)} / ${p.propagation_s.max.toFixed(2)} s`,
      );
    }
  if (result.bitcoin) {
    const b = result.bitcoin;
    lines.push(
      `Bitcoin: T = 600 s, log-normal propagation (median 6.5 s, mean 12.6 s): stale ${pct(b.stale_rate)} ± ${pct(b.ci95)};` +
        ` Decker–Wattenhofer measured ${pct(b.measured_stale_rate)}; 1 − e^(−12.6/600) = ${pct(b.formula)}`,
    );
  }
  return lines;
}

function summary(o: StaleOptions, result: StaleExperimentResult): Record<string, unknown> {
  const events = result.points.reduce((a, p) => a + p.stats.events, 0) + (result.bitcoin?.stats.events ?? 0);
  const ms = result.points.reduce((a, p) => a + p.stats.wallMs, 0) + (result.bitcoin?.stats.wallMs ?? 0);
  return {
    experiment: "stale",
    seed: o.seed,
    nodes: o.nodes,
    stale_rate:
      result.points.length === 1 ? result.points[0]!.stale_rate : (result.bitcoin?.stale_rate ?? null),
    points: result.points.map(strip),
    ...(result.bitcoin ? { bitcoin: strip(result.bitcoin) } : {}),
    events_per_s: Math.round(events / (ms / 1000)),
  };
}
