/**
 * What every `jbc sim` experiment prints: progress on stderr (only on a terminal), then a table, the
 * figure's file, and one JSON object on the last line (alone with --json).
 */
import { writeFileSync } from "node:fs";
import type { SimProgress } from "../../../sim/network.ts";
import { progressBar } from "../../../util/format.ts";
import type { Common } from "./options.ts";

/** Progress on stderr when it is a terminal: one rewritten line, at most every 200 ms. */
export function progress(): { report: (label: string, p: SimProgress) => void; done: () => void } {
  const tty = process.stderr.isTTY === true;
  let label = "";
  let since = Date.now(); // start of the current run: events count from zero in each
  let last = 0;
  return {
    report(l, p) {
      if (l !== label) {
        label = l;
        since = Date.now();
      }
      if (!tty || Date.now() - last < 200) return;
      last = Date.now();
      const secs = (Date.now() - since) / 1000;
      const rate = p.events
        ? ` ${Math.round(p.events / Math.max(secs, 0.001)).toLocaleString("en")} events/s`
        : "";
      process.stderr.write(`\r\x1b[K${label} ${progressBar(p.found, p.target, 20)}${rate}`);
    },
    done() {
      if (tty) process.stderr.write("\r\x1b[K");
    },
  };
}

/** Writes the figure (unless --no-svg), prints the table (unless --json), then the JSON line. */
export async function finish(
  o: Common,
  lines: string[],
  json: Record<string, unknown>,
  svg: () => Promise<string>,
): Promise<void> {
  if (o.svg !== false) {
    writeFileSync(o.svg, await svg());
    lines.push(`figure: ${o.svg}`);
  }
  if (!o.json) for (const l of lines) console.log(l);
  console.log(JSON.stringify(json));
}

/** A fraction as a percentage with `d` decimals. */
export const pct = (x: number, d = 2): string => `${(x * 100).toFixed(d)}%`;

/** A result point without its run statistics (events, wall time): what the JSON line shows of it. */
export const strip = <T extends { stats?: unknown }>(p: T): Omit<T, "stats"> => {
  const { stats: _s, ...rest } = p;
  return rest;
};
