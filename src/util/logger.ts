import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { type Logger, pino, type TransportTargetOptions } from "pino";
import type { LogFileOptions as RotationOptions } from "./log-file.ts";

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
 * with `file` also JSON into a size-rotated file (log-file.ts: no file ever exceeds `maxMb`, whatever the
 * write rate). Library code receives a logger; it never writes to the console.
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
  mkdirSync(dirname(opts.file.path), { recursive: true });
  const rotation: RotationOptions = {
    path: opts.file.path,
    maxBytes: opts.file.maxMb * 1024 * 1024,
    keep: opts.file.keep,
  };
  const targets: TransportTargetOptions[] = [
    { target: logFileTarget(), level, options: rotation },
    pretty ? prettyTarget : { target: "pino/file", level, options: { destination: 1 } },
  ];
  const transport = pino.transport({ targets });
  const logger = pino(base, transport);
  transports.set(logger, transport);
  return logger;
}

/**
 * The module pino's worker loads for the log file. Worker threads do not inherit the tsx loader: from
 * sources (this module is .ts) the small .mjs entry registers tsx first; compiled, the .js module itself.
 */
function logFileTarget(): string {
  const fromSource = import.meta.url.endsWith(".ts");
  return fileURLToPath(new URL(fromSource ? "./log-file-entry.mjs" : "./log-file.js", import.meta.url));
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
