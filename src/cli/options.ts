import { InvalidArgumentError } from "commander";
import { getNetwork, type NetworkParams } from "../consensus/params.ts";
import { errorMessage } from "../util/errors.ts";

/** Commander argument parsers shared by the commands. */

/** An integer in [min, max]. */
export function intArg(min: number, max: number): (value: string) => number {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    }
    return n;
  };
}

export const portArg = intArg(0, 65535);

/** Repeatable option: collects every occurrence. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function networkArg(value: string): NetworkParams {
  try {
    return getNetwork(value);
  } catch (err) {
    throw new InvalidArgumentError(errorMessage(err));
  }
}

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

export function logLevelArg(value: string): string {
  if (!(LOG_LEVELS as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`expected one of ${LOG_LEVELS.join(", ")}`);
  }
  return value;
}
