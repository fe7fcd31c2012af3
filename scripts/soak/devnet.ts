/**
 * The soak's devnet: real `jbc node` processes on the devnet network, started by test/helpers/spawn.ts
 * (the end-to-end tests' launcher: OS-chosen ports, a data directory each, every process tracked and
 * killed if this one exits) in their own sessions, so a Ctrl-C reaches only the soak, which stops each
 * node once and cleanly. Each node dials every node started before it (a full mesh, as `jbc devnet`
 * does); the first `miners` of them mine. At the end every store is checked by `jbc chain verify`.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { type NodeProcess, spawnNode } from "../../test/helpers/spawn.ts";
import type { SoakNode } from "./attacks/types.ts";

const run = promisify(execFile);
const BIN = new URL("../../bin/jbc.mjs", import.meta.url).pathname;

export interface DevnetOptions {
  dir: string;
  nodes: number;
  miners: number;
  threads: number;
}

/** Starts the nodes one after the other (each dialing those before it); resolves once all are up. */
export async function startDevnet(o: DevnetOptions, started: (n: NodeProcess) => void): Promise<void> {
  const urls: string[] = [];
  for (let i = 0; i < o.nodes; i++) {
    const node = await spawnNode({
      name: `n${i}`,
      datadir: join(o.dir, `n${i}`),
      network: "devnet",
      threads: o.threads,
      mine: i < o.miners,
      peers: [...urls],
      detached: true,
      startTimeoutMs: 60_000,
    });
    started(node);
    urls.push(node.url);
  }
}

/** What the attackers need to know of a node: its URL and API token. */
export function soakNode(n: NodeProcess): SoakNode {
  return { name: n.name, url: n.url, token: readFileSync(join(n.datadir, "api-token"), "utf8").trim() };
}

export interface Verified {
  node: string;
  ok: boolean;
  /** `jbc chain verify`'s last line (or its error). */
  line: string;
}

/** Re-checks a stopped node's whole store with `jbc chain verify`. */
export async function verifyStore(n: NodeProcess): Promise<Verified> {
  try {
    const { stdout } = await run(
      process.execPath,
      [BIN, "chain", "verify", "--network", "devnet", "--datadir", n.datadir],
      { timeout: 600_000, maxBuffer: 16 << 20 },
    );
    const line = stdout.trim().split("\n").at(-1) ?? "";
    return { node: n.name, ok: line.startsWith("ok:"), line };
  } catch (err) {
    const e = err as { stdout?: string; message: string };
    const line = e.stdout?.trim().split("\n").slice(0, 5).join(" | ") || e.message.split("\n")[0]!;
    return { node: n.name, ok: false, line };
  }
}
