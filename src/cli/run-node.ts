import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { StoreError } from "../chain/store.ts";
import type { AuthorPolicy } from "../consensus/authors.ts";
import type { NoteVerifier } from "../consensus/note.ts";
import type { NetworkParams } from "../consensus/params.ts";
import type { NetworkKey } from "../net/private.ts";
import { checkPortFree, EXIT, StartupError, stopOnSignals, writePidFile } from "../node/lifecycle.ts";
import type { JbcNode, NodeOptions } from "../node/node.ts";
import { defaultDatadir } from "../node/paths.ts";
import { errorMessage } from "../util/errors.ts";
import { closeLogger, createLogger, type Logger } from "../util/logger.ts";

/**
 * The options of `jbc node` as commander hands them over. They live here, not in commands/node.ts, so
 * that file imports this one (lazily, for the action) and nothing imports back: no import cycle.
 */
export interface NodeCommandOptions {
  port: number;
  mine: boolean;
  peer: string[];
  datadir?: string;
  network: NetworkParams;
  miner?: string;
  threads?: number;
  p2pPort?: number;
  p2p: boolean;
  host: string;
  logLevel: string;
  /** A path, or false for --no-log-file; undefined means the default in the data directory. */
  logFile?: string | false;
  logMaxMb: number;
  logKeep: number;
  apiToken?: string;
  apiHosts: string[];
  jsonCacheMb: number;
  mdns: boolean;
  /** Block relay: compact announcements (default) or full blocks only. */
  relay: "compact" | "full";
  sync: boolean;
  devnetPeers: string[];
  mempoolMb: number;
  mempoolExpiry: number;
  /** A closed network (cli/team-options.ts): the network key, and the allow-list from flags and file. */
  networkKey?: NetworkKey;
  allowPeers: string[];
  allowPeersFile?: string[];
  /** Witnessed checkpoints (cli/team-options.ts witnessOptions). */
  witnesses?: NoteVerifier[];
  quorum?: number;
  checkpointDepth?: number;
  witnessName?: string;
  /** A signed author policy file (consensus/authors.ts): only its keys may write. */
  authors?: string;
}

/**
 * What `jbc node` does: checks that its ports and data directory are free (one line and an exit code
 * from EXIT otherwise, before anything starts), starts the node, and stops it on a signal or when the
 * process that started it is gone.
 */
export async function runNode(o: NodeCommandOptions): Promise<void> {
  const datadir = o.datadir ? resolve(o.datadir) : defaultDatadir(o.network.name, o.port);
  const logPath =
    o.logFile === false ? undefined : o.logFile ? resolve(o.logFile) : join(datadir, "logs", "node.log");
  // Nothing is logged before the checks below pass, so a refused start leaves no log file behind.
  let logger = createLogger({ level: "silent" });
  const p2pPort = o.p2pPort ?? (o.port === 0 ? 0 : o.port + 1000);
  const fail = (err: unknown): Promise<never> => failStart(err, datadir, logger);

  // The node's modules load while the checks run.
  const nodeModule = import("../node/node.ts");
  nodeModule.catch(() => {});
  let removePidFile = (): void => {};
  try {
    await checkPortFree("HTTP", o.host, o.port);
    if (o.p2p && p2pPort !== o.port) await checkPortFree("P2P", o.host, p2pPort);
    if (o.authors !== undefined) o.network = { ...o.network, authors: await readPolicy(o) };
    const witnesses = o.witnesses?.length ?? 0;
    if (o.quorum !== undefined && o.quorum > witnesses)
      throw new StartupError(
        EXIT.USAGE,
        `--quorum ${o.quorum} needs at least as many --witnesses (${witnesses})`,
      );
    mkdirSync(datadir, { recursive: true });
    removePidFile = writePidFile(datadir);
  } catch (err) {
    await fail(err);
  }
  logger = createLogger({
    level: o.logLevel,
    ...(logPath ? { file: { path: logPath, maxMb: o.logMaxMb, keep: o.logKeep } } : {}),
  });

  // A stop asked for while the node is still starting waits for it to be up, then stops it.
  let starting: Promise<JbcNode | undefined> = Promise.resolve(undefined);
  stopOnSignals({
    stop: async () => {
      const node = await starting.catch(() => undefined);
      await node?.stop();
      removePidFile();
    },
    exit: (code) => {
      // A forced exit does not wait for the log.
      if (code === EXIT.FORCED) process.exit(code);
      void closeLogger(logger).then(() => process.exit(code));
    },
    onStopping: (why) => logger.info({ why }, "stopping"),
  });

  starting = (async () => {
    const { JbcNode } = await nodeModule;
    return JbcNode.create(nodeOptions(o, datadir, p2pPort, logger));
  })();
  try {
    await starting;
  } catch (err) {
    removePidFile();
    await fail(err);
  }
}

