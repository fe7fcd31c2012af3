import { type Logger, pino } from "pino";

export type { Logger };

/** A logger that discards everything: the default for library code used without a node. */
export const silentLogger: Logger = pino({ level: "silent" });

/**
 * The node's logger: human-readable on a terminal (pino-pretty when installed), JSON otherwise.
 * Library code receives a logger; it never writes to the console.
 */
export function createLogger(opts: { level?: string; name?: string; pretty?: boolean } = {}): Logger {
  const pretty = opts.pretty ?? process.stdout.isTTY === true;
  return pino({
    level: opts.level ?? "info",
    ...(opts.name ? { name: opts.name } : {}),
    ...(pretty
      ? { transport: { target: "pino-pretty", options: { colorize: true, translateTime: "HH:MM:ss.l" } } }
      : {}),
  });
}
