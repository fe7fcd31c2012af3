/**
 * Runs the network lab (src/lab/main.ts) as the lab tests do: a child process whose last stdout line is
 * the scenario's JSON result, checked here for being that object and for the lab having removed every
 * namespace, link and process it made.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { checkCapable, cleanStale, Topology } from "../../src/lab/netns.ts";

/** The lab's entry point, for tests that run it with other options or as another user. */
export const LAB_MAIN = new URL("../../src/lab/main.ts", import.meta.url).pathname;

/** A finished lab run: its exit code, its stdout lines, and the last one parsed (`{}` if it was not JSON). */
export interface LabRun {
  code: number | null;
  lines: string[];
  json: Record<string, unknown>;
}

/** A `before` hook: fails, saying why, where the lab cannot run, and removes what a killed lab left. */
export async function requireLab(): Promise<void> {
  try {
    await checkCapable();
  } catch (err) {
    throw new Error(`the lab tests need root and network namespaces: ${(err as Error).message}`);
  }
  await cleanStale();
}

/**
 * Starts the lab with `args`; `done` resolves when it exits, `onLine` sees each stdout line as it comes.
 * Its stderr (progress) goes to this process's stderr with `showProgress`, else nowhere.
 */
export function startLab(
  args: readonly string[],
  showProgress = false,
): {
  proc: ChildProcess;
  done: Promise<LabRun>;
  onLine(f: (l: string) => void): void;
} {
  const proc = spawn(process.execPath, ["--import", "tsx", LAB_MAIN, ...args], {
    stdio: ["ignore", "pipe", showProgress ? "inherit" : "pipe"],
  });
  const lines: string[] = [];
  const listeners: ((l: string) => void)[] = [];
  createInterface({ input: proc.stdout! }).on("line", (l) => {
    lines.push(l);
    for (const f of listeners) f(l);
  });
  proc.stderr?.on("data", () => undefined);
  const done = new Promise<LabRun>((resolve) => {
    proc.on("exit", (code) => {
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(lines.at(-1) ?? "{}") as Record<string, unknown>;
      } catch {
        // the last line was not JSON: the caller's assertions say so
      }
      resolve({ code, lines, json });
    });
  });
  return { proc, done, onLine: (f) => listeners.push(f) };
}

/** Runs the lab to its end; asserts its last line is a result object and that it left nothing behind. */
export async function lab(args: readonly string[], showProgress = false): Promise<LabRun> {
  const r = await startLab(args, showProgress).done;
  assert.ok(r.json.scenario, `the last line is the result object:\n${r.lines.join("\n")}`);
  assert.deepEqual(await Topology.leftovers(Number(r.json.slot)), [], "the lab removed everything it made");
  return r;
}

/** Asserts the scenario passed: `ok` in its result and exit code 0. */
export function assertOk(r: LabRun): void {
  assert.equal(r.json.ok, true, `scenario failed:\n${r.lines.join("\n")}`);
  assert.equal(r.code, 0);
}
