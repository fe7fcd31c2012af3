/**
 * The one polling helper of the tests (and benchmarks): wait until something holds, with a deadline and a
 * message that says what never happened.
 */
import { setTimeout as sleep } from "node:timers/promises";

export interface WaitOptions {
  /** Give up after this long (default 20 s). */
  timeoutMs?: number;
  /** Time between two polls (default 100 ms). */
  intervalMs?: number;
  /** What is awaited, for the timeout message; a function is called only then (to show the last state). */
  what?: string | (() => string);
}

/** Thrown from a polled function to end the wait at once (say, the process it waits for has exited). */
export class GiveUp extends Error {
  override readonly name = "GiveUp";
}

/**
 * Polls `fn` until it returns something other than undefined or false, and resolves with that. Errors it
 * throws count as "not yet" (a server still starting) and the last one is named in the timeout error,
 * except a GiveUp, which ends the wait at once.
 */
export async function waitFor<T>(
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  opts: WaitOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      if (err instanceof GiveUp) throw err;
      lastErr = err;
    }
    if (Date.now() > deadline) {
      const what = typeof opts.what === "function" ? opts.what() : (opts.what ?? "a condition");
      const why = lastErr instanceof Error ? ` (last error: ${lastErr.message})` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(opts.intervalMs ?? 100);
  }
}
