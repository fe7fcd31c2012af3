import type { TopLevelSpec } from "vega-lite";
import type { DifficultyRun } from "./difficulty.ts";
import type { PartitionPoint } from "./partition.ts";
import { type SelfishExperimentResult, selfishRevenue } from "./selfish.ts";
import type { StaleExperimentResult } from "./stale.ts";

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

export function staleSpec(r: StaleExperimentResult): TopLevelSpec {
  const maxX = Math.max(...r.points.map((p) => p.delay_s / p.interval_s));
  const measured = r.points.map((p) => ({
    x: p.delay_s / p.interval_s,
    y: p.stale_rate,
    lo: Math.max(0, p.stale_rate - p.ci95),
    hi: p.stale_rate + p.ci95,
    series: `simulated, T = ${p.interval_s} s`,
  }));
  const layers: NonNullable<Extract<TopLevelSpec, { layer: unknown }>["layer"]> = [
    {
      data: {
        values: curve((x) => 1 - Math.exp(-x), 0, maxX).map((p) => ({ ...p, series: "1 − e^(−Δ/T)" })),
      },
      mark: { type: "line", color: "#444", strokeDash: [4, 3] },
      encoding: { x: { field: "x", type: "quantitative" }, y: { field: "y", type: "quantitative" } },
    },
    {
      data: { values: measured },
      mark: { type: "rule" },
      encoding: {
        x: { field: "x", type: "quantitative" },
        y: { field: "lo", type: "quantitative" },
        y2: { field: "hi" },
        color: { field: "series", type: "nominal" },
      },
    },
    {
      data: { values: measured },
      mark: { type: "point", filled: true, size: 50 },
      encoding: {
        x: { field: "x", type: "quantitative", title: "Δ / T (propagation delay / block interval)" },
        y: { field: "y", type: "quantitative", title: "stale rate", axis: { format: "%" } },
        color: { field: "series", type: "nominal", title: null },
        shape: { field: "series", type: "nominal", title: null },
      },
    },
  ];
  if (r.bitcoin) {
    const b = r.bitcoin;
    layers.push({
      data: {
        values: [
          { x: b.mean_delay_s / 600, y: b.stale_rate, series: "simulated Bitcoin (log-normal, mean 12.6 s)" },
          { x: b.mean_delay_s / 600, y: b.measured_stale_rate, series: "measured, Decker–Wattenhofer 2013" },
        ],
      },
      mark: { type: "point", size: 90, shape: "diamond", filled: true },
      encoding: {
        x: { field: "x", type: "quantitative" },
        y: { field: "y", type: "quantitative" },
        color: { field: "series", type: "nominal", title: null },
      },
    });
  }
  return {
    $schema: SCHEMA,
    title: "Stale rate against propagation delay",
    width: 480,
    height: 320,
    layer: layers,
  };
}

export function selfishSpec(r: SelfishExperimentResult): TopLevelSpec {
  const gammas = [...new Set(r.points.map((p) => p.gamma))];
  const curves = gammas.flatMap((g) =>
    curve((a) => Math.max(0, selfishRevenue(a, g)), 0, 0.5).map((p) => ({
      ...p,
      series: `Eyal–Sirer, γ = ${g}`,
    })),
  );
  const honestLine = curve((a) => a, 0, 0.5, 2).map((p) => ({ ...p, series: "honest mining (R = α)" }));
  const measured = r.points.map((p) => ({
    x: p.alpha,
    y: p.pool_revenue,
    lo: p.pool_revenue - p.ci95,
    hi: p.pool_revenue + p.ci95,
    series: `simulated, γ = ${p.gamma}`,
  }));
  return {
    $schema: SCHEMA,
    title: "Selfish pool's share of main-chain blocks",
    width: 480,
    height: 320,
    layer: [
      {
        data: { values: [...curves, ...honestLine] },
        mark: { type: "line", strokeDash: [4, 3] },
        encoding: {
          x: { field: "x", type: "quantitative" },
          y: { field: "y", type: "quantitative" },
          color: { field: "series", type: "nominal", title: null },
        },
      },
      {
        data: { values: measured },
        mark: { type: "rule" },
        encoding: {
          x: { field: "x", type: "quantitative" },
          y: { field: "lo", type: "quantitative" },
          y2: { field: "hi" },
          color: { field: "series", type: "nominal" },
        },
      },
      {
        data: { values: measured },
        mark: { type: "point", filled: true, size: 50 },
        encoding: {
          x: { field: "x", type: "quantitative", title: "pool hash share α" },
          y: { field: "y", type: "quantitative", title: "pool revenue (share of main-chain blocks)" },
          color: { field: "series", type: "nominal", title: null },
        },
      },
    ],
  };
}

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
    title: "ASERT after hash-rate steps ×10 and ÷10",
    data: { values },
    facet: { row: { field: "half", type: "nominal", title: null } },
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
          title: "expected solve time / target",
        },
        color: { field: "series", type: "nominal", title: null },
      },
    },
  };
}

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
      .map(([d, n]) => ({ depth: Number(d), n, duration: `D = ${p.duration_s / interval} T` })),
  );
  return {
    $schema: SCHEMA,
    title: "Partition: blocks lost and reorg depth at the join",
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
            data: { values: [...measured, ...formula] },
            mark: { type: "point", filled: true, size: 50 },
            encoding: {
              x: { field: "x", type: "quantitative", title: "partition length D / T" },
              y: { field: "y", type: "quantitative", title: "blocks lost (mean)" },
              color: { field: "series", type: "nominal", title: null },
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
          color: { field: "duration", type: "nominal", title: null, sort: null },
        },
      },
    ],
  };
}
