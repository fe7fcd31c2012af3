/**
 * The soak's verdict and figure. Flatness compares the median of each node's samples in the first window
 * with the median in the last: the first and last 10 minutes of a run of 20 minutes or more, the first
 * and last third of a shorter one (the summary says which). The figures reported for RSS and heap are
 * those of the node whose ratio is worst; disk is the largest data directory at the end; the event-loop
 * figure is the worst sample's p99 (each sample covers the seconds since the one before); the health
 * figure is the p99 of every check of every node.
 */
import type { TopLevelSpec } from "vega-lite";
import { median, percentile } from "../../bench/stats.ts";
import type { Sample } from "./sampler.ts";

/** RSS and heap may grow by this much from the first window to the last. */
export const FLAT_RATIO = 1.1;

export interface Summary {
  minutes: number;
  rss_first10_mb: number | null;
  rss_last10_mb: number | null;
  rss_ratio: number | null;
  heap_first10_mb: number | null;
  heap_last10_mb: number | null;
  heap_ratio: number | null;
  disk_mb_end: number | null;
  eventloop_p99_ms: number | null;
  health_p99_ms: number | null;
  health_failed: number;
  stores_verified: boolean;
  ok: boolean;
  /** Which windows the "first10" and "last10" figures are. */
  windows: string;
  [more: string]: unknown;
}

export interface Outcome {
  samples: Sample[];
  /** Seconds the soak ran. */
  seconds: number;
  health: { all: number[]; failed: number };
  storesVerified: boolean;
  /** Attacks that must all be refused / must never answer 500, from the attackers' counters. */
  crossSiteAccepted: number;
  inputsFailed: number;
  /** The main chain at the end is the honest nodes' (block 1 theirs), not the attacker's fork. */
  honestChain: boolean;
  extra: Record<string, unknown>;
}

const r2 = (x: number | null | undefined): number | null => (x == null ? null : Number(x.toFixed(2)));

/** The time ranges (seconds) of the first and last windows of a run of `seconds`, and their name. */
export function windows(seconds: number): { first: number; last: number; name: string } {
  if (seconds >= 20 * 60) return { first: 600, last: seconds - 600, name: "first and last 10 min" };
  return { first: seconds / 3, last: (2 * seconds) / 3, name: "first and last third (run under 20 min)" };
}

/** For one field, the node with the largest last/first ratio of medians: its first, last and ratio. */
function worstRatio(samples: Sample[], field: "rss_mb" | "rss_anon_mb" | "heap_mb", seconds: number) {
  const w = windows(seconds);
  let worst: { first: number; last: number; ratio: number; node: string } | undefined;
  for (const node of new Set(samples.map((s) => s.node))) {
    const values = (pick: (t: number) => boolean) =>
      samples.filter((s) => s.node === node && pick(s.t) && s[field] !== null).map((s) => s[field]!);
    const first = values((t) => t <= w.first);
    const last = values((t) => t >= w.last);
    if (!first.length || !last.length) continue;
    const ratio = median(last) / median(first);
    if (!worst || ratio > worst.ratio) worst = { first: median(first), last: median(last), ratio, node };
  }
  return worst;
}

/** The summary line's object. */
export function summarize(o: Outcome): Summary {
  const rss = worstRatio(o.samples, "rss_mb", o.seconds);
  const heap = worstRatio(o.samples, "heap_mb", o.seconds);
  const anon = worstRatio(o.samples, "rss_anon_mb", o.seconds);
  const endT = Math.max(0, ...o.samples.map((s) => s.t));
  const disk = o.samples.filter((s) => s.t === endT).map((s) => s.disk_mb);
  const loop = o.samples.flatMap((s) => (s.eventloop_p99_ms === null ? [] : [s.eventloop_p99_ms]));
  const loopMax = o.samples.flatMap((s) => (s.eventloop_max_ms === null ? [] : [s.eventloop_max_ms]));
  const flat = rss !== undefined && heap !== undefined && rss.ratio <= FLAT_RATIO && heap.ratio <= FLAT_RATIO;
  return {
    minutes: r2(o.seconds / 60)!,
    rss_first10_mb: r2(rss?.first),
    rss_last10_mb: r2(rss?.last),
    rss_ratio: r2(rss?.ratio),
    heap_first10_mb: r2(heap?.first),
    heap_last10_mb: r2(heap?.last),
    heap_ratio: r2(heap?.ratio),
    disk_mb_end: disk.length ? r2(Math.max(...disk)) : null,
    eventloop_p99_ms: loop.length ? r2(Math.max(...loop)) : null,
    health_p99_ms: o.health.all.length ? r2(percentile(o.health.all, 99)) : null,
    health_failed: o.health.failed,
    stores_verified: o.storesVerified,
    ok:
      flat && o.health.failed === 0 && o.storesVerified && o.crossSiteAccepted === 0 && o.inputsFailed === 0,
    windows: windows(o.seconds).name,
    rss_worst_node: rss?.node ?? null,
    heap_worst_node: heap?.node ?? null,
    rss_anon_first10_mb: r2(anon?.first),
    rss_anon_last10_mb: r2(anon?.last),
    rss_anon_ratio: r2(anon?.ratio),
    eventloop_p99_median_ms: loop.length ? r2(median(loop)) : null,
    eventloop_max_ms: loopMax.length ? r2(Math.max(...loopMax)) : null,
    ...o.extra,
  };
}

const PANELS: Array<[keyof Sample, string]> = [
  ["rss_mb", "RSS (MB)"],
  ["rss_anon_mb", "RSS, anonymous part (MB)"],
  ["heap_mb", "heap used (MB)"],
  ["disk_mb", "data directory (MB)"],
  ["eventloop_p99_ms", "event-loop delay p99 (ms)"],
  ["health_p99_ms", "/api/health p99 (ms)"],
];

/** The figure: one panel per measure against minutes, a line per node. */
export function soakSpec(samples: Sample[], title: string): TopLevelSpec {
  const values = samples.flatMap((s) =>
    PANELS.flatMap(([field, label]) =>
      s[field] === null ? [] : [{ minute: s.t / 60, node: s.node, measure: label, value: s[field] }],
    ),
  );
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    data: { values },
    facet: {
      row: { field: "measure", type: "nominal", title: null, sort: PANELS.map(([, l]) => l) },
    },
    spec: {
      width: 640,
      height: 110,
      mark: { type: "line", strokeWidth: 1.2 },
      encoding: {
        x: { field: "minute", type: "quantitative", title: "minutes" },
        y: { field: "value", type: "quantitative", title: null },
        color: { field: "node", type: "nominal", title: "node" },
      },
    },
    resolve: { scale: { y: "independent" } },
  };
}
