/** `npm run soak`'s command line (commander: `--help` lists it all). */
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Command, InvalidArgumentError } from "commander";

/** The attackers, each a process of its own (scripts/soak/attacker.ts). */
export const ATTACKER_KINDS = ["blocks", "flood", "reads", "cross-site", "inputs"] as const;

export interface SoakOptions {
  /** Which attackers run (all by default; none for a baseline). */
  attackers: string[];
  /** How long the attack runs, in seconds (from --minutes or --seconds). */
  seconds: number;
  dir: string;
  nodes: number;
  miners: number;
  threads: number;
  sample: number;
  blockKb: number;
  blockRate: number;
  floodRps: number;
  readers: number;
  readPauseMs: number;
  honestMs: number;
  healthMs: number;
  healthTimeoutMs: number;
  keepData: boolean;
}

/** A number in [min, max] for commander. */
const num =
  (min: number, max: number) =>
  (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`not in ${min}..${max}`);
    return n;
  };
const int = (min: number, max: number) => (v: string) => {
  const n = num(min, max)(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError("not an integer");
  return n;
};

/** A comma-separated list of attacker names ("none": the empty list). */
function attackerList(v: string): string[] {
  if (v === "none") return [];
  const names = v.split(",").filter(Boolean);
  for (const n of names)
    if (!(ATTACKER_KINDS as readonly string[]).includes(n))
      throw new InvalidArgumentError(`no attacker ${n}`);
  return names;
}

/** Parses the soak's arguments (`argv` without node and the script); exits on --help or a bad value. */
export function parseOptions(argv: string[]): SoakOptions {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const o = new Command("npm run soak --")
    .description(
      "a devnet of real `jbc node` processes under issue 17's attacks plus honest record traffic; samples " +
        "RSS, heap, disk, event-loop p99 and /api/health p99, verifies every store at the end, and prints a " +
        "summary whose last line is one JSON object (docs/operations.md, 'Soak')",
    )
    .option("--minutes <n>", "how long to run (fractions allowed)", num(0.05, 7 * 24 * 60))
    .option("--seconds <n>", "how long to run, in seconds (instead of --minutes)", num(3, 7 * 24 * 3600))
    .option(
      "--dir <dir>",
      "run directory: samples, plot, summary, node data and logs (default: a new one in the temp dir)",
    )
    .option("--nodes <n>", "jbc node processes", int(1, 8), 2)
    .option("--miners <n>", "how many of them mine (the first ones)", int(0, 8), 1)
    .option("--threads <n>", "mining threads per miner", int(1, 64), 1)
    .option(
      "--attackers <list>",
      `attackers to run, comma-separated, or "none" for a baseline: ${ATTACKER_KINDS.join(", ")}`,
      attackerList,
      [...ATTACKER_KINDS],
    )
    .option("--sample <s>", "seconds between samples", num(1, 600), 5)
    .option("--block-kb <kb>", "body size of each attack block (side, too-new, orphan)", int(1, 960), 64)
    .option("--block-rate <n>", "attack blocks a second", num(0.01, 100), 1)
    .option("--flood-rps <n>", "record submissions a second of the mempool flooder", num(0.1, 1000), 20)
    .option("--readers <n>", "concurrent heavy readers (block view, /blockchain.json)", int(0, 64), 8)
    .option("--read-pause-ms <ms>", "pause between one reader's requests", int(0, 600_000), 1000)
    .option("--honest-ms <ms>", "ms between the honest client's records", int(100, 600_000), 2000)
    .option("--health-ms <ms>", "ms between health checks of a node", int(20, 60_000), 250)
    .option(
      "--health-timeout-ms <ms>",
      "a health check with no 200 within this fails",
      int(100, 600_000),
      5000,
    )
    .option("--keep-data", "keep the nodes' stores after verifying them (else they are deleted)", false)
    .addHelpText(
      "after",
      "\nExample: npm run soak -- --minutes 30    (Ctrl-C stops early, still verifies and prints the summary)",
    )
    .parse(argv, { from: "user" })
    .opts<Omit<SoakOptions, "seconds" | "dir"> & { minutes?: number; seconds?: number; dir?: string }>();
  const seconds = o.seconds ?? (o.minutes ?? 10) * 60;
  const dir = resolve(o.dir || join(tmpdir(), `jbc-soak-${stamp}`));
  return { ...o, seconds, dir, miners: Math.min(o.miners, o.nodes) };
}
