import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { type Logger, pino, type TransportTargetOptions } from "pino";

export type { Logger };

/** A logger that discards everything: the default for library code used without a node. */
export const silentLogger: Logger = pino({ level: "silent" });

/** A log file rotated by size: `<dir>/<name>.1.log`, `.2.log`, ..., the newest also as `current.log`. */
export interface LogFileOptions {
  /** The file's path; the rotation number goes before its extension. */
  path: string;
  /** Size at which the file is rotated, in MiB. */
  maxMb: number;
  /** Files kept, the one being written included; older ones are deleted. */
  keep: number;
}

/**
 * The node's logger: human-readable on a terminal (pino-pretty when installed), JSON otherwise, and
 * with `file` also JSON into a size-rotated file (pino-roll). Library code receives a logger; it never
 * writes to the console.
 */
export function createLogger(
  opts: { level?: string; name?: string; pretty?: boolean; file?: LogFileOptions } = {},
): Logger {
  const pretty = opts.pretty ?? process.stdout.isTTY === true;
  const level = opts.level ?? "info";
  const base = { level, ...(opts.name ? { name: opts.name } : {}) };
  const prettyTarget: TransportTargetOptions = {
    target: "pino-pretty",
    level,
    options: { colorize: true, translateTime: "HH:MM:ss.l", destination: 1 },
  };
  if (!opts.file) return pino({ ...base, ...(pretty ? { transport: prettyTarget } : {}) });
  // pino-roll links current.log before its own `mkdir` has made the directory.
  mkdirSync(dirname(opts.file.path), { recursive: true });
  const targets: TransportTargetOptions[] = [
    {
      target: "pino-roll",
      level,
      options: {
        file: opts.file.path,
        size: `${opts.file.maxMb}m`,
        mkdir: true,
        symlink: true,
        // Across restarts too: a node started every day must not leave a file a day behind.
        limit: { count: Math.max(0, opts.file.keep - 1), removeOtherLogFiles: true },
      },
    },
    pretty ? prettyTarget : { target: "pino/file", level, options: { destination: 1 } },
  ];
  const transport = pino.transport({ targets });
  const logger = pino(base, transport);
  transports.set(logger, transport);
  return logger;
}

/** The worker-thread streams behind loggers from createLogger, for closeLogger. */
const transports = new WeakMap<Logger, { end(): void; once(event: "close", fn: () => void): void }>();

/**
 * Writes out everything `logger` was given and closes its files (waiting at most `timeoutMs`). A
 * process that logs through a transport calls this before process.exit: the transport's worker
 * thread would otherwise be ended with the last lines still in flight.
 */
export function closeLogger(logger: Logger, timeoutMs = 2000): Promise<void> {
  const transport = transports.get(logger);
  if (!transport) {
    logger.flush();
    return Promise.resolve();
  }
  transports.delete(logger);
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    transport.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    transport.end();
  });
}
