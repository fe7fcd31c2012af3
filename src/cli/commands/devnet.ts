import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdirSync, rmSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { Command } from "commander";
import type { NetworkParams } from "../../consensus/params.ts";
import type { NetworkKey } from "../../net/private.ts";
import { checkDatadirFree, checkPortFree, EXIT, STOP_SIGNALS, StartupError } from "../../node/lifecycle.ts";
import { nodeAllocatorEnv } from "../../util/allocator.ts";
import { errorMessage } from "../../util/errors.ts";
import { openAppendCapped } from "../../util/log-file.ts";
import { packageRoot } from "../../util/paths.ts";
import { networkOption } from "../network-option.ts";
import { intArg, logLevelArg, portArg } from "../options.ts";
import { Scoreboard, type WatchedNode } from "../scoreboard.ts";
import { networkKeyArg } from "../team-options.ts";

/** A node's stderr.log is moved aside at a devnet start once it holds this much (docs/operations.md). */
const STDERR_LOG_MAX = 1024 * 1024;

interface DevnetOptions {
  nodes: number;
  basePort: number;
  threads?: number;
  datadir?: string;
  network: NetworkParams;
  logLevel: string;
  reset: boolean;
  refresh: number;
  /** A closed devnet: every node gets this network key (`--network-key`). */
  networkKey?: NetworkKey;
  /** Every node runs under this signed author policy (`--authors`). */
  authors?: string;
}

interface Child {
  port: number;
  proc: ChildProcess;
  exited: Promise<number | null>;
  /** What the scoreboard shows of it; `exited` is set when the process ends. */
  node: WatchedNode;
}

/** How long nodes get to stop after SIGINT before they are killed. */
const STOP_TIMEOUT_MS = 15_000;

/**
 * `jbc devnet`: a local network of competing mining nodes, each a separate `jbc node` process with its
 * own data directory and log file, connected in a chain of --peer links, and a live scoreboard.
 */
export function devnetCommand(): Command {
  return new Command("devnet")
    .description("start a local network of mining nodes as child processes and show a live scoreboard")
    .option("--nodes <n>", "number of nodes", intArg(1, 32), 4)
    .option(
      "--base-port <port>",
      "HTTP port of the first node; node i uses base + i (P2P: +1000)",
      portArg,
      5000,
    )
    .option("--threads <n>", "mining threads per node (default: cores / nodes, at least 1)", intArg(1, 1024))
    .option("--datadir <dir>", "base directory; node data in <dir>/<port> (default ./.jbc/<network>)")
    .addOption(networkOption())
    .option(
      "--log-level <level>",
      "log level of the nodes (their logs rotate in <datadir>/<port>/logs/, newest current.log)",
      logLevelArg,
      "info",
    )
    .option("--reset", "delete the nodes' data first and start from genesis", false)
    .option("--refresh <ms>", "scoreboard refresh interval", intArg(200, 60_000), 1000)
    .option("--network-key <file>", "a closed devnet: every node runs with this network key", networkKeyArg)
    .option("--authors <file>", "every node runs under this signed author policy (jbc authors sign)")
    .action((o: DevnetOptions) => runDevnet(o));
}

/**
 * What `jbc devnet` does: checks every node's ports and data directory (one line and an exit code from
 * EXIT otherwise, before anything starts), starts the nodes, shows the scoreboard until a signal, then
 * stops the nodes (killing those that do not stop in time); exits FAILED when every node exited by itself.
 */
async function runDevnet(o: DevnetOptions): Promise<void> {
  const base = o.datadir ? resolve(o.datadir) : resolve(".jbc", o.network.name);
  if (o.reset) rmSync(base, { recursive: true, force: true });
  const threads = o.threads ?? Math.max(1, Math.floor(availableParallelism() / o.nodes));
  await checkDevnetFree(o, base);
  // A closed terminal must not crash the devnet before it has stopped its nodes.
  process.stdout.on("error", () => {});
  process.stderr.on("error", () => {});
  const children = startNodes(o, base, threads);

  const killAll = (): void => {
    for (const c of children)
      if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill("SIGKILL");
  };
  // Whatever happens to this process, the nodes must not outlive it.
  process.on("exit", killAll);

  const board = new Scoreboard(children.map((c) => c.node));
  board.follow();
  const timer = showScoreboard(board, o, base, threads);

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) {
      killAll();
      return;
    }
    stopping = true;
    clearInterval(timer);
    await board.poll().catch(() => {});
    board.stop();
    console.log(`\n${board.summaryLine()}`);
    await stopNodes(children, killAll);
    process.exit(0);
  };
  for (const signal of STOP_SIGNALS) process.on(signal, () => void stop());
  // Nodes that all exited by themselves (a failed start, a crash) leave nothing to watch.
  void Promise.all(children.map((c) => c.exited)).then(() => {
    if (stopping) return;
    clearInterval(timer);
    board.stop();
    console.log(`\n${board.summaryLine()}`);
    process.stderr.write(`jbc devnet: every node exited; see ${base}/<port>/stderr.log and logs/\n`);
    process.exit(EXIT.FAILED);
  });
}

/**
 * Exits with a line and the StartupError's exit code unless every node's ports and data directory are
 * free: a devnet never reports on nodes it did not start.
 */
