/**
 * The option parsing every `jbc sim` experiment shares: the argument parsers (a bad value is a usage error,
 * exit 2) and the options common to all of them (seed, figure, JSON).
 */
import { readFileSync } from "node:fs";
import { type Command, InvalidArgumentError } from "commander";
import { type LatencyModel, parseLatency } from "../../../sim/latency.ts";
import type { RelayPolicy } from "../../../sim/relay.ts";
import type { Topology } from "../../../sim/topology.ts";
import { errorMessage } from "../../../util/errors.ts";
import { intArg } from "../../options.ts";

/** A comma-separated list of numbers in [min, max]. */
export function numberList(min: number, max: number): (value: string) => number[] {
  return (value: string): number[] => {
    const xs = value.split(",").map((s) => Number(s.trim()));
    if (xs.length === 0 || xs.some((x) => !Number.isFinite(x) || x < min || x > max))
      throw new InvalidArgumentError(`expected comma-separated numbers from ${min} to ${max}`);
    return xs;
  };
}

/** A number in [min, max] (fractions allowed; whole numbers use the commands' `intArg`). */
export function numberArg(min: number, max: number): (value: string) => number {
  return (value: string): number => {
    const x = Number(value);
    if (!Number.isFinite(x) || x < min || x > max)
      throw new InvalidArgumentError(`expected a number from ${min} to ${max}`);
    return x;
  };
}

/** A latency spec (src/sim/latency.ts), parsed when the option is read so a bad one is a usage error. */
export function latencyArg(value: string): LatencyModel {
  try {
    return parseLatency(value, (path) => readFileSync(path, "utf8"));
  } catch (err) {
    throw new InvalidArgumentError(errorMessage(err));
  }
}

/** `mesh` or `random:K` (K ≥ 1 peers per node). */
export function topologyArg(value: string): Topology {
  if (value === "mesh") return { kind: "mesh" };
  const m = value.match(/^random:(\d+)$/);
  if (!m || Number(m[1]) < 1)
    throw new InvalidArgumentError("expected mesh or random:K (K ≥ 1 peers per node)");
  return { kind: "random", degree: Number(m[1]) };
}

/** `full` or `compact` (src/sim/relay.ts). */
export function relayArg(value: string): RelayPolicy {
  if (value === "full" || value === "compact") return value;
  throw new InvalidArgumentError("expected full or compact");
}

/** The parsed options every experiment has (see `commonOptions`). */
export interface Common {
  seed: number;
  json?: boolean;
  svg: string | false;
}

/** Adds the options every experiment has: --seed, --svg / --no-svg (default sim-NAME.svg), --json. */
export function commonOptions(cmd: Command, name: string): Command {
  return cmd
    .option("--seed <n>", "PRNG seed (same seed, same result)", intArg(0, 2 ** 32 - 1), 1)
    .option("--svg <file>", "where to write the figure", `sim-${name}.svg`)
    .option("--no-svg", "write no figure")
    .option("--json", "print only the JSON result");
}
