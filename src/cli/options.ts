import { InvalidArgumentError } from "commander";
import { getNetwork, type NetworkParams } from "../consensus/params.ts";
import { minerNameProblem } from "../consensus/records.ts";
import { errorMessage } from "../util/errors.ts";

/** Commander argument parsers shared by the commands. */

/**
 * A whole number in [min, max], written in decimal digits only: `0x10`, `+5`, `1e3`, `5.0` and ` 5` are
 * refused (Number() would take them all). The one integer parser of the commands.
 */
export function intArg(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER
          ? `expected a whole number of at least ${min}`
          : `expected an integer from ${min} to ${max}`,
      );
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

/** A miner's name: at most 64 bytes of UTF-8, and not a length that makes a 64-byte miner record. */
export function minerNameArg(value: string): string {
  const problem = minerNameProblem(value);
  if (problem !== undefined) throw new InvalidArgumentError(problem);
  return value;
}
