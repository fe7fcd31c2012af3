import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, writeSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

/**
 * How a node process starts and ends: checks that its ports and data directory are free before anything
 * starts, a pid file that says which process holds a data directory, signals as a graceful stop, and
 * noticing that the process that started it is gone. Used by `jbc node` and `jbc devnet`.
 */

/** Exit codes of `jbc node` and `jbc devnet` (docs/operations.md). */
export const EXIT = {
  /** Stopped cleanly. */
  OK: 0,
  /** Failed for another reason (the message says which). */
  FAILED: 1,
  /** A bad command line, config file or environment variable. */
  USAGE: 2,
  /** The HTTP or P2P port is in use. */
  PORT_IN_USE: 3,
  /** The data directory is held by another process. */
  DATADIR_IN_USE: 4,
  /** A second signal, or a stop that overran its time, forced the exit. */
  FORCED: 5,
} as const;

/** Why a node cannot start; `exitCode` is one of EXIT. */
export class StartupError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
    this.name = "StartupError";
  }
}

/** The pid file in a data directory: which process holds it. */
export const PID_FILE = "jbc.pid";

/** Whether a process with this pid exists (this user's or another's). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The live process recorded in `datadir`'s pid file, if any (not this one). */
export function datadirHolder(datadir: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(join(datadir, PID_FILE), "utf8").trim());
  } catch {
    return undefined;
  }
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  return isAlive(pid) ? pid : undefined;
}

/** Throws DATADIR_IN_USE when another live process holds `datadir`. */
export function checkDatadirFree(datadir: string): void {
  const pid = datadirHolder(datadir);
  if (pid !== undefined) {
    throw new StartupError(EXIT.DATADIR_IN_USE, `data directory ${datadir} is in use by process ${pid}`);
  }
}

/**
 * Records this process in `datadir`'s pid file (replacing a stale one) and returns its remover. The store's
 * own lock stays the real guard; the pid file lets a second process name the first.
 */
export function writePidFile(datadir: string): () => void {
  checkDatadirFree(datadir);
  const file = join(datadir, PID_FILE);
  rmSync(file, { force: true });
  let fd: number;
  try {
    fd = openSync(file, "wx");
  } catch {
    // Another process wrote it between our check and now.
    checkDatadirFree(datadir);
    throw new StartupError(EXIT.DATADIR_IN_USE, `data directory ${datadir} is in use by another process`);
  }
  writeSync(fd, `${process.pid}\n`);
  closeSync(fd);
  return () => {
    try {
      if (readFileSync(file, "utf8").trim() === String(process.pid)) rmSync(file, { force: true });
    } catch {
      // Already gone.
    }
  };
}

/** The pid of the process listening on TCP `port`, when /proc tells it (Linux, same user). */
export function portOwner(port: number): number | undefined {
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== "0A") continue;
      const local = f[1]!;
      if (Number.parseInt(local.slice(local.lastIndexOf(":") + 1), 16) === port) inodes.add(f[9]!);
    }
  }
  if (inodes.size === 0) return undefined;
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (link.startsWith("socket:[") && inodes.has(link.slice(8, -1))) return Number(pid);
      } catch {
        // Closed while we looked.
      }
    }
  }
  return undefined;
}

/** Throws PORT_IN_USE when `host:port` cannot be bound; port 0 always can. */
export async function checkPortFree(what: string, host: string, port: number): Promise<void> {
  if (port === 0) return;
  const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    const server = createServer();
    server.once("error", (e: NodeJS.ErrnoException) => resolve(e));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
  if (!err) return;
  if (err.code === "EADDRINUSE") {
    const pid = portOwner(port);
    throw new StartupError(
      EXIT.PORT_IN_USE,
      `${what} port ${port} on ${host} is in use${pid !== undefined ? ` by process ${pid}` : ""}`,
    );
  }
  throw new StartupError(EXIT.FAILED, `${what} port ${port} on ${host}: ${err.message}`);
}

export interface StopOptions {
  /** The graceful stop. */
  stop: () => Promise<void>;
  /** Ends the process with a code (process.exit, after flushing logs). */
  exit: (code: number) => void;
  /** Told why the process stops. */
  onStopping?: (why: string) => void;
  /** Longest the graceful stop may take before the exit is forced (default 15 s). */
  timeoutMs?: number;
}

/** Signals that mean "stop": Ctrl-C, a supervisor's stop, the terminal closing. */
export const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/**
 * Stops gracefully on SIGINT, SIGTERM or SIGHUP, and when the parent process is gone (when started with
 * an IPC channel, as `jbc devnet` starts its nodes). Exits 0 after a clean stop; a second signal, or a
 * stop that overruns `timeoutMs`, exits at once with EXIT.FORCED. Returns a function that starts the
 * same stop (for callers with reasons of their own).
 */
export function stopOnSignals(o: StopOptions): (why: string) => void {
  let stopping = false;
  const begin = (why: string): void => {
    if (stopping) {
      o.onStopping?.(`${why} while stopping: exiting at once`);
      o.exit(EXIT.FORCED);
      return;
    }
    stopping = true;
    o.onStopping?.(why);
    const timeoutMs = o.timeoutMs ?? 15_000;
    setTimeout(() => {
      o.onStopping?.(`the stop did not finish within ${timeoutMs} ms: exiting`);
      o.exit(EXIT.FORCED);
    }, timeoutMs).unref();
    o.stop().then(
      () => o.exit(EXIT.OK),
      () => o.exit(EXIT.FAILED),
    );
  };
  for (const s of STOP_SIGNALS) process.on(s, () => begin(s));
  if (process.channel) watchParent(() => begin("parent process gone"));
  return begin;
}

/**
 * Calls `onGone` once when the process that started this one is gone: its IPC channel closes (at once,
 * however the parent ended, SIGKILL included) or, failing that, this process is re-parented (checked every
 * `pollMs`).
 */
export function watchParent(onGone: () => void, pollMs = 500): void {
  const ppid = process.ppid;
  let fired = false;
  const fire = (): void => {
    if (fired) return;
    fired = true;
    clearInterval(timer);
    onGone();
  };
  const timer = setInterval(() => {
    if (process.ppid !== ppid) fire();
  }, pollMs);
  timer.unref();
  if (process.channel) {
    process.once("disconnect", fire);
    // The channel must not keep the process alive by itself.
    process.channel.unref();
  }
}
