/**
 * `jbc mine`: the original's mine.py. Mines on the local data directory with no networking: every block
 * found goes through the chain's processBlock and is printed (height, hash, nonce, time taken), with the
 * hash rate every few seconds. `--blocks N` stops after N blocks joined the main chain.
 */
import { resolve } from "node:path";
import { Command, Option } from "commander";
import { getNetwork, type NetworkParams } from "../../consensus/params.ts";
import { KERNEL_NAMES, type KernelChoice } from "../../mining/kernels/index.ts";
import type { BlockFound, HashRateStats } from "../../mining/miner.ts";
import { chainMiner } from "../../node/adapters.ts";
import { openChainStore } from "../../node/node.ts";
import { defaultDatadir } from "../../node/paths.ts";
import { formatHashRate } from "../../util/format.ts";
import { createLogger } from "../../util/logger.ts";
import { intArg, logLevelArg, minerNameArg } from "../options.ts";

/** The node's default HTTP port: `jbc mine` defaults to the same data directory as `jbc node`. */
const DEFAULT_NODE_PORT = 5000;

export interface MineOptions {
  network: string;
  datadir?: string;
  blocks?: number;
  threads?: number;
  kernel: KernelChoice;
  miner: string;
  statsInterval: number;
  logLevel: string;
}

function blockLine(b: BlockFound): string {
  const took = `${(b.elapsedMs / 1000).toFixed(3)} s`;
  const base = `block ${b.height} ${b.hash} nonce ${b.nonce} extra-nonce ${b.extraNonce} in ${took}`;
  if (b.result.status === "main") return base;
  if (b.result.status === "rejected") return `${base} REJECTED: ${b.result.reason}`;
  return `${base} (${b.result.status})`;
}

function statsLine(s: HashRateStats): string {
  const per = s.perThread.map((r) => (r / 1e6).toFixed(2)).join(", ");
  return `hash rate ${formatHashRate(s.total)} (${s.kernel}, per thread MH/s: ${per})`;
}

/** Runs the mine command until --blocks is reached or SIGINT/SIGTERM. */
export async function runMine(opts: MineOptions): Promise<void> {
  const params: NetworkParams = getNetwork(opts.network);
  const datadir = opts.datadir ? resolve(opts.datadir) : defaultDatadir(params.name, DEFAULT_NODE_PORT);
  const logger = createLogger({ level: opts.logLevel, name: "mine" });
  const { store, chain } = await openChainStore({ params, datadir, logger });
  const miner = chainMiner(chain, {
    minerName: opts.miner,
    kernel: opts.kernel,
    ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
    statsIntervalMs: opts.statsInterval,
    logger,
  });

  const started = performance.now();
  let accepted = 0;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await miner.stop();
      await chain.close();
      await store.close();
    })();
    return stopping;
  };
  const done = new Promise<void>((resolveDone, reject) => {
    miner.on("block", (b) => {
      console.log(blockLine(b));
      if (b.result.status === "main") accepted++;
      if (opts.blocks !== undefined && accepted >= opts.blocks) stop().then(resolveDone, reject);
    });
    miner.on("stats", (s) => console.log(statsLine(s)));
    miner.on("error", (err) => {
      console.error(`mining error: ${err.message}`);
      stop().then(() => reject(err), reject);
    });
    const onSignal = (): void => {
      stop().then(resolveDone, reject);
    };
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
  });

  console.log(`jbc mine: ${params.name}, datadir ${datadir}, tip ${chain.height} ${chain.tip.hash}`);
  await miner.start();
  console.log(`mining with the ${miner.kernel} kernel on ${miner.threads} thread(s) as "${opts.miner}"`);
  await done;
  const seconds = (performance.now() - started) / 1000;
  console.log(`mined ${accepted} block(s) in ${seconds.toFixed(2)} s; tip ${chain.height} ${chain.tip.hash}`);
}

export function mineCommand(): Command {
  return new Command("mine")
    .description("mine blocks on the local chain, without networking (like the original mine.py)")
    .addOption(new Option("-n, --network <name>", "network").choices(["devnet", "regtest"]).default("devnet"))
    .option("-d, --datadir <dir>", "data directory (default ./.jbc/<network>/5000)")
    .option("-b, --blocks <n>", "stop after this many blocks joined the main chain", intArg(1))
    .option("-t, --threads <n>", "worker threads (default: one per core)", intArg(1, 1024))
    .addOption(
      new Option("-k, --kernel <name>", "hashing kernel").choices(["auto", ...KERNEL_NAMES]).default("auto"),
    )
    .option("-m, --miner <name>", "name written into each block's miner record", minerNameArg, "jbc-miner")
    .option("--stats-interval <ms>", "how often to print the hash rate", intArg(1), 5000)
    .option("--log-level <level>", "log level for the node's own logs", logLevelArg, "warn")
    .action(async (opts: MineOptions) => {
      await runMine(opts);
    });
}
