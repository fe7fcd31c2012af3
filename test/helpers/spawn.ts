/**
 * Runs real `jbc node` processes for end-to-end tests: each on 127.0.0.1 with OS-chosen ports, its own
 * data directory and a log file. Every process started here is tracked and killed by `killAll`, which
 * tests call from `after` and which also runs when the test process exits, so no node outlives a run.
 * (In-process nodes: JbcNode.create directly, or test/helpers/net.ts for a bare P2PNetwork.)
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { ApiClient } from "../../src/api/client.ts";
import { nodeAllocatorEnv } from "../../src/util/allocator.ts";
import { GiveUp, waitFor } from "./wait.ts";

/** The `jbc` to run: this checkout's, or JBC_TEST_BIN's (another checkout, e.g. to see a test fail on main). */
const BIN = process.env.JBC_TEST_BIN ?? new URL("../../bin/jbc.mjs", import.meta.url).pathname;
const live = new Set<ChildProcess>();
let started = 0;

process.on("exit", () => {
  for (const p of live) p.kill("SIGKILL");
});

export interface NodeProcess {
  name: string;
  datadir: string;
  logFile: string;
  proc: ChildProcess;
  url: string;
  api: ApiClient;
  /** SIGINT, then SIGKILL if it has not exited within `timeoutMs`. Resolves with the exit code. */
  stop(timeoutMs?: number): Promise<number | null>;
}

export interface StartOptions {
  name: string;
  datadir: string;
  /** Default regtest. */
  network?: string;
  /** Mining threads; default 1. */
  threads?: number;
  mine?: boolean;
  peers?: string[];
  /** Extra CLI arguments. */
  args?: string[];
  /** How long the node may take to come up (default 30 s). */
  startTimeoutMs?: number;
  /**
   * Own session and an IPC channel (as `jbc devnet` starts its nodes): a terminal's Ctrl-C reaches only
   * the parent, which then stops the node once, and the node stops by itself if the parent dies.
   */
  detached?: boolean;
}

/** Starts a `jbc node` process (regtest by default) and resolves once it logged its API's URL. */
export async function spawnNode(o: StartOptions): Promise<NodeProcess> {
  // One log per start: a restarted node must not be mistaken for its previous run.
  const logFile = join(o.datadir, `${o.name}-${++started}.log`);
  const args = [
    BIN,
    "node",
    "--network",
    o.network ?? "regtest",
    "--port",
    "0",
    "--p2p-port",
    "0",
    "--threads",
    String(o.threads ?? 1),
    "--datadir",
    o.datadir,
    "--miner",
    o.name,
    "--log-level",
    "info",
    ...(o.mine ? ["--mine"] : []),
    ...(o.peers ?? []).flatMap((p) => ["--peer", p]),
    ...(o.args ?? []),
  ];
  mkdirSync(o.datadir, { recursive: true });
  const fd = openSync(logFile, "a");
  const proc = spawn(process.execPath, args, {
    // As `jbc devnet` and the systemd unit of docs/operations.md start a node (src/util/allocator.ts).
    env: nodeAllocatorEnv(process.env),
    stdio: o.detached ? ["ignore", fd, fd, "ipc"] : ["ignore", fd, fd],
    detached: o.detached === true,
  });
  closeSync(fd);
  live.add(proc);
  const exited = new Promise<number | null>((resolve) => {
    proc.on("exit", (code) => {
      live.delete(proc);
      resolve(code);
    });
  });
  const url = await waitFor(
    () => {
      if (proc.exitCode !== null) throw new GiveUp(`${o.name} exited early:\n${tail(logFile)}`);
      for (const line of readFileSync(logFile, "utf8").split("\n")) {
        if (!line.includes('"node started"')) continue;
        const parsed: unknown = JSON.parse(line);
        if (parsed && typeof parsed === "object" && "url" in parsed && typeof parsed.url === "string")
          return parsed.url;
      }
      return undefined;
    },
    { timeoutMs: o.startTimeoutMs ?? 30_000, what: `${o.name} to start` },
  );
  return {
    name: o.name,
    datadir: o.datadir,
    logFile,
    proc,
    url,
    api: new ApiClient(url, { timeoutMs: 10_000 }),
    async stop(timeoutMs = 10_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill("SIGINT");
      const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

const execJbc = promisify(execFile);

/**
 * Runs the `jbc` CLI with `args` to its end (killed after `timeoutMs`): its exit code and its stdout then
 * stderr as one text. A failing command resolves too, with its code, for the test to assert on.
 */
export async function runJbc(
  args: readonly string[],
  timeoutMs = 60_000,
): Promise<{ code: number; out: string }> {
  try {
    const r = await execJbc(process.execPath, [BIN, ...args], { timeout: timeoutMs });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

/** `runJbc` with its arguments spread and the default timeout: `jbc("record", "verify", file)`. */
export const jbc = (...args: string[]): Promise<{ code: number; out: string }> => runJbc(args);

/** Kills every node still running (for `after` hooks). */
export async function killAll(): Promise<void> {
  const waits = [...live].map(
    (p) =>
      new Promise<void>((resolve) => {
        p.once("exit", () => resolve());
        p.kill("SIGKILL");
      }),
  );
  await Promise.all(waits);
}

/** The last lines of a log file, for failure messages. */
export function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** Resolves when every node reports the same tip; returns it. */
export async function converged(
  nodes: NodeProcess[],
  timeoutMs = 30_000,
): Promise<{ height: number; hash: string }> {
  return waitFor(
    async () => {
      const tips = await Promise.all(nodes.map(async (n) => (await n.api.status()).tip));
      return tips.every((t) => t.hash === tips[0]!.hash) ? tips[0]! : undefined;
    },
    { timeoutMs, intervalMs: 200, what: `${nodes.map((n) => n.name).join(", ")} to agree on a tip` },
  );
}

/**
 * `jbc devnet` arguments for a test: two regtest nodes with one mining thread each, on a random base port
 * (so parallel test files do not collide), in `datadir`, with a fast scoreboard.
 */
export function devnetArgs(datadir: string): { args: string[]; base: number } {
  const base = 20_000 + Math.floor(Math.random() * 20_000);
  const args = [
    "devnet",
    "--nodes",
    "2",
    "--network",
    "regtest",
    "--base-port",
    String(base),
    "--threads",
    "1",
  ];
  return { base, args: [...args, "--datadir", datadir, "--refresh", "500"] };
}
