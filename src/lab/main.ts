/**
 * `npm run lab -- --nodes N --scenario NAME [--seed S] [--seconds X] [--json]`: builds the lab
 * (src/lab/netns.ts), runs one scenario (src/lab/scenarios/), prints a readable summary and, as the
 * last line, one JSON object; removes everything it made, also on failure, SIGINT or SIGTERM.
 *
 * Exit codes: 0 the scenario's checks held, 1 they did not (or the lab failed), 2 bad arguments,
 * 3 the lab cannot run on this machine (no root or no network namespaces).
 */

import { Command, InvalidArgumentError } from "commander";
import { intArg } from "../cli/options.ts";
import { Lab } from "./lab.ts";
import { checkCapable, cleanStale, LabUnavailableError } from "./netns.ts";
import { type Scenario, type ScenarioOptions, scenarios } from "./scenarios/index.ts";

// The lab is a command: its output is its interface (library code below logs nothing).
const print = (line: string): void => void process.stdout.write(`${line}\n`);
const printErr = (line: string): void => void process.stderr.write(`${line}\n`);

export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_UNAVAILABLE = 3;

/** A number (fractions allowed: seconds, milliseconds, Mbit/s) in [min, max]; counts use intArg. */
const num = (min: number, max: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`between ${min} and ${max}`);
  return n;
};

interface Options {
  nodes?: number;
  scenario: string;
  seed: number;
  seconds?: number;
  blockInterval?: number;
  sockets?: number;
  blocks?: number;
  delays?: number[];
  jitter?: number;
  mbit?: number;
  recordBytes?: number;
  records?: number;
  relay?: ("compact" | "full")[];
  peers?: number;
  json: boolean;
  keepLogs?: string;
}

/** The lab's command line (commander; exitOverride so main decides the exit code). */
function labProgram(): Command {
  return new Command("lab")
    .description("run jbc nodes in Linux network namespaces and drive a scenario against them")
    .requiredOption("--scenario <name>", `one of: ${Object.keys(scenarios).join(", ")}`)
    .option("--nodes <n>", "hosts (each a namespace with one node)", intArg(1, 200))
    .option("--seed <s>", "seed for every random choice", intArg(0, 2 ** 32 - 1), 1)
    .option("--seconds <s>", "scenario length (partition: split time; churn: run time)", num(1, 86_400))
    .option("--block-interval <s>", "mean seconds between blocks the lab mines", num(0.05, 600))
    .option("--sockets <n>", "lockout: idle sockets the attacker holds", intArg(1, 10_000))
    .option(
      "--blocks <n>",
      "propagation: blocks per delay and relay mode; late-joiner: chain length; relay: round trips; cosign: checkpoints per delay",
      intArg(1, 100_000),
    )
    .option("--delays <ms,...>", "relay, propagation, cosign: one-way delays in ms", (v: string) =>
      v.split(",").map((x) => num(0, 10_000)(x)),
    )
    .option(
      "--jitter <ms>",
      "relay, propagation, cosign: jitter added to each delay (uniform 0..jitter)",
      num(0, 10_000),
    )
    .option(
      "--mbit <n>",
      "late-joiner: each serving peer's link; propagation: every host's link (Mbit/s)",
      num(0.1, 10_000),
    )
    .option("--record-bytes <n>", "late-joiner: data bytes per block", intArg(0, 60_000))
    .option(
      "--records <n>",
      "partition: ledger records submitted to each half during the split; rewrite: records to the team; " +
        "propagation: records each block carries, posted ahead so they are pending on every node",
      intArg(1, 1000),
    )
    .option(
      "--relay <modes>",
      "propagation: block relay modes to run in turn on fresh nodes, same seed (compact, full, or full,compact)",
      relayModes,
    )
    .option(
      "--peers <n>",
      "late-joiner: sync from 1 peer, then from n peers each behind its own link, same chain (default 1)",
      intArg(1, 16),
    )
    .option("--keep-logs <dir>", "copy every node's log to <dir> before the cleanup")
    .option("--json", "print only the final JSON line", false)
    .exitOverride();
}

/** `--relay full,compact`: relay modes, each once. */
function relayModes(v: string): ("compact" | "full")[] {
  const modes = v.split(",").map((m) => m.trim());
  if (
    modes.length === 0 ||
    modes.some((m) => m !== "compact" && m !== "full") ||
    new Set(modes).size !== modes.length
  )
    throw new InvalidArgumentError("compact, full, or both separated by a comma");
  return modes as ("compact" | "full")[];
}

