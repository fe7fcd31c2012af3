import { stat } from "node:fs/promises";
import { Command } from "commander";
import { DEFAULT_TRUST_DEPTH, DEFAULT_WINDOW } from "../../light/index.ts";
import { errorMessage } from "../../util/errors.ts";
import { networkOption } from "../network-option.ts";
import { collect, intArg } from "../options.ts";
import {
  CliFailure,
  LIGHT_EXIT,
  openState,
  printBest,
  printTrust,
  printVerdicts,
  saveState,
  syncUrls,
} from "./light.ts";

interface SyncOptions {
  url: string[];
  state: string;
  confirmations: number;
  window: number;
  acceptRewrite: boolean;
}

/**
 * Syncs the state from every node, prints each node's verdict, the reorg or rewrite, and saves the state
 * (not after a rewrite unless told to). Returns the exit code.
 */
async function sync(o: SyncOptions, cmd: Command): Promise<number> {
  const log = (line: string): void => console.log(line);
  const { client, created } = await openState(o.state, cmd, {
    window: Math.max(o.window, o.confirmations + 1),
    trustDepth: o.confirmations,
  });
  if (created) log(`new light client state in ${o.state} (${client.params.name}, from genesis)`);
  const oldTip = client.best;
  const started = performance.now();
  const reports = await syncUrls(client, o.url);
  const seconds = (performance.now() - started) / 1000;
  const added = reports.reduce((n, r) => n + r.added, 0);
  const { refused, answered } = printVerdicts(client, reports, log);
  printBest(client, log);
  log(
    `checked ${added} new header(s) in ${seconds.toFixed(2)} s (${Math.round(added / Math.max(seconds, 1e-6))} headers/s)`,
  );
  const trust = printTrust(client, oldTip, reports, log);
  const rewrite = trust === "rewrite";
  if (answered === 0) {
    console.error("jbc headers sync: no node answered; the state is unchanged");
    return LIGHT_EXIT.FAILED;
  }
  if (rewrite && !o.acceptRewrite) {
    log(`the state is not updated (--accept-rewrite takes the new history as the trusted one)`);
    return LIGHT_EXIT.REWRITE;
  }
  if (rewrite) {
    const n = client.mainAt(client.best.height - client.trustDepth + 1);
    if (n) client.setTrusted({ height: n.height, hash: n.hash, chainWork: n.chainWork });
  } else client.advanceTrusted();
  const bytes = await saveState(o.state, client);
  const t = client.trusted;
  log(
    `state saved: ${o.state}, ${bytes} bytes; trusted checkpoint ${t ? `at height ${t.height}` : "none yet"} (${client.trustDepth} confirmations)`,
  );
  return refused > 0 || trust === "deep" ? LIGHT_EXIT.FAILED : 0;
}

/** Prints what a state file holds. */
async function show(o: { state: string }, cmd: Command): Promise<void> {
  const { client, created } = await openState(o.state, cmd, {});
  if (created) throw new CliFailure(`no state in ${o.state} (make one with jbc headers sync --state)`);
  const { size } = await stat(o.state);
  const b = client.best;
  const t = client.trusted;
  console.log(`network: ${client.params.name}`);
  console.log(`tip: height ${b.height} ${b.hash}, chain work ${b.chainWork}`);
  console.log(
    `headers kept: ${b.height - client.base.height + 1}, from height ${client.base.height} (window ${client.window})`,
  );
  console.log(
    `trusted checkpoint: ${t ? `height ${t.height} ${t.hash}, chain work ${t.chainWork}` : "none"}`,
  );
  console.log(
    `checkpoints: ${client.checkpoints.length} (at most ${client.maxCheckpoints}, every ${client.checkpointEvery} heights, older ones thinned)`,
  );
  console.log(`file: ${size} bytes`);
}

function fail(cmd: string, err: unknown): void {
  console.error(`jbc headers ${cmd}: ${errorMessage(err)}`);
  process.exitCode = LIGHT_EXIT.FAILED;
}

/** `jbc headers ...`: a light client's header chain, checked here, kept in a state file. */
export function headersCommand(): Command {
  const headers = new Command("headers").description(
    "check the chain's headers from several nodes as a light client, keeping its state in a file",
  );
  headers
    .command("sync")
    .description(
      "fetch headers from each node, check them, keep the most-work chain and name the nodes that lie",
    )
    .requiredOption("--url <url>", "a node's HTTP API (repeat for several nodes)", collect)
    .requiredOption("--state <file>", "the light client's state file (created from genesis if missing)")
    .addOption(networkOption())
    .option(
      "--confirmations <n>",
      "trust the best chain's header with this many confirmations (a later chain without it is a rewrite)",
      intArg(1, 100_000),
      DEFAULT_TRUST_DEPTH,
    )
    .option("--window <n>", "headers kept below the tip in the state", intArg(16, 1_000_000), DEFAULT_WINDOW)
    .option("--accept-rewrite", "after a rewrite, save the new history and trust it", false)
    .action(async (o: SyncOptions, cmd: Command) => {
      try {
        process.exitCode = await sync(o, cmd);
      } catch (err) {
        fail("sync", err);
      }
    });
  headers
    .command("show")
    .description("print what a light client's state file holds")
    .requiredOption("--state <file>", "the state file")
    .addOption(networkOption())
    .action(async (o: { state: string }, cmd: Command) => {
      await show(o, cmd).catch((err: unknown) => fail("show", err));
    });
  return headers;
}
