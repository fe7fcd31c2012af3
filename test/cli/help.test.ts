import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";
import type { Command } from "commander";
import { buildProgram, COMMANDS } from "../../src/cli/main.ts";

/**
 * `--help` of every command in the tree, each in a real `jbc` process: a new command, or a new option
 * whose default cannot be printed, cannot break help without failing here.
 */

const run = promisify(execFile);
const BIN = new URL("../../bin/jbc.mjs", import.meta.url).pathname;

function walk(cmd: Command, path: string[] = []): string[][] {
  return [path, ...cmd.commands.flatMap((c) => walk(c, [...path, c.name()]))];
}

test("every command's --help prints its usage and exits 0", { timeout: 120_000 }, async () => {
  const program = await buildProgram();
  const paths = walk(program);
  assert.ok(paths.length >= COMMANDS.length + 2, `walked ${paths.length} commands`);
  assert.ok(
    paths.some((p) => p.join(" ") === "chain verify"),
    "the walk reaches subcommands",
  );
  // Two at a time: each is a whole process on a shared machine.
  const queue = [...paths];
  const failures: string[] = [];
  const worker = async (): Promise<void> => {
    for (let p = queue.shift(); p; p = queue.shift()) {
      const args = [...p, "--help"];
      try {
        const r = await run(process.execPath, [BIN, ...args], { timeout: 30_000 });
        const usage = `Usage: jbc${p.length ? ` ${p.join(" ")}` : ""} `;
        if (!r.stdout.startsWith(usage))
          failures.push(`jbc ${args.join(" ")}: printed ${r.stdout.slice(0, 80)}`);
        if (r.stderr !== "") failures.push(`jbc ${args.join(" ")}: stderr ${r.stderr.slice(0, 200)}`);
      } catch (err) {
        const e = err as { code?: unknown; stderr?: string };
        failures.push(`jbc ${args.join(" ")}: exit ${String(e.code)} ${e.stderr?.slice(0, 300) ?? ""}`);
      }
    }
  };
  await Promise.all([worker(), worker()]);
  assert.deepEqual(failures, []);
});

test("the top-level command list describes each command as its module does", async () => {
  const program = await buildProgram();
  for (const entry of COMMANDS) {
    const cmd = program.commands.find((c) => c.name() === entry.name);
    assert.ok(cmd, entry.name);
    assert.equal(cmd.description(), entry.description, entry.name);
  }
  const light = await buildProgram(() => false);
  assert.deepEqual(
    light.commands.map((c) => c.name()),
    COMMANDS.map((c) => c.name),
  );
});

test("a bad command line exits 2 (docs/operations.md) with commander's message", async () => {
  for (const args of [["node", "--port", "x"], ["nope"], ["devnet", "--nodes", "0"]]) {
    const err = await run(process.execPath, [BIN, ...args], { timeout: 30_000 }).then(
      () => assert.fail(`jbc ${args.join(" ")} succeeded`),
      (e: { code?: unknown; stderr?: string }) => e,
    );
    assert.equal(err.code, 2, `jbc ${args.join(" ")}`);
    assert.match(err.stderr ?? "", /^error: /);
  }
});
