/**
 * What `jbc headers` and `jbc record verify` share as light clients (docs/light.md): the state file on
 * disk (read, checked, written atomically), syncing from several nodes and naming each one's verdict, the
 * trusted checkpoint's check, and how work is printed.
 */
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { getNetwork, type NetworkParams } from "../../consensus/params.ts";
import {
  type HeaderNode,
  HttpHeaderSource,
  LightClient,
  type LightClientOptions,
  LightStateError,
  loadLightState,
  reorgSince,
  type SyncReport,
  saveLightState,
  syncSource,
} from "../../light/index.ts";
import { writeFileAtomic } from "../../mempool/persist.ts";
import { useNativeCrypto } from "../../node/crypto.ts";
import { errorMessage } from "../../util/errors.ts";

/** Exit codes of the light-client commands (beyond 0, and 2 for a bad command line). */
export const LIGHT_EXIT = {
  /** Not valid, not confirmed, a source refused, or a file that cannot be read. */
  FAILED: 1,
  /** The trusted checkpoint of the state is not on the best chain: history was rewritten. */
  REWRITE: 6,
} as const;

/** A failure the command reports in one line and exits 1 for. */
export class CliFailure extends Error {
  override readonly name = "CliFailure";
}

/** Parses a JSON file, or says in one line why it cannot. */
export async function readJson(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new CliFailure(`cannot read ${file}: ${errorMessage(err)}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new CliFailure(`${file} is not ${what}: not JSON`);
  }
}

/**
 * The network to use: `--network` when given on the command line, else the one a file names, else the
 * option's default (devnet).
 */
export function networkFor(cmd: Command, fromFile: unknown): NetworkParams {
  const o = cmd.opts<{ network: NetworkParams }>();
  if (cmd.getOptionValueSource("network") !== "default" || typeof fromFile !== "string") return o.network;
  try {
    return getNetwork(fromFile);
  } catch {
    return o.network;
  }
}

/**
 * The state file as a client, or a new client from genesis when the file does not exist yet (on `params`
 * when given, else the command's network).
 */
export async function openState(
  file: string,
  cmd: Command,
  opts: LightClientOptions,
  params?: NetworkParams,
): Promise<{ client: LightClient; created: boolean; params: NetworkParams }> {
  let text: string | undefined;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT")
      throw new CliFailure(`cannot read ${file}: ${errorMessage(err)}`);
  }
  if (text === undefined) {
    const p = params ?? cmd.opts<{ network: NetworkParams }>().network;
    return { client: new LightClient(p, opts), created: true, params: p };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CliFailure(`${file} is not a light client state: not JSON`);
  }
  const p = networkFor(cmd, (value as { network?: unknown } | null)?.network);
  try {
    return { client: loadLightState(p, value), created: false, params: p };
  } catch (err) {
    if (err instanceof LightStateError) throw new CliFailure(`${file}: ${err.message}`);
    throw err;
  }
}

/** Writes the state so that a crash leaves the old file or the new one, never half of one. */
export async function saveState(file: string, client: LightClient): Promise<number> {
  const bytes = new TextEncoder().encode(`${JSON.stringify(saveLightState(client))}\n`);
  await writeFileAtomic(file, bytes);
  return bytes.length;
}

/** A work figure: "65,537 hashes (2^16.0)". */
export function formatWork(work: bigint): string {
  const n = Number(work);
  const text = n < 1e7 ? Math.round(n).toLocaleString("en-US") : n.toExponential(2).replace("e+", "e");
  return `${text} hashes (2^${n > 0 ? Math.log2(n).toFixed(1) : "0"})`;
}

/** Hours as people read them: "about 1.4 hours", "about 0.02 hours (1.2 minutes)". */
export function formatHours(hours: number): string {
  if (hours >= 10) return `about ${Math.round(hours)} hours`;
  if (hours >= 1) return `about ${hours.toFixed(1)} hours`;
  const minutes = hours * 60;
  const small = minutes >= 1 ? `${minutes.toFixed(1)} minutes` : `${(minutes * 60).toFixed(1)} s`;
  return `about ${hours.toPrecision(2)} hours (${small})`;
}

/** Syncs the client from every URL in turn (the faster SHA-256 first), returning each report. */
export async function syncUrls(client: LightClient, urls: readonly string[]): Promise<SyncReport[]> {
  useNativeCrypto();
  const reports: SyncReport[] = [];
  for (const url of urls) reports.push(await syncSource(client, new HttpHeaderSource(url)));
  return reports;
}

const short = (hash: string): string => `${hash.slice(0, 16)}…`;

/**
 * Prints what each source did and returns how many were refused (a check failed, or less work than
 * claimed) and how many answered at all.
 */
export function printVerdicts(
  client: LightClient,
  reports: readonly SyncReport[],
  log: (line: string) => void,
): { refused: number; answered: number } {
  let refused = 0;
  let answered = 0;
  for (const r of reports) {
    if (r.error !== undefined && !r.fault) {
      log(`node ${r.source}: unreachable or no usable answer: ${r.error}`);
      continue;
    }
    answered++;
    if (r.diverged && !r.fault) {
      const d = r.diverged;
      const theirs =
        "tip" in d.theirs
          ? `its chain, checked from there, ends at height ${d.theirs.tip.height} with chain work ${d.theirs.chainWork}`
          : `its chain from there could not be checked: ${"error" in d.theirs ? d.theirs.error : ""}`;
      log(
        `node ${r.source}: DIVERGES below the headers kept: it does not hold ${short(d.base.hash)} at height ${d.base.height}; it agrees up to height ${d.agreesAt.height} and differs at ${d.differsAt.height}; ${theirs} (the best chain has ${client.best.chainWork})`,
      );
      continue;
    }
    const v = client.verdict(r.source);
    switch (v.status) {
      case "faulty":
        refused++;
        log(
          `node ${r.source}: REFUSED (${v.fault.code}${v.fault.height !== undefined ? ` at height ${v.fault.height}` : ""}): ${v.fault.reason}`,
        );
        break;
      case "agrees":
        log(
          `node ${r.source}: agrees: tip ${v.tip.height} ${short(v.tip.hash)}${v.behind ? `, ${v.behind} behind the best tip` : ""}`,
        );
        break;
      case "disagrees":
        log(
          `node ${r.source}: DISAGREES: its tip ${v.tip.height} ${short(v.tip.hash)} is on a branch off height ${v.fork.height}: ${formatWork(v.branchWork)} since the fork, against ${formatWork(v.bestWork)} on the best chain`,
        );
        break;
      case "behind-window":
        log(`node ${r.source}: far behind: its tip ${v.tip.height} is below the headers this client keeps`);
        break;
      case "silent":
        log(`node ${r.source}: served no header`);
        break;
    }
  }
  return { refused, answered };
}

/**
 * Reports the reorg since `oldTip` and the trusted checkpoint against the best chain: "rewrite" when the
 * trusted header is not on it or a source's checked chain without it has more work; "deep" when a heavier
 * checked chain holds the trusted header but forks below the window (this state cannot follow it).
 */
export function printTrust(
  client: LightClient,
  oldTip: HeaderNode,
  reports: readonly SyncReport[],
  log: (line: string) => void,
): "ok" | "rewrite" | "deep" {
  const reorg = reorgSince(client, oldTip);
  const trust = client.trustStatus();
  let deep = false;
  if (trust.status === "rewritten") {
    log(
      `REWRITE: the trusted checkpoint at height ${trust.trusted.height} (${short(trust.trusted.hash)}, chain work ${trust.trusted.chainWork}) is not on the best chain: it forks at height ${trust.fork.height}, ${trust.depth} header(s) of the trusted history replaced (${formatWork(trust.workLeft)}) by ${formatWork(trust.workJoined)}`,
    );
    return "rewrite";
  }
  for (const r of reports) {
    const d = r.diverged;
    if (!d || !("tip" in d.theirs) || d.theirs.chainWork <= client.best.chainWork) continue;
    const t = client.trusted;
    if (t && d.agreesAt.height >= t.height) {
      // It holds the trusted header: a reorg deeper than the window, not a rewrite of what was trusted.
      deep = true;
      log(
        `DEEP REORG: ${r.source} serves a checked chain with more work (${d.theirs.chainWork} against ${client.best.chainWork}) that leaves this one between heights ${d.agreesAt.height} and ${d.differsAt.height}, above the trusted checkpoint but below the ${client.window} headers kept: start a state with a larger --window to follow it`,
      );
      continue;
    }
    const cw = d.agreesAt.chainWork;
    log(
      `REWRITE: ${r.source} serves a checked chain with more work (${d.theirs.chainWork} against ${client.best.chainWork}) that leaves this history between heights ${d.agreesAt.height} and ${d.differsAt.height}, below the trusted checkpoint: at least ${client.best.height - d.differsAt.height + 1} header(s) replaced (${formatWork(client.best.chainWork - cw)}) by ${formatWork(d.theirs.chainWork - cw)}`,
    );
    return "rewrite";
  }
  if (reorg) {
    const t = client.trusted;
    log(
      `reorg: ${reorg.depth} header(s) above height ${reorg.fork.height} replaced (${formatWork(reorg.workLeft)} by ${formatWork(reorg.workJoined)}), shallower than the trusted checkpoint${t ? ` at height ${t.height}` : ""} (${client.trustDepth} confirmations)`,
    );
  }
  return deep ? "deep" : "ok";
}

/** Prints the best chain in one line. */
export function printBest(client: LightClient, log: (line: string) => void): void {
  const b = client.best;
  log(
    `best chain: height ${b.height} ${short(b.hash)}, chain work ${b.chainWork} (headers kept from height ${client.base.height})`,
  );
}
