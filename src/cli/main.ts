/**
 * The `jbc` command line. Each command lives in its own module under src/cli/commands/ and exports a
 * factory returning a commander Command; add a command by writing that module and listing it in
 * COMMANDS below. Commands print for people (console); library code underneath logs through pino.
 */
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { packageRoot } from "../util/paths.ts";
import { chainCommand } from "./commands/chain.ts";
import { devnetCommand } from "./commands/devnet.ts";
import { keygenCommand } from "./commands/keygen.ts";
import { mineCommand } from "./commands/mine.ts";
import { nodeCommand } from "./commands/node.ts";
import { recordCommand } from "./commands/record.ts";
import { simCommand } from "./commands/sim.ts";
import { statusCommand } from "./commands/status.ts";

/** One factory per command module. */
const COMMANDS: ReadonlyArray<() => Command> = [
  nodeCommand,
  devnetCommand,
  mineCommand,
  statusCommand,
  chainCommand,
  keygenCommand,
  recordCommand,
  simCommand,
];

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(`${packageRoot()}/package.json`, "utf8")) as { version?: unknown };
    return typeof pkg.version === "string" ? pkg.version : "0.0.0";
  } catch {
    return "0.0.0";
  }
}

/** Builds the program with every command registered (tests call this without running it). */
export function buildProgram(): Command {
  const program = new Command("jbc")
    .description("jbc: a proof-of-work blockchain node")
    .version(version())
    .showHelpAfterError();
  for (const make of COMMANDS) program.addCommand(make());
  return program;
}

/** Parses `argv` (process.argv by default) and runs the chosen command. */
export async function main(argv: readonly string[] = process.argv): Promise<void> {
  await buildProgram().parseAsync([...argv]);
}
