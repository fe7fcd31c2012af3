/**
 * Startup benchmark: how long a whole `jbc` process takes, as a user starts it.
 *
 *   npm run bench:startup
 *
 * (a) `jbc --version` and `jbc --help`: wall time of the whole process (spawn to exit) through
 *     bin/jbc.mjs, median of 15 runs each, from the compiled build (what bin/jbc.mjs runs when dist/ is
 *     current; the script builds it first when it is not) and, for reference, from the TypeScript
 *     sources (JBC_FROM_SOURCE=1, through tsx), and a bare `node -e 0` as the floor.
 * (b) a node with a 10,000-block regtest store (P2P on, logging to its data directory, as by default):
 *     time from spawning `jbc node` until GET /api/status first answers 200, polled every 5 ms. Median of
 *     5 starts of the same store.
 *
 * The last line printed is one JSON object with the figures, the ratios of --version and --help to the
 * bare node floor and of the source start to the compiled one (ratios measured in the same run hold up
 * better on a loaded machine than the absolute figures), the 1-minute load average and the cores.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Chain } from "../src/chain/chain.ts";
import { regtest } from "../src/consensus/params.ts";
import { LevelStore } from "../src/store/level.ts";
import { makeChain } from "../test/helpers/blocks.ts";
import { median } from "./stats.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(root, "bin", "jbc.mjs");
const BLOCKS = 10_000;

function timeProcess(args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${args.join(" ")} exited ${r.status}: ${r.stderr.toString()}`);
  return ms;
}

function medianOf(n: number, args: string[], env?: NodeJS.ProcessEnv): number {
  timeProcess(args, env); // warm-up: the file cache, tsx's transform cache
  return median(Array.from({ length: n }, () => timeProcess(args, env)));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => resolve(typeof a === "object" && a ? a.port : 0));
    });
  });
}

/** Spawns a node on `datadir` and resolves with the ms until /api/status answered; then stops it. */
async function timeNodeStart(datadir: string): Promise<number> {
  const port = await freePort();
  const t0 = performance.now();
  const proc = spawn(
    process.execPath,
    [BIN, "node", "--network", "regtest", "--port", String(port), "--p2p-port", "0", "--datadir", datadir],
    { stdio: "ignore" },
  );
  const exited = new Promise<number | null>((r) => proc.on("exit", (c) => r(c)));
  try {
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`the node exited ${proc.exitCode}`);
      try {
        const res = await fetch(`http://127.0.0.1:${port}/api/status`);
        if (res.ok) {
          const status = (await res.json()) as { tip: { height: number } };
          if (status.tip.height !== BLOCKS) throw new Error(`height ${status.tip.height}`);
          return performance.now() - t0;
        }
      } catch (err) {
        if (err instanceof Error && err.message.startsWith("height")) throw err;
      }
      if (performance.now() - t0 > 30_000) throw new Error("the node did not answer within 30 s");
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    proc.kill("SIGTERM");
    await exited;
  }
}

async function main(): Promise<void> {
  // The compiled build must be current, or bin/jbc.mjs would run the sources.
  console.log("building dist/ (tsc -p tsconfig.build.json)...");
  const build = spawnSync(join(root, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.build.json"], {
    cwd: root,
    stdio: "inherit",
  });
  if (build.status !== 0) throw new Error("the build failed");

  const fromSource = { ...process.env, JBC_FROM_SOURCE: "1" };
  const nodeFloor = medianOf(15, ["-e", "0"]);
  const version = medianOf(15, [BIN, "--version"]);
  const help = medianOf(15, [BIN, "--help"]);
  const versionSource = medianOf(5, [BIN, "--version"], fromSource);
  const helpSource = medianOf(5, [BIN, "--help"], fromSource);
  console.log(`node -e 0:            ${nodeFloor.toFixed(0)} ms`);
  console.log(
    `jbc --version (dist): ${version.toFixed(0)} ms   (from source: ${versionSource.toFixed(0)} ms)`,
  );
  console.log(`jbc --help (dist):    ${help.toFixed(0)} ms   (from source: ${helpSource.toFixed(0)} ms)`);

  const dir = mkdtempSync(join(tmpdir(), "jbc-bench-startup-"));
  try {
    const datadir = join(dir, "node");
    const t0 = performance.now();
    const store = await LevelStore.open(join(datadir, "chain"), regtest);
    const chain = await Chain.open({ params: regtest, store });
    const blocks = makeChain(regtest, BLOCKS, { spacing: 1 });
    for (let i = 1; i < blocks.length; i++) await chain.processBlock(blocks[i]!);
    await chain.close();
    await store.close();
    console.log(`built a ${BLOCKS}-block store in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    await timeNodeStart(datadir); // warm-up
    const starts: number[] = [];
    for (let i = 0; i < 5; i++) starts.push(await timeNodeStart(datadir));
    const nodeStatus = median(starts);
    console.log(
      `node with ${BLOCKS} blocks, spawn to /api/status: ${nodeStatus.toFixed(0)} ms (runs: ${starts.map((s) => s.toFixed(0)).join(", ")})`,
    );
    const round = (x: number): number => Math.round(x * 10) / 10;
    console.log(
      JSON.stringify({
        node_floor_ms: round(nodeFloor),
        version_ms: round(version),
        help_ms: round(help),
        version_source_ms: round(versionSource),
        help_source_ms: round(helpSource),
        version_over_floor: Math.round((version / nodeFloor) * 100) / 100,
        help_over_floor: Math.round((help / nodeFloor) * 100) / 100,
        source_over_dist: Math.round((versionSource / version) * 100) / 100,
        node_status_10k_ms: round(nodeStatus),
        load1: round(loadavg()[0]!),
        cores: cpus().length,
      }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
