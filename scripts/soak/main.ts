/**
 * The soak (issue 17, item 8): `npm run soak -- --minutes N` runs a devnet of real `jbc node` processes
 * (scripts/soak/devnet.ts) under every attack of issue 17, each attacker a process of its own
 * (scripts/soak/attacker.ts), while an honest client submits records and a prober times `/api/health`
 * (probes.ts). Every few seconds each node is sampled (sampler.ts); the series goes to the run directory
 * as CSV and JSON lines while it runs, and at the end, after the nodes are stopped and every store is
 * re-checked by `jbc chain verify`, the summary (report.ts) and an SVG plot (src/sim/plot.ts) are
 * written. The last line on stdout is the summary's JSON object. Ctrl-C (or SIGTERM) stops early and
 * still verifies and reports; a second one kills everything at once and reports what it has.
 *
 *   npm run soak -- --minutes 30
 *   npm run soak -- --help
 */
import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, closeSync, mkdirSync, openSync, rmSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { renderSvg } from "../../src/sim/plot.ts";
import type { NodeProcess } from "../../test/helpers/spawn.ts";
import type { AttackConfig, SoakNode } from "./attacks/types.ts";
import { soakNode, startDevnet, type Verified, verifyStore } from "./devnet.ts";
import { call, sleep } from "./http.ts";
import { parseOptions, type SoakOptions } from "./options.ts";
import { HealthProbe, HonestClient } from "./probes.ts";
import { soakSpec, summarize } from "./report.ts";
import { csvLine, SAMPLE_FIELDS, type Sample, sampleNode } from "./sampler.ts";

const ATTACKER = new URL("./attacker.ts", import.meta.url).pathname;

interface Attacker {
  proc: ChildProcess;
  counts: Record<string, number>;
  exited: Promise<void>;
}

const say = (line: string): void => void process.stdout.write(`${line}\n`);

/**
 * The chain work the honest chain must have before the block attacker starts: all the attacker's fork can
 * weigh (genesis, two blocks at the genesis bits, eleven at the limit) plus one block at the genesis bits.
 * A devnet lighter than the fork would rightly take it as its best chain and go on mining it at the
 * limit, twelve days behind schedule, a block every few hundred milliseconds: a soak of something else.
 * A devnet a few blocks old is past it.
 */
const WARM_WORK = 4n * 2n ** 24n + 11n * 2n ** 16n;

/** Resolves once `node`'s chain has WARM_WORK (or `stopped`), saying so every 15 s meanwhile. */
async function outweighFork(node: SoakNode, stopped: () => boolean): Promise<void> {
  let said = 0;
  while (!stopped()) {
    const r = await call(node.url, "/api/status", { keep: 1 << 16 });
    const work = r.status === 200 ? BigInt((JSON.parse(r.text) as { totalWork: string }).totalWork) : 0n;
    if (work >= WARM_WORK) return;
    if (Date.now() - said > 15_000) {
      said = Date.now();
      say(
        `soak: waiting for the honest chain to outweigh the attacker's fork (work ${work} of ${WARM_WORK})`,
      );
    }
    await sleep(1000);
  }
}

/** Whether block 1 of `node`'s main chain is an honest node's: the attacker's fork never became best. */
async function honestChain(node: SoakNode | undefined): Promise<boolean | null> {
  if (!node) return null;
  const r = await call(node.url, "/api/blocks?limit=1&before=2", { keep: 1 << 16, timeoutMs: 30_000 });
  if (r.status !== 200) return null;
  const miner = (JSON.parse(r.text) as { blocks: Array<{ miner: string }> }).blocks[0]?.miner;
  return miner !== undefined && /^n\d+$/.test(miner);
}

class Soak {
  readonly nodes: NodeProcess[] = [];
  readonly attackers = new Map<string, Attacker>();
  readonly samples: Sample[] = [];
  readonly health: HealthProbe;
  honest: HonestClient | undefined;
  /** Whether the main chain stayed the honest nodes' (checked at the end; null: not known). */
  honestChain: boolean | null = null;
  /** The 1-minute load average when the attack began. */
  loadStart = Number(loadavg()[0]!.toFixed(1));
  private t0 = performance.now();
  private sampling: Promise<void> = Promise.resolve();
  private readonly csv: string;

  constructor(readonly o: SoakOptions) {
    this.health = new HealthProbe(o.healthMs, o.healthTimeoutMs);
    mkdirSync(join(o.dir, "attackers"), { recursive: true });
    this.csv = join(o.dir, "samples.csv");
    writeFileSync(this.csv, `${SAMPLE_FIELDS.join(",")}\n`);
    writeFileSync(join(o.dir, "options.json"), `${JSON.stringify(o, null, 2)}\n`);
  }

  /** Seconds since the attack began. */
  elapsed(): number {
    return (performance.now() - this.t0) / 1000;
  }