/** The scenario's options: those given on the command line, the scenario's defaults for the rest. */
function scenarioOptions(o: Options): ScenarioOptions {
  return {
    ...(o.seconds !== undefined ? { seconds: o.seconds } : {}),
    ...(o.blockInterval !== undefined ? { blockInterval: o.blockInterval } : {}),
    ...(o.sockets !== undefined ? { sockets: o.sockets } : {}),
    ...(o.blocks !== undefined ? { blocks: o.blocks } : {}),
    ...(o.delays !== undefined ? { delays: o.delays } : {}),
    ...(o.jitter !== undefined ? { jitter: o.jitter } : {}),
    ...(o.mbit !== undefined ? { mbit: o.mbit } : {}),
    ...(o.recordBytes !== undefined ? { recordBytes: o.recordBytes } : {}),
    ...(o.records !== undefined ? { records: o.records } : {}),
    ...(o.relay !== undefined ? { relay: o.relay } : {}),
    ...(o.peers !== undefined ? { peers: o.peers } : {}),
  };
}

async function main(): Promise<number> {
  let o: Options;
  try {
    o = labProgram().parse(process.argv).opts<Options>();
  } catch (err) {
    return (err as { exitCode?: number }).exitCode === 0 ? 0 : EXIT_USAGE;
  }
  const scenario = scenarios[o.scenario];
  if (!scenario) {
    printErr(`lab: unknown scenario "${o.scenario}" (one of: ${Object.keys(scenarios).join(", ")})`);
    return EXIT_USAGE;
  }
  const nodes = o.nodes ?? scenario.nodesFor?.(scenarioOptions(o)) ?? scenario.defaultNodes;
  const least = Math.max(scenario.minNodes, scenario.nodesFor?.(scenarioOptions(o)) ?? 0);
  if (nodes < least) {
    printErr(`lab: ${scenario.name} needs at least ${least} nodes`);
    return EXIT_USAGE;
  }
  const say = (line: string): void => {
    if (!o.json) print(line);
  };
  try {
    await checkCapable();
  } catch (err) {
    if (err instanceof LabUnavailableError) {
      print(`lab: cannot run here: ${err.message}`);
      return EXIT_UNAVAILABLE;
    }
    throw err;
  }
  const stale = await cleanStale();
  if (stale.length) say(`removed the remains of killed labs in slots ${stale.join(", ")}`);
  return runScenario(o, scenario, nodes, say);
}

/**
 * Builds the lab, runs the scenario and prints its result (the JSON line last); removes the lab on every
 * way out, a signal included (exit 130 after the cleanup).
 */
async function runScenario(
  o: Options,
  scenario: Scenario,
  nodes: number,
  say: (line: string) => void,
): Promise<number> {
  let lab: Lab | undefined;
  let creating: Promise<Lab> | undefined;
  let interrupted: Promise<never> | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) return;
    printErr(`lab: ${signal}: cleaning up`);
    // Whatever the scenario does next (it fails as its nodes go), the process ends here, after the cleanup.
    interrupted = (async () => {
      // A signal while the topology is being built: let it finish, then remove it.
      const l = lab ?? (await creating?.catch(() => undefined));
      await l?.close(o.keepLogs);
    })().finally(() => process.exit(130)) as Promise<never>;
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const started = Date.now();
  try {
    creating = Lab.create({ nodes, seed: o.seed, say });
    lab = await creating;
    if (interrupted) return interrupted;
    say(
      `lab slot ${lab.topo.slot}: ${nodes} hosts on 198.18.${lab.topo.slot}.0/24, scenario ${scenario.name}`,
    );
    const result = await scenario.run(lab, scenarioOptions(o));
    await lab.close(o.keepLogs);
    if (interrupted) return interrupted;
    say(
      result.ok ? `${scenario.name}: ok` : `${scenario.name}: FAILED\n  - ${result.problems.join("\n  - ")}`,
    );
    const wallSeconds = (Date.now() - started) / 1000;
    print(JSON.stringify({ ...result, seed: o.seed, slot: lab.topo.slot, wallSeconds }));
    return result.ok ? 0 : EXIT_FAILED;
  } catch (err) {
    if (interrupted) return interrupted;
    await lab?.close(o.keepLogs).catch(() => undefined);
    const message = (err as Error).message;
    say(`${scenario.name}: lab error: ${message}`);
    print(
      JSON.stringify({
        scenario: scenario.name,
        ok: false,
        problems: [message],
        seed: o.seed,
        slot: lab?.topo.slot,
      }),
    );
    return EXIT_FAILED;
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    printErr(`lab: ${err.stack ?? err.message}`);
    process.exit(EXIT_FAILED);
  },
);
