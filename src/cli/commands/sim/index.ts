/**
 * `jbc sim EXPERIMENT`: the simulator (src/sim, docs/simulation.md), one file per experiment (stale.ts,
 * selfish.ts, difficulty.ts, partition.ts) over the shared option parsing (options.ts) and output
 * (output.ts). Each experiment prints a table, writes an SVG figure, and ends with one JSON object on the
 * last line (alone with --json). Progress goes to stderr, only on a terminal. The simulator modules are
 * loaded when a command runs, not at startup.
 */
import { Command } from "commander";
import { difficultyCommand } from "./difficulty.ts";
import { partitionCommand } from "./partition.ts";
import { selfishCommand } from "./selfish.ts";
import { staleCommand } from "./stale.ts";

/** `jbc sim`: one subcommand per experiment. */
export function simCommand(): Command {
  return new Command("sim")
    .description(
      "simulate a proof-of-work network in virtual time on the real chain code (docs/simulation.md)",
    )
    .addCommand(staleCommand())
    .addCommand(selfishCommand())
    .addCommand(difficultyCommand())
    .addCommand(partitionCommand())
    .hook("preAction", async () => {
      // The simulated chains hash every block of every node: OpenSSL's SHA-256, not the pure-JS default.
      const { useNativeCrypto } = await import("../../../node/crypto.ts");
      useNativeCrypto();
    });
}