  /** Starts the nodes, then the attackers, the honest client and the prober; the clock starts here. */
  async start(stopped: () => boolean): Promise<void> {
    say(`soak: starting ${this.o.nodes} node(s) in ${this.o.dir}`);
    await startDevnet(
      { dir: this.o.dir, nodes: this.o.nodes, miners: this.o.miners, threads: this.o.threads },
      (n) => this.nodes.push(n),
    );
    if (stopped()) return;
    const nodes = this.nodes.map(soakNode);
    if (this.o.miners > 0 && this.o.attackers.includes("blocks")) await outweighFork(nodes[0]!, stopped);
    if (stopped()) return;
    const cfg: AttackConfig = {
      nodes,
      blockKb: this.o.blockKb,
      blockRate: this.o.blockRate,
      floodRps: this.o.floodRps,
      readers: this.o.readers,
      readPauseMs: this.o.readPauseMs,
    };
    for (const kind of this.o.attackers) this.spawnAttacker(kind, cfg);
    this.honest = new HonestClient(nodes, this.o.honestMs);
    this.honest.start();
    for (const n of nodes) this.health.watch(n);
    // Which processes are the soak's: for a look with ps, and for the test that none outlives it.
    const pids = {
      soak: process.pid,
      nodes: Object.fromEntries(this.nodes.map((n) => [n.name, n.proc.pid])),
      attackers: Object.fromEntries([...this.attackers].map(([k, a]) => [k, a.proc.pid])),
    };
    writeFileSync(join(this.o.dir, "pids.json"), `${JSON.stringify(pids, null, 2)}\n`);
    this.t0 = performance.now();
    this.loadStart = Number(loadavg()[0]!.toFixed(1));
    say(
      `soak: ${nodes.map((n) => `${n.name} ${n.url}`).join(", ")}; attackers: ${this.o.attackers.join(", ") || "none"}`,
    );
  }

  private spawnAttacker(kind: string, cfg: AttackConfig): void {
    const log = openSync(join(this.o.dir, "attackers", `${kind}.log`), "a");
    // Own session: a terminal's Ctrl-C reaches only the soak, which stops the attackers itself; the IPC
    // channel carries their counters, and its closing stops them if the soak dies.
    const proc = spawn(process.execPath, [...process.execArgv, ATTACKER, kind, JSON.stringify(cfg)], {
      detached: true,
      stdio: ["ignore", log, log, "ipc"],
    });
    closeSync(log);
    const a: Attacker = { proc, counts: {}, exited: new Promise((r) => proc.once("exit", () => r())) };
    proc.on("message", (m: { counts?: Record<string, number> }) => {
      if (m.counts) a.counts = m.counts;
    });
    this.attackers.set(kind, a);
  }

  /** Samples every node (one round), appends the rows to the run's files, prints a line now and then. */
  async sampleAll(): Promise<void> {
    const t = this.elapsed();
    const rows = await Promise.all(this.nodes.map((n) => sampleNode(n, t, this.health)));
    for (const s of rows) {
      this.samples.push(s);
      appendFileSync(this.csv, `${csvLine(s)}\n`);
      appendFileSync(join(this.o.dir, "samples.jsonl"), `${JSON.stringify(s)}\n`);
    }
    const min = (t / 60).toFixed(1);
    const per = rows.map(
      (s) =>
        `${s.node} h=${s.height ?? "?"} rss=${s.rss_mb ?? "?"} heap=${s.heap_mb ?? "?"} disk=${s.disk_mb} ` +
        `loop99=${s.eventloop_p99_ms ?? "?"} health99=${s.health_p99_ms ?? "?"}`,
    );
    say(`soak ${min} min: ${per.join(" | ")} | health failed ${this.health.failed}`);
  }

  /** Samples every `sample` seconds until `until` seconds have passed or `signal` is aborted. */
  async run(until: number, signal: AbortSignal): Promise<void> {
    while (!signal.aborted && this.elapsed() < until) {
      const next = Math.min(until, (Math.floor(this.elapsed() / this.o.sample) + 1) * this.o.sample);
      await sleep((next - this.elapsed()) * 1000, signal);
      if (signal.aborted) break;
      this.sampling = this.sampleAll();
      await this.sampling;
    }
  }

  /** Attack counters by attacker, as last reported. */
  counts(): Record<string, Record<string, number>> {
    return Object.fromEntries([...this.attackers].map(([k, a]) => [k, a.counts]));
  }

  /** Asks the attackers to stop; SIGKILL for any still running after `graceMs`. */
  async stopAttackers(graceMs: number): Promise<void> {
    const all = [...this.attackers.values()];
    for (const a of all) if (a.proc.connected) a.proc.send("stop");
    const timer = setTimeout(() => {
      for (const a of all) if (a.proc.exitCode === null && a.proc.signalCode === null) a.proc.kill("SIGKILL");
    }, graceMs);
    await Promise.all(all.map((a) => a.exited));
    clearTimeout(timer);
  }

  /** Kills every process the soak started, at once (a second Ctrl-C, or a failure). */
  killAll(): void {
    for (const a of this.attackers.values()) if (a.proc.exitCode === null) a.proc.kill("SIGKILL");
    for (const n of this.nodes) if (n.proc.exitCode === null) n.proc.kill("SIGKILL");
  }

