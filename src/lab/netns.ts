/**
 * The lab's hosts: one Linux network namespace per node, wired as two sites (bridges A and B joined by
 * one trunk veth, the link a partition takes down) for P2P traffic, plus a management bridge on which the
 * lab itself (in the root namespace) reaches every node's HTTP API. Addresses come from 198.18.0.0/15
 * (RFC 2544, benchmarking): data 198.18.<k>.0/24, management 198.19.<k>.0/24, where k is the lab's slot.
 * No namespace has a default route, so nothing a node sends can leave the lab's bridges.
 *
 * Every name starts with `jl<k>` and the slot is claimed by a pid file in /run/jbclab, so a lab killed
 * by SIGKILL is found and removed by the next one (`cleanStale`).
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { isAlive } from "../node/lifecycle.ts";

const run = promisify(execFile);
const STATE_DIR = "/run/jbclab";
export const MAX_SLOTS = 64;

/** The lab cannot run here (not root, no namespaces): main prints one line and exits with LAB_UNAVAILABLE. */
export class LabUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LabUnavailableError";
  }
}

/** Runs a command; rejects with its stderr. */
export async function sh(cmd: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run(cmd, args, { maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")}: ${(e.stderr ?? e.message).trim()}`);
  }
}

async function ip(...args: string[]): Promise<string> {
  return sh("ip", args);
}

/** One host of the lab. */
export interface Host {
  index: number;
  /** Namespace name. */
  ns: string;
  /** Address on the P2P (data) network. */
  dataIp: string;
  /** Address on the management network (the lab's API access). */
  mgmtIp: string;
  site: "a" | "b";
  /** Root-namespace end of the data veth (tc on it shapes traffic towards the host). */
  dataPeer: string;
}

/** Checks that this process can make namespaces; throws LabUnavailableError with the reason. */
export async function checkCapable(): Promise<void> {
  if (process.platform !== "linux") throw new LabUnavailableError("the lab needs Linux network namespaces");
  if (process.getuid?.() !== 0) throw new LabUnavailableError("the lab needs root (ip netns)");
  try {
    await sh("ip", ["-V"]);
    await sh("tc", ["-V"]);
  } catch {
    throw new LabUnavailableError("the lab needs iproute2 (ip and tc)");
  }
  const probe = `jlprobe${process.pid}`;
  try {
    await ip("netns", "add", probe);
  } catch (err) {
    throw new LabUnavailableError(`cannot create a network namespace: ${(err as Error).message}`);
  } finally {
    await ip("netns", "del", probe).catch(() => undefined);
  }
}

async function listNetns(): Promise<string[]> {
  const out = await ip("netns", "list").catch(() => "");
  return out
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter(Boolean);
}

async function listLinks(): Promise<string[]> {
  const out = await ip("-o", "link", "show").catch(() => "");
  return out
    .split("\n")
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1] ?? "")
    .filter(Boolean);
}

/** Kills every process in the namespace, then deletes it. */
async function removeNetns(ns: string): Promise<void> {
  const pids = (await ip("netns", "pids", ns).catch(() => "")).split(/\s+/).filter(Boolean).map(Number);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  await ip("netns", "del", ns).catch(() => undefined);
}

/** Removes everything named for slot `k`: namespaces (and their processes), links, temp dirs, pid file. */
export async function removeSlot(k: number): Promise<void> {
  const prefix = `jl${k}`;
  const owned = (name: string): boolean => name.startsWith(prefix) && /^\D/.test(name.slice(prefix.length));
  await Promise.all((await listNetns()).filter(owned).map(removeNetns));
  for (const link of (await listLinks()).filter(owned)) await ip("link", "del", link).catch(() => undefined);
  for (const d of readdirSync(tmpdir())) {
    if (d.startsWith(`jbclab-${k}-`)) rmSync(join(tmpdir(), d), { recursive: true, force: true });
  }
  rmSync(join(STATE_DIR, `${k}.pid`), { force: true });
}

/** Removes the remains of labs whose process is gone (killed by SIGKILL); returns their slots. */
export async function cleanStale(): Promise<number[]> {
  mkdirSync(STATE_DIR, { recursive: true });
  const stale: number[] = [];
  for (const f of readdirSync(STATE_DIR)) {
    const m = /^(\d+)\.pid$/.exec(f);
    if (!m) continue;
    const pid = Number(readFileSync(join(STATE_DIR, f), "utf8"));
    if (!isAlive(pid)) stale.push(Number(m[1]));
  }
  // Names without a pid file: a lab killed between claiming and writing, or a removed state dir.
  const claimed = new Set(readdirSync(STATE_DIR).map((f) => Number.parseInt(f, 10)));
  for (const name of [...(await listNetns()), ...(await listLinks())]) {
    const m = /^jl(\d+)\D/.exec(name);
    if (m && !claimed.has(Number(m[1])) && !stale.includes(Number(m[1]))) stale.push(Number(m[1]));
  }
  for (const k of stale) await removeSlot(k);
  return stale;
}

