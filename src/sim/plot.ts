import type { TopLevelSpec } from "vega-lite";
import type { DifficultyRun } from "./difficulty.ts";
import type { PartitionPoint } from "./partition.ts";
import { type SelfishExperimentResult, selfishRevenue } from "./selfish.ts";
import type { StaleExperimentResult } from "./stale.ts";
import { renewalStaleRate } from "./stale-model.ts";

/**
 * Figures for the experiments: Vega-Lite specs compiled to Vega and rendered to SVG headless (no
 * browser, no canvas: renderer "none" plus toSVG). Each shows the measured points and the published
 * curve they are compared with.
 */

/** Renders a Vega-Lite spec to an SVG string. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const [vega, vl] = await Promise.all([import("vega"), import("vega-lite")]);
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";

/** Curve points of f over [a, b]. */
function curve(f: (x: number) => number, a: number, b: number, n = 100): Array<{ x: number; y: number }> {
  return Array.from({ length: n + 1 }, (_, i) => {
    const x = a + ((b - a) * i) / n;
    return { x, y: f(x) };
  });
}

type Layer = NonNullable<Extract<TopLevelSpec, { layer: unknown }>["layer"]>[number];

/** The stale-rate figure: measured rates with their 95% intervals against both published curves. */
export function staleSpec(r: StaleExperimentResult): TopLevelSpec {
  const xs = r.points.map((p) => p.delay_s / p.interval_s);
  const n = r.points[0]?.nodes ?? 20;
  const minX = Math.min(...xs, r.bitcoin ? r.bitcoin.mean_delay_s / 600 : 1) / 1.5;
  const maxX = Math.max(...xs) * 1.5;
  const logCurve = (f: (x: number) => number, series: string) =>
    curve((u) => minX * (maxX / minX) ** u, 0, 1).map((p) => ({ x: p.y, y: f(p.y), series }));
  const xScale = { type: "log" as const, domain: [minX, maxX] };
  const measured = r.points.map((p) => ({
    x: p.delay_s / p.interval_s,
    y: p.stale_rate,
    lo: Math.max(0.001, p.stale_rate - p.ci95),
    hi: p.stale_rate + p.ci95,
    series: `simulated, T = ${p.interval_s} s`,
  }));
  const layers: Layer[] = [
    {
      data: {
        values: [
          ...logCurve((x) => 1 - Math.exp(-x), "1 − e^(−Δ/T) (first order)"),
          ...logCurve((x) => renewalStaleRate(x, n), `renewal model, N = ${n}`),
        ],
      },
      mark: { type: "line", strokeDash: [4, 3] },
      encoding: {
        x: { field: "x", type: "quantitative", scale: xScale },
        y: { field: "y", type: "quantitative" },
        color: { field: "series", type: "nominal", title: null },
      },
    },
    {
      data: { values: measured },
      mark: { type: "rule" },
      encoding: {
        x: { field: "x", type: "quantitative", scale: xScale },
        y: { field: "lo", type: "quantitative" },
        y2: { field: "hi" },
        color: { field: "series", type: "nominal" },
      },
    },
    {
      data: { values: measured },
      mark: { type: "point", filled: true, size: 50 },
      encoding: {
        x: {
          field: "x",
          type: "quantitative",
          title: "Δ / T (propagation delay / block interval)",
          scale: xScale,
        },
        y: {
          field: "y",
          type: "quantitative",
          title: "stale rate",
          axis: { format: "%" },
          scale: { type: "log", domain: [0.002, 1] },
        },
        color: { field: "series", type: "nominal", title: null },
      },
    },
  ];
  if (r.bitcoin) layers.push(bitcoinLayer(r.bitcoin, xScale));
  return {
    $schema: SCHEMA,
    title: "Stale rate against propagation delay",
    config: { legend: { labelLimit: 400 } },
    width: 480,
    height: 320,
    layer: layers,
  };
}

/** The stale figure's two diamonds: Bitcoin simulated with its measured delays, and as measured. */
function bitcoinLayer(
  b: NonNullable<StaleExperimentResult["bitcoin"]>,
  xScale: { type: "log"; domain: number[] },
): Layer {
  return {
    data: {
      values: [
        { x: b.mean_delay_s / 600, y: b.stale_rate, series: "simulated Bitcoin (log-normal, mean 12.6 s)" },
        { x: b.mean_delay_s / 600, y: b.measured_stale_rate, series: "measured, Decker–Wattenhofer 2013" },
      ],
    },
    mark: { type: "point", size: 90, shape: "diamond", filled: true },
    encoding: {
      x: { field: "x", type: "quantitative", scale: xScale },
      y: { field: "y", type: "quantitative" },
      color: { field: "series", type: "nominal", title: null },
    },
  };
}