async function checkDevnetFree(o: DevnetOptions, base: string): Promise<void> {
  try {
    for (let i = 0; i < o.nodes; i++) {
      const port = o.basePort + i;
      await checkPortFree("HTTP", "127.0.0.1", port);
      await checkPortFree("P2P", "127.0.0.1", port + 1000);
      checkDatadirFree(join(base, String(port)));
    }
  } catch (err) {
    process.stderr.write(`jbc devnet: ${errorMessage(err)}\n`);
    process.exit(err instanceof StartupError ? err.exitCode : EXIT.FAILED);
  }
}

/** Spawns the devnet's `jbc node` processes, node i on base port + i, each dialing those before it. */
function startNodes(o: DevnetOptions, base: string, threads: number): Child[] {
  // The nodes get their settings from the flags below only: a JBC_CONFIG or JBC_P2P_PORT meant for
  // a single `jbc node` would give every node of the devnet the same port.
  // Two malloc arenas (src/util/allocator.ts): measured about 30 MB less RSS a node under the soak.
  const nodeEnv = nodeAllocatorEnv(
    Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith("JBC_") || k === "JBC_FROM_SOURCE"),
    ),
  );
  const bin = join(packageRoot(), "bin", "jbc.mjs");
  const children: Child[] = [];
  for (let i = 0; i < o.nodes; i++) {
    const port = o.basePort + i;
    const dir = join(base, String(port));
    mkdirSync(dir, { recursive: true });
    const miner = `node on port ${port}`;
    const args = [
      ...process.execArgv,
      bin,
      "node",
      "--port",
      String(port),
      "--mine",
      "--threads",
      String(threads),
      "--network",
      o.network.name,
      "--datadir",
      dir,
      "--miner",
      miner,
      "--log-level",
      o.logLevel,
    ];
    // Every node's explorer shows all nodes of the devnet side by side.
    const all = Array.from({ length: o.nodes }, (_, j) => `http://127.0.0.1:${o.basePort + j}`);
    args.push("--devnet-peers", all.join(","));
    if (o.networkKey) args.push("--network-key", o.networkKey.path);
    if (o.authors) args.push("--authors", resolve(o.authors));
    // Each node dials every node started before it: a full mesh on a small devnet.
    for (let j = 0; j < i; j++) args.push("--peer", `http://127.0.0.1:${o.basePort + j}`);
    // Each node writes its own rotated log in its data directory; what it prints to stderr (a
    // refused start, a crash) goes to stderr.log.
    const log = openAppendCapped(join(dir, "stderr.log"), STDERR_LOG_MAX);
    // Own session: a terminal's Ctrl-C or hangup reaches only this process, which then stops the
    // nodes exactly once (a second signal would make a node skip its clean shutdown). The IPC
    // channel closes however this process ends, SIGKILL included: each node then stops by itself.
    const proc = spawn(process.execPath, args, {
      env: nodeEnv,
      detached: true,
      stdio: ["ignore", "ignore", log, "ipc"],
    });
    closeSync(log);
    const node: WatchedNode = { label: `${port}`, url: `http://127.0.0.1:${port}`, miner };
    const exited = new Promise<number | null>((res) => {
      proc.on("exit", (code, signal) => {
        node.exited = signal ? `exited (${signal})` : `exited (${code})`;
        res(code);
      });
    });
    children.push({ port, proc, exited, node });
  }
  return children;
}

/**
 * Redraws the scoreboard every --refresh ms (in place on a terminal; a summary line at most every 5 s
 * otherwise, after a header); returns the timer to clear.
 */
function showScoreboard(
  board: Scoreboard,
  o: DevnetOptions,
  base: string,
  threads: number,
): ReturnType<typeof setInterval> {
  const explorer = `http://127.0.0.1:${o.basePort}/`;
  const tty = process.stdout.isTTY === true;
  if (tty) process.stdout.write("\x1b[2J");
  else {
    console.log(
      `jbc devnet: ${o.nodes} nodes on ports ${o.basePort}-${o.basePort + o.nodes - 1}, ${threads} thread(s) each`,
    );
    console.log(`explorer: ${explorer}`);
    console.log(`logs: ${base}/<port>/logs/current.log`);
  }
  let lastPlain = 0;
  let drawing = false;
  const draw = async (): Promise<void> => {
    if (drawing) return;
    drawing = true;
    try {
      await board.poll();
      if (tty) {
        const text = board
          .render(explorer)
          .split("\n")
          .map((l) => `${l}\x1b[K`)
          .join("\n");
        process.stdout.write(`\x1b[H${text}\n\x1b[J`);
      } else if (Date.now() - lastPlain >= Math.max(o.refresh, 5000)) {
        lastPlain = Date.now();
        console.log(board.summaryLine());
      }
    } finally {
      drawing = false;
    }
  };
  const timer = setInterval(() => void draw(), o.refresh);
  void draw();
  return timer;
}

/** Sends every running node SIGINT and waits for them all; kills those still running after STOP_TIMEOUT_MS. */
async function stopNodes(children: Child[], killAll: () => void): Promise<void> {
  console.log(`stopping ${children.length} node(s)...`);
  for (const c of children) {
    if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill("SIGINT");
  }
  const all = Promise.all(children.map((c) => c.exited));
  const timeout = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), STOP_TIMEOUT_MS).unref());
  if ((await Promise.race([all, timeout])) === "timeout") {
    console.log(`some nodes did not stop within ${STOP_TIMEOUT_MS / 1000} s: killing them`);
    killAll();
    await all;
  }
  console.log("all nodes stopped");
}
