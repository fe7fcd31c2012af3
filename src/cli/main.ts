/**
 * The `jbc` command line. Each command lives in its own module under src/cli/commands/ and exports a
 * factory returning a commander Command; add a command by writing that module and listing it in
 * COMMANDS below. Commands print for people (console); library code underneath logs through pino.
 *
 * Only the command being run is loaded: the others are registered by name and description, so
 * `jbc --version` and `jbc --help` load commander and nothing else (docs/benchmarks.md, startup).
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { packageRoot } from "../util/paths.ts";

/** Exit code of a bad command line (EXIT.USAGE in src/node/lifecycle.ts, not imported to stay light). */
const USAGE_EXIT = 2;

/** A command: what `jbc --help` lists without loading it, and how to load it. */
export interface CommandEntry {
  readonly name: string;
  readonly description: string;
  readonly load: () => Promise<Command>;
}

/** Every command. The description must be the one its module gives (a test compares them). */
export const COMMANDS: readonly CommandEntry[] = [
  {
    name: "node",
    description: "run a node: HTTP API on --port, P2P on --p2p-port (default port + 1000), optional mining",
    load: async () => (await import("./commands/node.ts")).nodeCommand(),
  },
  {
    name: "devnet",
    description: "start a local network of mining nodes as child processes and show a live scoreboard",
    load: async () => (await import("./commands/devnet.ts")).devnetCommand(),
  },
  {
    name: "mine",
    description: "mine blocks on the local chain, without networking (like the original mine.py)",
    load: async () => (await import("./commands/mine.ts")).mineCommand(),
  },
  {
    name: "status",
    description: "show a running node's tip, work, peers, mining and sync state",
    load: async () => (await import("./commands/status.ts")).statusCommand(),
  },
  {
    name: "config",
    description: "show the settings jbc node would run with, and where each comes from",
    load: async () => (await import("./commands/config.ts")).configCommand(),
  },
  {
    name: "chain",
    description: "inspect a node's stored chain",
    load: async () => (await import("./commands/chain.ts")).chainCommand(),
  },
  {
    name: "keygen",
    description: "create an ed25519 key file for signing records (mode 0600, never overwritten)",
    load: async () => (await import("./commands/keygen.ts")).keygenCommand(),
  },
  {
    name: "authors",
    description: "sign a team's author policy (who may write records)",
    load: async () => (await import("./commands/authors.ts")).authorsCommand(),
  },
  {
    name: "record",
    description: "submit, find and prove records",
    load: async () => (await import("./commands/record.ts")).recordCommand(),
  },
  {
    name: "headers",
    description:
      "check the chain's headers from several nodes as a light client, keeping its state in a file",
    load: async () => (await import("./commands/headers.ts")).headersCommand(),
  },
  {
    name: "sim",
    description:
      "simulate a proof-of-work network in virtual time on the real chain code (docs/simulation.md)",
    load: async () => (await import("./commands/sim/index.ts")).simCommand(),
  },
];

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(`${packageRoot()}/package.json`, "utf8")) as { version?: unknown };
    return typeof pkg.version === "string" ? pkg.version : "0.0.0";
  } catch {
    return "0.0.0";
  }
}

/**
 * Builds the program. `load` says which commands get their full definition (options and action); the
 * rest are placeholders carrying only their name and description. By default every command is loaded
 * (tests walk the whole tree).
 */
export async function buildProgram(load: (name: string) => boolean = () => true): Promise<Command> {
  const program = new Command("jbc")
    .description("jbc: a proof-of-work blockchain node")
    .version(version())
    .showHelpAfterError();
  for (const c of COMMANDS) {
    program.addCommand(load(c.name) ? await c.load() : new Command(c.name).description(c.description));
  }
  return program;
}

/** Parses `argv` (process.argv by default) and runs the chosen command, loading only that one. */
export async function main(argv: readonly string[] = process.argv): Promise<void> {
  const args = argv.slice(2);
  const chosen = args[0] === "help" ? args[1] : args[0];
  const program = await buildProgram((name) => name === chosen);
  const throwInstead = (cmd: Command): void => {
    cmd.exitOverride();
    for (const c of cmd.commands) throwInstead(c);
  };
  throwInstead(program);
  try {
    await program.parseAsync([...argv]);
  } catch (err) {
    // Commander has printed the message; a usage error exits 2 (docs/operations.md), help and version 0.
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : USAGE_EXIT);
    throw err;
  }
}
