import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { after, test } from "node:test";
import { EXIT } from "../../src/node/lifecycle.ts";
import { tempDir } from "../helpers/chain.ts";
import { devnetArgs, killAll, spawnNode } from "../helpers/spawn.ts";
import { waitFor } from "../helpers/wait.ts";

/**
 * How `jbc node` and `jbc devnet` start and end, with real processes: the devnet's nodes never outlive
 * it (SIGHUP, SIGKILL), a node stops cleanly on SIGTERM and SIGHUP, and a busy port or data directory
 * stops either command before anything starts, with one line and a documented exit code.
 */

const BIN = new URL("../../bin/jbc.mjs", import.meta.url).pathname;
const tmp = tempDir("jbc-lifecycle-");
const spawned = new Set<number>();

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

after(async () => {
  for (const pid of spawned) if (alive(pid)) process.kill(pid, "SIGKILL");
  await killAll();
  rmSync(tmp, { recursive: true, force: true });
});

/** The `jbc node` processes whose parent is `pid` (not tsx's esbuild helper, also its child). */
function nodesOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) !== pid) continue;
      if (readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0").includes("node")) out.push(Number(d));
    } catch {
      // Gone while we looked.
    }
  }
  return out;
}

interface Run {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; ms: number }>;
}

function jbc(args: string[]): Run {
  const t0 = Date.now();
  const proc = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  spawned.add(proc.pid!);
  let out = "";
  proc.stdout!.on("data", (b: Buffer) => {
    out += b.toString();
  });
  proc.stderr!.on("data", (b: Buffer) => {
    out += b.toString();
  });
  const exited = new Promise<{ code: number | null; ms: number }>((r) =>
    proc.on("exit", (code) => r({ code, ms: Date.now() - t0 })),
  );
  return { proc, output: () => out, exited };
}

async function holdPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  assert.ok(addr && typeof addr === "object");
  return { server, port: addr.port };
}

/** Starts a two-node devnet and resolves with its node pids once both are up and mining. */
async function startDevnet(name: string): Promise<{ run: Run; nodes: number[]; dir: string }> {
  const dir = join(tmp, name);
  const { base, args } = devnetArgs(dir);
  const run = jbc(args);
  const nodes = new Set<number>();
  await waitFor(
    () => {
      if (run.proc.exitCode !== null) throw new Error(`devnet exited early:\n${run.output()}`);
      for (const pid of nodesOf(run.proc.pid!)) {
        nodes.add(pid);
        spawned.add(pid);
      }
      return nodes.size >= 2;
    },
    { what: "two node processes" },
  );
  // Both nodes up: each has logged its start.
  await waitFor(
    () =>
      [base, base + 1].every((p) => {
        try {
          return readFileSync(join(dir, String(p), "logs", "current.log"), "utf8").includes('"node started"');
        } catch {
          return false;
        }
      }),
    { timeoutMs: 40_000, what: "both nodes started" },
  );
  return { run, nodes: [...nodes], dir };
}

/** Each node's whole log (every rotated file, oldest first). */
function nodeLogs(dir: string): string[] {
  return readdirSync(dir).map((p) => {
    const logs = join(dir, p, "logs");
    const files = readdirSync(logs)
      .filter((f) => /^node\.\d+\.log$/.test(f))
      .sort((a, b) => Number(a.split(".")[1]) - Number(b.split(".")[1]));
    return files.map((f) => readFileSync(join(logs, f), "utf8")).join("");
  });
}

test("SIGHUP to the devnet (the terminal closing) stops every node cleanly", {
  timeout: 90_000,
}, async () => {
  const { run, nodes, dir } = await startDevnet("hup");
  run.proc.kill("SIGHUP");
  const { code } = await run.exited;
  assert.equal(code, 0, run.output());
  assert.match(run.output(), /all nodes stopped/);
  for (const pid of nodes) assert.equal(alive(pid), false, `node ${pid} still running`);
  for (const log of nodeLogs(dir)) assert.match(log, /"msg":"node stopped"/);
});

test("SIGKILL of the devnet: each node notices its parent is gone and stops cleanly", {
  timeout: 90_000,
}, async () => {
  const { run, nodes, dir } = await startDevnet("kill");
  run.proc.kill("SIGKILL");
  await run.exited;
  const t0 = Date.now();
  await waitFor(() => nodes.every((pid) => !alive(pid)), { timeoutMs: 20_000, what: "the nodes to exit" });
  const logs = nodeLogs(dir);
  for (const log of logs) {
    assert.match(log, /"why":"parent process gone"/);
    assert.match(log, /"msg":"node stopped"/);
  }
  // Noticing is immediate (the IPC channel closes); the 2 s bound is for noticing, the rest is the stop.
  for (const log of logs) {
    const line = log.split("\n").find((l) => l.includes("parent process gone"))!;
    const noticed = (JSON.parse(line) as { time: number }).time;
    assert.ok(noticed - t0 < 2000, `noticed ${noticed - t0} ms after the kill`);
  }
});