  /** Stops everything in order: attackers, clients, nodes; then verifies every store. */
  async finish(): Promise<Verified[]> {
    await this.sampling;
    await this.stopAttackers(10_000);
    await Promise.all([this.honest?.stop(), this.health.stop()]);
    this.honestChain = await honestChain(this.nodes[0] && soakNode(this.nodes[0]));
    say(`soak: stopping ${this.nodes.length} node(s)`);
    await Promise.all(this.nodes.map((n) => n.stop(30_000)));
    const verified: Verified[] = [];
    for (const n of this.nodes) {
      const v = await verifyStore(n);
      say(`soak: ${n.name} store ${v.ok ? "verified" : "NOT verified"}: ${v.line}`);
      verified.push(v);
    }
    if (!this.o.keepData)
      for (const n of this.nodes) rmSync(join(n.datadir, "chain"), { recursive: true, force: true });
    return verified;
  }
}

/** The sum of the counters whose label starts with `prefix` (byte counters left out). */
function total(counts: Record<string, number>, prefix = ""): number {
  let n = 0;
  for (const [label, v] of Object.entries(counts))
    if (label.startsWith(prefix) && !label.endsWith(" bytes")) n += v;
  return n;
}

/** Writes summary.json, attacks.json and soak.svg; prints the figures, the summary's JSON line last. */
async function report(soak: Soak, seconds: number, verified: Verified[] | undefined, stop?: string) {
  const counts = soak.counts();
  const all: Record<string, number> = Object.assign({}, ...Object.values(counts));
  const honest = soak.honest?.stats();
  const plot = join(soak.o.dir, "soak.svg");
  const summary = summarize({
    samples: soak.samples,
    seconds,
    health: { all: soak.health.all, failed: soak.health.failed },
    storesVerified: !!verified && verified.length > 0 && verified.every((v) => v.ok),
    crossSiteAccepted: all["cross-site ACCEPTED"] ?? 0,
    honestChain: soak.honestChain === true,
    inputsFailed: all["inputs FAILED"] ?? 0,
    extra: {
      nodes: soak.nodes.length,
      interrupted: stop ?? null,
      attacks: Object.fromEntries(soak.o.attackers.map((k) => [k, total(counts[k] ?? {})])),
      cross_site_refused: all["cross-site refused"] ?? 0,
      cross_site_accepted: all["cross-site ACCEPTED"] ?? 0,
      inputs_failed: all["inputs FAILED"] ?? 0,
      honest_submitted: honest?.submitted ?? 0,
      honest_confirmed: honest?.confirmed ?? 0,
      honest_late: honest?.late ?? 0,
      honest_chain: soak.honestChain,
      // The machine's own load: figures from a busy machine measure it as much as the nodes.
      load_1min_start: soak.loadStart,
      load_1min_end: Number(loadavg()[0]!.toFixed(1)),
      run_dir: soak.o.dir,
    },
  });
  writeFileSync(join(soak.o.dir, "attacks.json"), `${JSON.stringify({ counts, honest }, null, 2)}\n`);
  writeFileSync(join(soak.o.dir, "summary.json"), `${JSON.stringify({ summary, verified }, null, 2)}\n`);
  try {
    const title = `jbc soak: ${soak.nodes.length} devnet nodes under issue 17's attacks, ${summary.minutes} min`;
    writeFileSync(plot, await renderSvg(soakSpec(soak.samples, title)));
  } catch (err) {
    say(`soak: no plot (${err instanceof Error ? err.message : String(err)})`);
  }
  say(`soak: attacks ${JSON.stringify(summary.attacks)}; honest ${JSON.stringify(honest ?? {})}`);
  say(`soak: windows compared: ${summary.windows}; series ${join(soak.o.dir, "samples.csv")}, plot ${plot}`);
  say(JSON.stringify(summary));
  return summary;
}

/** Runs the soak; exit 0 when the summary is ok, 1 when not, 130 after a second signal. */
async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const soak = new Soak(o);
  const ctl = new AbortController();
  let signals = 0;
  let stop: string | undefined;
  let seconds = 0;
  const onSignal = (sig: string): void => {
    if (++signals === 1) {
      stop = sig;
      say(`soak: ${sig}: stopping, then verifying the stores (${sig} again kills everything at once)`);
      ctl.abort();
      return;
    }
    soak.killAll();
    void report(soak, seconds || soak.elapsed(), undefined, sig).finally(() => process.exit(130));
  };
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, () => onSignal(sig));
  let verified: Verified[] | undefined;
  try {
    await soak.start(() => ctl.signal.aborted);
    await soak.run(o.seconds, ctl.signal);
    seconds = soak.elapsed();
    verified = await soak.finish();
  } catch (err) {
    say(`soak: failed: ${err instanceof Error ? err.message : String(err)}`);
    seconds ||= soak.elapsed();
    soak.killAll();
    await sleep(500);
  }
  const summary = await report(soak, seconds, verified, stop);
  process.exit(summary.ok ? 0 : 1);
}

await main();
