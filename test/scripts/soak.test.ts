/**
 * `npm run soak` (scripts/soak/main.ts), short: a real devnet of `jbc node` processes and the five attacker
 * processes for some seconds. The soak must start, every attack must run (and every cross-site request be
 * refused, no input answer 500), the summary's JSON must be the last line with every field, each store must
 * verify, the series and the plot must be written, and no process it started may outlive it, whether it
 * ends by itself or by Ctrl-C (SIGINT) halfway.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { tempDir } from "../helpers/chain.ts";
import { waitFor } from "../helpers/wait.ts";

const MAIN = new URL("../../scripts/soak/main.ts", import.meta.url).pathname;
const tmp = tempDir("jbc-soak-test-");
const started: ChildProcess[] = [];
after(() => {
  for (const p of started) if (p.exitCode === null) p.kill("SIGKILL");
  rmSync(tmp, { recursive: true, force: true });
});

const FIELDS = [
  "minutes",
  "rss_first10_mb",
  "rss_last10_mb",
  "rss_ratio",
  "heap_first10_mb",
  "heap_last10_mb",
  "heap_ratio",
  "disk_mb_end",
  "eventloop_p99_ms",
  "health_p99_ms",
  "health_failed",
  "stores_verified",
  "ok",
];

/** Starts a soak into `dir` (light attack rates: the test shares the machine); collects its stdout. */
function soak(
  dir: string,
  args: string[],
): { proc: ChildProcess; out: () => string; code: Promise<number | null> } {
  let out = "";
  const proc = spawn(
    process.execPath,
    ["--import", "tsx", MAIN, "--dir", dir, "--readers", "2", "--flood-rps", "5", "--sample", "3", ...args],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  started.push(proc);
  proc.stdout!.on("data", (c: Buffer) => {
    out += c.toString();
  });
  proc.stderr!.on("data", (c: Buffer) => {
    out += c.toString();
  });
  const code = new Promise<number | null>((r) => proc.on("exit", (c) => r(c)));
  return { proc, out: () => out, code };
}

/** Whether a process with this pid is running. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Processes whose command line names `dir` (the nodes carry their data directory in it). */
function processesNaming(dir: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(dir)) out.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

/** The soak's last stdout line, parsed; and that nothing it started is left. */
function finished(dir: string, out: string): Record<string, unknown> {
  const lines = out.trim().split("\n");
  const summary = JSON.parse(lines.at(-1)!) as Record<string, unknown>;
  for (const f of FIELDS) assert.ok(f in summary, `summary has ${f}: ${lines.at(-1)}`);
  const pids = JSON.parse(readFileSync(join(dir, "pids.json"), "utf8")) as {
    nodes: Record<string, number>;
    attackers: Record<string, number>;
  };
  assert.equal(Object.keys(pids.attackers).length, 5);
  for (const pid of [...Object.values(pids.nodes), ...Object.values(pids.attackers)])
    assert.equal(alive(pid), false, `process ${pid} outlived the soak`);
  assert.deepEqual(processesNaming(dir), []);
  return summary;
}

describe("npm run soak", () => {
  it("runs every attack against a devnet, verifies the stores, writes the series and the plot, leaves nothing", {
    timeout: 600_000,
  }, async () => {
    const dir = join(tmp, "short");
    const s = soak(dir, ["--seconds", "40"]);
    const code = await s.code;
    const out = s.out();
    assert.notEqual(code, 130, out);
    const summary = finished(dir, out);
    assert.equal(summary.stores_verified, true, out);
    assert.equal(summary.honest_chain, true, "the attacker's fork never became the main chain");
    assert.equal(summary.windows, "first and last third (run under 20 min)");
    assert.equal(summary.cross_site_accepted, 0);
    assert.ok((summary.cross_site_refused as number) > 0);
    assert.equal(summary.inputs_failed, 0);
    const attacks = summary.attacks as Record<string, number>;
    for (const kind of ["blocks", "flood", "reads", "cross-site", "inputs"])
      assert.ok(attacks[kind]! > 0, `${kind} ran: ${JSON.stringify(attacks)}`);
    assert.ok((summary.honest_submitted as number) > 0);
    assert.equal(code, summary.ok ? 0 : 1);
    // The block attacker's posts reached a node's chain: side blocks, parked and orphan blocks answered.
    const counts = JSON.parse(readFileSync(join(dir, "attacks.json"), "utf8")).counts.blocks as Record<
      string,
      number
    >;
    for (const kind of ["fork", "side", "future", "orphan"])
      assert.ok(
        Object.keys(counts).some((k) => k.startsWith(`${kind} `)),
        `${kind}: ${JSON.stringify(counts)}`,
      );
    const csv = readFileSync(join(dir, "samples.csv"), "utf8").trim().split("\n");
    assert.ok(csv.length > 2 * 5, `samples: ${csv.length - 1} rows`);
    // The young generation is read from its labelled metric: a real figure in every scraped row.
    const cols = csv[0]!.split(",");
    const newSpace = csv
      .slice(1)
      .map((l) => l.split(","))
      .filter((r) => r[cols.indexOf("scraped")] === "true")
      .map((r) => Number(r[cols.indexOf("new_space_mb")]));
    assert.ok(newSpace.length > 0 && newSpace.every((v) => v > 0), `new_space_mb: ${newSpace.join(" ")}`);
    assert.match(readFileSync(join(dir, "soak.svg"), "utf8"), /^<svg/);
    assert.equal(existsSync(join(dir, "n0", "chain")), false, "the stores are deleted after the check");
  });

  it("Ctrl-C halfway stops everything cleanly and still verifies and prints the summary", {
    timeout: 600_000,
  }, async () => {
    const dir = join(tmp, "interrupted");
    const s = soak(dir, ["--minutes", "10", "--keep-data"]);
    // Once a sample or two is in: the attack is under way.
    await waitFor(() => (s.out().match(/^soak \d+\.\d min:/gm)?.length ?? 0) >= 2, {
      timeoutMs: 400_000,
      what: "the soak's first samples",
    });
    s.proc.kill("SIGINT");
    const code = await s.code;
    const out = s.out();
    assert.notEqual(code, 130, out);
    const summary = finished(dir, out);
    assert.equal(summary.interrupted, "SIGINT");
    assert.equal(summary.stores_verified, true, out);
    assert.ok((summary.minutes as number) < 5);
    assert.ok(existsSync(join(dir, "n0", "chain")), "--keep-data keeps the stores");
  });
});
