import { errorMessage } from "../util/errors.ts";
import type { Rng } from "./rng.ts";

/** One-way delay of a message from node `from` to node `to`, in seconds, before transfer time. */
export type LatencyModel = (from: number, to: number, rng: Rng) => number;

/** Latency parse failures: a clear message naming the spec that was wrong. */
export class SimConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SimConfigError";
  }
}

export const fixedLatency =
  (seconds: number): LatencyModel =>
  () =>
    seconds;

export const uniformLatency =
  (min: number, max: number): LatencyModel =>
  (_f, _t, rng) =>
    min + (max - min) * rng.next();

/**
 * Log-normal with the given median and mean (mean > median): ln X ~ N(ln median, σ²) with
 * σ² = 2 ln(mean / median). Measured block propagation has this long right tail (Decker and
 * Wattenhofer 2013: median 6.5 s, mean 12.6 s).
 */
export function lognormalLatency(median: number, mean: number): LatencyModel {
  if (!(median > 0) || !(mean > median))
    throw new SimConfigError("log-normal latency needs 0 < median < mean");
  const mu = Math.log(median);
  const sigma = Math.sqrt(2 * Math.log(mean / median));
  return (_f, _t, rng) => Math.exp(mu + sigma * rng.normal());
}

/** A square matrix of seconds; node i uses row i mod n, so a small matrix can describe regions. */
export function matrixLatency(matrix: readonly (readonly number[])[]): LatencyModel {
  const n = matrix.length;
  if (n === 0 || matrix.some((row) => row.length !== n || row.some((x) => !(x >= 0))))
    throw new SimConfigError("latency matrix must be square with non-negative entries");
  return (f, t) => matrix[f % n]![t % n]!;
}

/** Parses a matrix file: JSON (array of arrays) or CSV/whitespace rows, in milliseconds. */
export function parseMatrix(text: string): number[][] {
  const trimmed = text.trim();
  let rows: unknown;
  if (trimmed.startsWith("[")) {
    try {
      rows = JSON.parse(trimmed);
    } catch (err) {
      throw new SimConfigError(`latency matrix is not valid JSON: ${errorMessage(err)}`);
    }
  } else {
    rows = trimmed
      .split(/\r?\n/)
      .filter((l) => l.trim() && !l.trim().startsWith("#"))
      .map((l) =>
        l
          .trim()
          .split(/[\s,;]+/)
          .map(Number),
      );
  }
  if (!Array.isArray(rows) || !rows.every((r) => Array.isArray(r) && r.every((x) => typeof x === "number")))
    throw new SimConfigError("latency matrix must be rows of numbers (milliseconds)");
  const ms = rows as number[][];
  matrixLatency(ms); // validates
  return ms.map((r) => r.map((x) => x / 1000));
}

/**
 * A latency spec as the CLI takes it, in milliseconds: `fixed:MS` (or just `MS`), `uniform:MIN-MAX`,
 * `lognormal:MEDIAN,MEAN`, or `matrix:FILE` (the caller reads the file: `readFile(path)`).
 */
export function parseLatency(spec: string, readFile?: (path: string) => string): LatencyModel {
  const [kind, arg = ""] = spec.includes(":")
    ? [spec.slice(0, spec.indexOf(":")), spec.slice(spec.indexOf(":") + 1)]
    : ["fixed", spec];
  const num = (s: string): number => {
    const n = Number(s);
    if (!Number.isFinite(n) || n < 0)
      throw new SimConfigError(`bad latency "${spec}": "${s}" is not a number of ms`);
    return n / 1000;
  };
  switch (kind) {
    case "fixed":
      return fixedLatency(num(arg));
    case "uniform": {
      const [a, b] = arg.split("-");
      if (a === undefined || b === undefined)
        throw new SimConfigError(`bad latency "${spec}": expected uniform:MIN-MAX`);
      const lo = num(a);
      const hi = num(b);
      if (hi < lo) throw new SimConfigError(`bad latency "${spec}": MIN above MAX`);
      return uniformLatency(lo, hi);
    }
    case "lognormal": {
      const [m, mean] = arg.split(",");
      if (m === undefined || mean === undefined)
        throw new SimConfigError(`bad latency "${spec}": expected lognormal:MEDIAN,MEAN`);
      return lognormalLatency(num(m), num(mean));
    }
    case "matrix": {
      if (!readFile) throw new SimConfigError("a latency matrix needs a file");
      let text: string;
      try {
        text = readFile(arg);
      } catch (err) {
        throw new SimConfigError(`cannot read latency matrix ${arg}: ${errorMessage(err)}`);
      }
      return matrixLatency(parseMatrix(text));
    }
    default:
      throw new SimConfigError(`unknown latency model "${kind}" (fixed, uniform, lognormal, matrix)`);
  }
}