test("jbc node stops cleanly with exit 0 on SIGTERM and on SIGHUP, and removes its pid file", {
  timeout: 60_000,
}, async () => {
  for (const signal of ["SIGTERM", "SIGHUP"] as const) {
    const datadir = join(tmp, `sig-${signal}`);
    const node = await spawnNode({ name: "n", datadir, mine: true, args: ["--no-p2p"] });
    assert.equal(readFileSync(join(datadir, "jbc.pid"), "utf8").trim(), String(node.proc.pid));
    const exited = new Promise<number | null>((r) => node.proc.on("exit", (c) => r(c)));
    node.proc.kill(signal);
    assert.equal(await exited, EXIT.OK);
    const log = readFileSync(node.logFile, "utf8");
    assert.match(log, new RegExp(`"why":"${signal}"`));
    assert.match(log, /"msg":"node stopped"/);
    assert.deepEqual(
      readdirSync(datadir).filter((f) => f === "jbc.pid"),
      [],
    );
  }
});

/** How long `jbc --version` takes to start and exit now (the machine's load included), measured once. */
let versionMs: Promise<number> | undefined;
const startCost = (): Promise<number> => {
  versionMs ??= jbc(["--version"]).exited.then((r) => r.ms);
  return versionMs;
};

/**
 * The command exits with `code`, printing one line that matches `line`, within 5 s or, on a loaded
 * machine, within three times what a bare `jbc --version` takes there: refused before anything starts.
 */
async function refused(run: Run, code: number, line: RegExp): Promise<void> {
  const r = await run.exited;
  const out = run.output().trim();
  assert.equal(r.code, code, out);
  assert.equal(out.split("\n").length, 1, `one line, got:\n${out}`);
  assert.match(out, line);
  const bound = Math.max(5000, 3 * (await startCost()));
  assert.ok(r.ms < bound, `took ${r.ms} ms (bound ${bound} ms)`);
}

test("a busy HTTP or P2P port stops jbc node and jbc devnet before anything starts", {
  timeout: 60_000,
}, async () => {
  const { server, port } = await holdPort();
  try {
    const owner = new RegExp(`port ${port} on 127\\.0\\.0\\.1 is in use by process ${process.pid}$`);
    const dir = join(tmp, "busy-port");
    await refused(
      jbc(["node", "--network", "regtest", "--port", String(port), "--datadir", dir]),
      EXIT.PORT_IN_USE,
      new RegExp(`^jbc node: HTTP ${owner.source}`),
    );
    await refused(
      jbc(["node", "--network", "regtest", "--port", "0", "--p2p-port", String(port), "--datadir", dir]),
      EXIT.PORT_IN_USE,
      new RegExp(`^jbc node: P2P ${owner.source}`),
    );
    await refused(
      jbc(["devnet", "--network", "regtest", "--base-port", String(port), "--datadir", dir]),
      EXIT.PORT_IN_USE,
      new RegExp(`^jbc devnet: HTTP ${owner.source}`),
    );
    // Nothing started: no data directory was made for any node.
    assert.deepEqual(readdirSync(tmp).includes("busy-port") ? readdirSync(dir) : [], []);
  } finally {
    server.close();
  }
});

test("a data directory held by a running node stops a second node and a devnet on it", {
  timeout: 60_000,
}, async () => {
  const base = join(tmp, "held");
  // A free HTTP port for the devnet's first node, whose data directory the running node holds, and one
  // for the running node itself: with `--port 0` the kernel once gave it the devnet's port just freed, and
  // the devnet then stopped at the busy port (exit 3) before it looked at the data directory.
  const held = [await holdPort(), await holdPort()];
  const [port, holderPort] = held.map((h) => h.port) as [number, number];
  for (const h of held) h.server.close();
  const datadir = join(base, String(port));
  const node = await spawnNode({ name: "holder", datadir, args: ["--no-p2p", "--port", String(holderPort)] });
  const line = `data directory ${datadir} is in use by process ${node.proc.pid}`;
  await refused(
    jbc(["node", "--network", "regtest", "--port", "0", "--no-p2p", "--datadir", datadir]),
    EXIT.DATADIR_IN_USE,
    new RegExp(`^jbc node: ${line}$`),
  );
  await refused(
    jbc(["devnet", "--network", "regtest", "--nodes", "1", "--base-port", String(port), "--datadir", base]),
    EXIT.DATADIR_IN_USE,
    new RegExp(`^jbc devnet: ${line}$`),
  );
  assert.equal(await node.stop(), 0);
});
