import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { after, test } from "node:test";
import { ApiClient } from "../../src/api/client.ts";
import { tempDir } from "../helpers/chain.ts";
import { devnetArgs } from "../helpers/spawn.ts";
import { waitFor } from "../helpers/wait.ts";

/**
 * `jbc devnet` as a user runs it (output to a pipe, so plain lines): it starts mining nodes as child
 * processes that find each other, reports on them, and Ctrl-C (SIGINT) stops every one of them.
 */

const BIN = new URL("../../bin/jbc.mjs", import.meta.url).pathname;
const tmp = tempDir("jbc-devnet-");
const childPids = new Set<number>();

/** The `jbc node` processes whose parent is `pid` (the devnet's nodes), from /proc. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      // Only `jbc node` processes: under tsx the devnet also has esbuild's service as a child.
      if (ppid === pid && readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0").includes("node"))
        out.push(Number(d));
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

after(() => {
  // Nodes are in their own process groups: kill any that a failed run left behind.
  for (const pid of childPids) if (alive(pid)) process.kill(pid, "SIGKILL");
  rmSync(tmp, { recursive: true, force: true });
});

test("jbc devnet starts connected mining nodes and stops them all on SIGINT", {
  timeout: 90_000,
}, async () => {
  const { base, args } = devnetArgs(tmp);
  const devnet = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  devnet.stdout.on("data", (b: Buffer) => {
    out += b.toString();
  });
  devnet.stderr.on("data", (b: Buffer) => {
    out += b.toString();
  });
  const exited = new Promise<number | null>((r) => devnet.on("exit", (code) => r(code)));
  try {
    await waitFor(
      () => {
        for (const pid of childrenOf(devnet.pid!)) childPids.add(pid);
        return childPids.size >= 2;
      },
      { what: "two node processes" },
    );
    await waitFor(() => out.includes(`explorer: http://127.0.0.1:${base}/`), { what: "the explorer URL" });
    const nodes = [0, 1].map((i) => new ApiClient(`http://127.0.0.1:${base + i}`));
    await waitFor(
      async () => {
        const s = await Promise.all(nodes.map((n) => n.status()));
        return s.every((x) => x.peers >= 1 && x.mining.running && x.tip.height > 5);
      },
      { timeoutMs: 40_000, what: "both nodes mining and connected" },
    );
    const status = await nodes[1]!.status();
    assert.equal(status.mining.miner, `node on port ${base + 1}`);
    await waitFor(() => /t=\d+s heights=\[\d+,\d+\]/.test(out), {
      timeoutMs: 20_000,
      what: "a scoreboard line",
    });
  } finally {
    devnet.kill("SIGINT");
  }
  const code = await exited;
  assert.equal(code, 0, out);
  assert.match(out, /all nodes stopped/);
  for (const pid of childPids) assert.equal(alive(pid), false, `node ${pid} still running`);
});