/**
 * Ends a refused or failed start: logs the error, then one line on stderr and the exit code EXIT says
 * (a port taken, a data directory in use, a StartupError's own code, else FAILED).
 */
async function failStart(err: unknown, datadir: string, logger: Logger): Promise<never> {
  logger.error({ err }, "start failed");
  await closeLogger(logger);
  const code =
    err instanceof StartupError
      ? err.exitCode
      : err instanceof StoreError && err.code === "LOCKED"
        ? EXIT.DATADIR_IN_USE
        : EXIT.FAILED;
  const text = err instanceof Error ? err.message : String(err);
  // A port taken between the check and the listen (libp2p words it over several lines).
  const inUse = /EADDRINUSE[^\n]*?(\S+):(\d+)\s*$/m.exec(text);
  const message =
    err instanceof StoreError && err.code === "LOCKED"
      ? `data directory ${datadir} is in use by another process`
      : inUse
        ? `port ${inUse[2]} on ${inUse[1]} is in use`
        : text.split("\n")[0];
  process.stderr.write(`jbc node: ${message}\n`);
  process.exit(inUse ? EXIT.PORT_IN_USE : code);
}

/** `--authors FILE`, read and checked for the node's network; a bad file is a usage error (exit 2). */
async function readPolicy(o: NodeCommandOptions): Promise<AuthorPolicy> {
  const { readAuthorPolicyFile } = await import("../node/authors.ts");
  try {
    return await readAuthorPolicyFile(resolve(o.authors!), o.network.name);
  } catch (err) {
    throw new StartupError(EXIT.USAGE, `--authors: ${errorMessage(err)}`);
  }
}

/** The closed network's options, when given: the network key and the allow-list (flags and file together). */
function closed(o: NodeCommandOptions): { networkKey?: NetworkKey; allowPeers?: string[] } {
  const allowPeers = [...o.allowPeers, ...(o.allowPeersFile ?? [])];
  return {
    ...(o.networkKey ? { networkKey: o.networkKey } : {}),
    ...(allowPeers.length ? { allowPeers } : {}),
  };
}

/** The node `jbc node` starts, from its options. */
function nodeOptions(o: NodeCommandOptions, datadir: string, p2pPort: number, logger: Logger): NodeOptions {
  return {
    params: o.network,
    datadir,
    http: { host: o.host, port: o.port, allowedHosts: o.apiHosts },
    p2p: o.p2p
      ? { host: o.host, port: p2pPort, peers: o.peer, mdns: o.mdns, relay: o.relay, ...closed(o) }
      : false,
    mine: o.mine,
    minerName: o.miner ?? `node on port ${o.port}`,
    ...(o.threads ? { threads: o.threads } : {}),
    ...(o.apiToken ? { apiToken: o.apiToken } : {}),
    chainJsonCacheBytes: o.jsonCacheMb * 1024 * 1024,
    syncWrites: o.sync,
    devnetPeers: o.devnetPeers,
    mempool: { maxBytes: o.mempoolMb * 1024 * 1024, expiryMs: o.mempoolExpiry },
    witness: {
      ...(o.witnesses ? { witnesses: o.witnesses } : {}),
      ...(o.quorum !== undefined ? { quorum: o.quorum } : {}),
      ...(o.checkpointDepth !== undefined ? { depth: o.checkpointDepth } : {}),
      ...(o.witnessName !== undefined ? { name: o.witnessName } : {}),
    },
    logger,
  };
}
