/**
 * Real `jbc node` processes, one per lab host: started with `ip netns exec`, each with its own datadir,
 * the same fixed ports in every namespace (each namespace has its own port space), listening on every
 * address of its host, and an API token the lab holds. SIGKILL and restart keep the datadir.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { ApiClient } from "../api/client.ts";
import type { Host } from "./netns.ts";

const BIN = new URL("../../bin/jbc.mjs", import.meta.url).pathname;
export const API_PORT = 7000;
export const P2P_PORT = 7001;

export interface NodeSpec {
  host: Host;
  datadir: string;
  token: string;
  network: "regtest" | "devnet";
  /** Peer addresses (host:port or multiaddrs) as this node should dial them. */
  peers: string[];
  extraArgs?: string[];
}

/** Polls `fn` until it returns a value other than undefined/false; throws after `timeoutMs`. */
export async function waitFor<T>(
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const why = last instanceof Error ? ` (last error: ${last.message})` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(intervalMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class LabNode {
  readonly name: string;
  /** The API as the lab reaches it (management network, with the token). */
  readonly api: ApiClient;
  proc: ChildProcess | undefined;
  private starts = 0;
  logFile = "";
  peerId = "";

  constructor(readonly spec: NodeSpec) {
    this.name = `n${spec.host.index}`;
    // 30 s: a node sharing 2 loaded cores with seven others can take over 10 s to admit 250 records.
    this.api = new ApiClient(this.url, { token: spec.token, timeoutMs: 30_000 });
  }

  get url(): string {
    return `http://${this.spec.host.mgmtIp}:${API_PORT}`;
  }

  /** This node's P2P address as another host dials it directly. */
  get p2pAddr(): string {
    return `${this.spec.host.dataIp}:${P2P_PORT}`;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Starts the process and resolves once its API answers. */
  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running`);
    mkdirSync(this.spec.datadir, { recursive: true });
    this.logFile = join(this.spec.datadir, `node-${++this.starts}.log`);
    const args = [
      "netns",
      "exec",
      this.spec.host.ns,
      process.execPath,
      // JBC_LAB_NODE_ARGS: flags for each node's Node.js (e.g. "--cpu-prof --cpu-prof-dir=DIR", which
      // NODE_OPTIONS refuses); split on spaces.
      ...(process.env.JBC_LAB_NODE_ARGS?.split(" ").filter(Boolean) ?? []),
      BIN,
      "node",
      "--network",
      this.spec.network,
      "--host",
      "0.0.0.0",
      "--port",
      String(API_PORT),
      "--p2p-port",
      String(P2P_PORT),
      "--threads",
      "1",
      "--datadir",
      this.spec.datadir,
      "--miner",
      this.name,
      "--api-token",
      this.spec.token,
      "--log-level",
      // JBC_LAB_LOG_LEVEL=debug: the gossip and orphan lines behind a scenario's figures.
      process.env.JBC_LAB_LOG_LEVEL ?? "info",
      ...this.spec.peers.flatMap((p) => ["--peer", p]),
      ...(this.spec.extraArgs ?? []),
    ];
    const fd = openSync(this.logFile, "a");
    const proc = spawn("ip", args, { stdio: ["ignore", fd, fd] });
    closeSync(fd);
    this.proc = proc;
    const p2p = await waitFor(
      async () => {
        if (proc.exitCode !== null || proc.signalCode !== null)
          throw new Error(`${this.name} exited early (${proc.exitCode ?? proc.signalCode})`);
        // The API answers before libp2p is up (503 P2P_STARTING): the node has started once P2P answers.
        return await this.api.p2p();
      },
      `${this.name} to start`,
      60_000,
      200,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${this.tail()}`);
    });
    if (!this.peerId) this.peerId = p2p.peerId;
  }

  private exited(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
    return new Promise((r) => p.once("exit", () => r()));
  }

  /** SIGKILL: no shutdown code runs. */
  async kill(): Promise<void> {
    const done = this.exited();
    this.proc?.kill("SIGKILL");
    await done;
  }

  /** SIGINT, then SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 15_000): Promise<void> {
    if (!this.running) return;
    const done = this.exited();
    this.proc?.kill("SIGINT");
    const t = setTimeout(() => this.proc?.kill("SIGKILL"), timeoutMs);
    await done;
    clearTimeout(t);
  }

  /** `jbc chain verify` on the (stopped) node's store, in its namespace. */
  async verify(): Promise<{ ok: boolean; output: string }> {
    const run = promisify(execFile);
    try {
      const { stdout } = await run(process.execPath, [
        BIN,
        "chain",
        "verify",
        "--network",
        this.spec.network,
        "--datadir",
        this.spec.datadir,
      ]);
      return { ok: true, output: stdout.trim() };
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      return { ok: false, output: `${e.stdout ?? ""}${e.stderr ?? ""}`.trim() };
    }
  }

  tail(lines = 15): string {
    try {
      return readFileSync(this.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "(no log)";
    }
  }
}

/** Every node's tip, or undefined for a node that does not answer. */
export async function tips(nodes: LabNode[]): Promise<({ height: number; hash: string } | undefined)[]> {
  return Promise.all(
    nodes.map((n) =>
      n.api.status().then(
        (s) => s.tip,
        () => undefined,
      ),
    ),
  );
}

/** Resolves with the common tip once every node reports the same one. */
export async function converged(
  nodes: LabNode[],
  timeoutMs = 60_000,
): Promise<{ height: number; hash: string }> {
  let last: ({ height: number; hash: string } | undefined)[] = [];
  try {
    return await waitFor(
      async () => {
        const t = await tips(nodes);
        last = t;
        const first = t[0];
        return first && t.every((x) => x?.hash === first.hash) ? first : undefined;
      },
      `${nodes.map((n) => n.name).join(",")} to agree on a tip`,
      timeoutMs,
      100,
    );
  } catch (err) {
    // Which node stayed where: the first thing anyone debugging a split asks.
    const where = nodes.map(
      (n, i) => `${n.name} ${last[i]?.height ?? "?"}/${last[i]?.hash.slice(0, 12) ?? "?"}`,
    );
    throw new Error(`${(err as Error).message}; tips: ${where.join(", ")}`);
  }
}