/** Claims the lowest free slot by creating its pid file exclusively. */
function claimSlot(): number {
  mkdirSync(STATE_DIR, { recursive: true });
  for (let k = 0; k < MAX_SLOTS; k++) {
    try {
      writeFileSync(join(STATE_DIR, `${k}.pid`), String(process.pid), { flag: "wx" });
      return k;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  throw new Error(`all ${MAX_SLOTS} lab slots are in use (see ${STATE_DIR})`);
}

/** The lab's topology. Create with `Topology.create`, always `destroy` (idempotent). */
export class Topology {
  readonly hosts: Host[] = [];
  readonly prefix: string;
  /** The lab's own address on the management network. */
  readonly mgmtIp: string;
  private destroyed = false;

  private constructor(readonly slot: number) {
    this.prefix = `jl${slot}`;
    this.mgmtIp = `198.19.${slot}.1`;
  }

  get trunk(): string {
    return `${this.prefix}ta`;
  }

  static async create(count: number): Promise<Topology> {
    if (count < 1 || count > 200) throw new RangeError("between 1 and 200 hosts");
    const t = new Topology(claimSlot());
    try {
      await t.build(count);
    } catch (err) {
      await t.destroy();
      throw err;
    }
    return t;
  }

  private async build(count: number): Promise<void> {
    const p = this.prefix;
    for (const br of ["ba", "bb", "bm"]) {
      await ip("link", "add", `${p}${br}`, "type", "bridge");
      await ip("link", "set", `${p}${br}`, "up");
    }
    // The trunk between the sites: a partition sets it down.
    await ip("link", "add", `${p}ta`, "type", "veth", "peer", "name", `${p}tb`);
    await ip("link", "set", `${p}ta`, "master", `${p}ba`, "up");
    await ip("link", "set", `${p}tb`, "master", `${p}bb`, "up");
    await ip("addr", "add", `${this.mgmtIp}/24`, "dev", `${p}bm`);
    const half = Math.ceil(count / 2);
    for (let i = 0; i < count; i++) {
      const ns = `${p}n${i}`;
      const site = i < half ? "a" : "b";
      const host: Host = {
        index: i,
        ns,
        dataIp: `198.18.${this.slot}.${10 + i}`,
        mgmtIp: `198.19.${this.slot}.${10 + i}`,
        site,
        dataPeer: `${p}d${i}`,
      };
      await ip("netns", "add", ns);
      await ip("-n", ns, "link", "set", "lo", "up");
      for (const [kind, bridge, addr] of [
        ["d", `${p}b${site}`, host.dataIp],
        ["m", `${p}bm`, host.mgmtIp],
      ] as const) {
        const outer = `${p}${kind}${i}`;
        const inner = kind === "d" ? "data0" : "mgmt0";
        await ip("link", "add", outer, "type", "veth", "peer", "name", `${p}x${kind}${i}`);
        await ip("link", "set", `${p}x${kind}${i}`, "netns", ns);
        await ip("-n", ns, "link", "set", `${p}x${kind}${i}`, "name", inner);
        await ip("-n", ns, "addr", "add", `${addr}/24`, "dev", inner);
        await ip("-n", ns, "link", "set", inner, "up");
        await ip("link", "set", outer, "master", bridge, "up");
      }
      this.hosts.push(host);
    }
  }

  /** Takes the trunk between site A and site B down (partition) or up (heal). */
  async setTrunk(up: boolean): Promise<void> {
    await ip("link", "set", this.trunk, up ? "up" : "down");
  }

  /**
   * Limits a host's data link to `mbit` in both directions with tbf (egress of the host's end and of
   * the bridge's end); `null` removes the limit.
   */
  async shape(host: Host, mbit: number | null): Promise<void> {
    const targets: [string[], string][] = [
      [["-n", host.ns], "data0"],
      [[], host.dataPeer],
    ];
    for (const [nsArgs, dev] of targets) {
      await sh("tc", [...nsArgs, "qdisc", "del", "dev", dev, "root"]).catch(() => undefined);
      if (mbit === null) continue;
      // burst: at least rate/HZ; 64 KiB keeps tbf accurate at 10 Mbit/s; latency bounds the queue.
      await sh("tc", [
        ...nsArgs,
        "qdisc",
        "add",
        "dev",
        dev,
        "root",
        "tbf",
        "rate",
        `${mbit}mbit`,
        "burst",
        "64kb",
        "latency",
        "100ms",
      ]);
    }
  }

  /** A fresh temporary directory, named for this lab so a stale cleanup finds it. */
  tempDir(name: string): string {
    const dir = join(tmpdir(), `jbclab-${this.slot}-${name}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  /** Removes every namespace (killing what runs in it), link, temp dir and the slot's pid file. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await removeSlot(this.slot);
  }

  /** Whether anything of this lab is left (for tests of the cleanup). */
  static async leftovers(slot: number): Promise<string[]> {
    const prefix = `jl${slot}`;
    const names = [...(await listNetns()), ...(await listLinks())].filter(
      (n) => n.startsWith(prefix) && /^\D/.test(n.slice(prefix.length)),
    );
    if (existsSync(join(STATE_DIR, `${slot}.pid`))) names.push(join(STATE_DIR, `${slot}.pid`));
    for (const d of readdirSync(tmpdir())) if (d.startsWith(`jbclab-${slot}-`)) names.push(join(tmpdir(), d));
    return names;
  }
}