/** The selfish-mining figure: the pool's measured share against Eyal–Sirer's curve for each γ. */
export function selfishSpec(r: SelfishExperimentResult): TopLevelSpec {
  const gammas = [...new Set(r.points.map((p) => p.gamma))];
  const curves = gammas.flatMap((g) =>
    curve((a) => Math.max(0, selfishRevenue(a, g)), 0, 0.48).map((p) => ({ ...p, gamma: `γ = ${g}` })),
  );
  const honestLine = curve((a) => a, 0, 0.5, 2);
  const measured = r.points.map((p) => ({
    x: p.alpha,
    y: p.pool_revenue,
    lo: p.pool_revenue - p.ci95,
    hi: p.pool_revenue + p.ci95,
    gamma: `γ = ${p.gamma}`,
  }));
  const color = {
    field: "gamma",
    type: "nominal" as const,
    title: "simulated (points), Eyal–Sirer (dashed)",
  };
  return {
    $schema: SCHEMA,
    title: "Selfish pool's share of main-chain blocks",
    config: { legend: { labelLimit: 400, titleLimit: 400, orient: "top-left" } },
    width: 480,
    height: 320,
    layer: [
      {
        data: { values: honestLine },
        mark: { type: "line", color: "#999", strokeWidth: 1 },
        encoding: { x: { field: "x", type: "quantitative" }, y: { field: "y", type: "quantitative" } },
      },
      {
        data: { values: curves },
        mark: { type: "line", strokeDash: [4, 3] },
        encoding: {
          x: { field: "x", type: "quantitative" },
          y: { field: "y", type: "quantitative" },
          color,
        },
      },
      {
        data: { values: measured },
        mark: { type: "rule" },
        encoding: {
          x: { field: "x", type: "quantitative" },
          y: { field: "lo", type: "quantitative" },
          y2: { field: "hi" },
          color,
        },
      },
      {
        data: { values: measured },
        mark: { type: "point", filled: true, size: 50 },
        encoding: {
          x: {
            field: "x",
            type: "quantitative",
            title: "pool hash share α (grey: honest mining, revenue = α)",
          },
          y: {
            field: "y",
            type: "quantitative",
            title: "pool revenue (share of main-chain blocks)",
            scale: { domain: [0, 1] },
          },
          color,
        },
      },
    ],
  };
}

/** The ASERT figure: expected solve time over target after the hash-rate steps, chain beside model. */
export function difficultySpec(runs: DifficultyRun[]): TopLevelSpec {
  const values = runs.flatMap((r) =>
    r.series.flatMap((s) => [
      { height: s.height, y: s.chain, series: "real chain", half: `half-life ${r.half_life_s} s` },
      {
        height: s.height,
        y: s.model,
        series: "model (sim:difficulty)",
        half: `half-life ${r.half_life_s} s`,
      },
    ]),
  );
  return {
    $schema: SCHEMA,
    title: "ASERT after hash-rate steps ×10 and ÷10: expected solve time E over target T",
    data: { values },
    config: { legend: { labelLimit: 400, orient: "top" } },
    facet: { row: { field: "half", type: "nominal", title: null, sort: { field: "h", op: "min" } } },
    spec: {
      width: 480,
      height: 110,
      mark: { type: "line", strokeWidth: 1 },
      encoding: {
        x: { field: "height", type: "quantitative", title: "block height" },
        y: {
          field: "y",
          type: "quantitative",
          scale: { type: "log" },
          title: "E / T",
        },
        color: { field: "series", type: "nominal", title: null },
      },
    },
  };
}

/** The partition figure: blocks lost against E[min(X, Y)], and the reorg depths at the join. */
export function partitionSpec(points: PartitionPoint[], interval: number): TopLevelSpec {
  const measured = points.map((p) => ({
    x: p.duration_s / interval,
    y: p.blocks_lost_mean,
    series: "simulated",
  }));
  const maxX = Math.max(...points.map((p) => p.duration_s / interval));
  const formula = points.map((p) => ({
    x: p.duration_s / interval,
    y: p.blocks_lost_formula,
    series: "E[min(X, Y)]",
  }));
  const hist = points.flatMap((p) =>
    Object.entries(p.reorg_depth_histogram)
      .filter(([d]) => d !== "0")
      .map(([d, n]) => ({
        depth: Number(d),
        n,
        duration: `D = ${p.duration_s / interval} T`,
        D: p.duration_s,
      })),
  );
  return {
    $schema: SCHEMA,
    title: "Partition: blocks lost (dashed: E[min(X, Y)]) and reorg depth at the join",
    config: { legend: { labelLimit: 400, orient: "bottom" } },
    hconcat: [
      {
        width: 300,
        height: 260,
        layer: [
          {
            data: { values: formula },
            mark: { type: "line", strokeDash: [4, 3], color: "#444" },
            encoding: {
              x: { field: "x", type: "quantitative", scale: { domain: [0, maxX] } },
              y: { field: "y", type: "quantitative" },
            },
          },
          {
            data: { values: measured },
            mark: { type: "point", filled: true, size: 50, color: "#d62728" },
            encoding: {
              x: { field: "x", type: "quantitative", title: "partition length D / T (points: simulated)" },
              y: { field: "y", type: "quantitative", title: "blocks lost (mean)" },
            },
          },
        ],
      },
      {
        width: 300,
        height: 260,
        data: { values: hist },
        mark: { type: "bar" },
        encoding: {
          x: { field: "depth", type: "ordinal", title: "reorg depth at the join (losing-side nodes)" },
          y: { field: "n", type: "quantitative", title: "nodes × trials" },
          color: {
            field: "duration",
            type: "nominal",
            title: null,
            sort: { field: "D", op: "min" },
            scale: { scheme: "viridis" },
          },
        },
      },
    ],
  };
}
