/**
 * Human-readable numbers, for the terminal and the explorer alike: this file imports nothing, so the
 * browser bundle can use it (no `node:` modules here).
 */

const HASH_RATE_UNITS = ["H/s", "kH/s", "MH/s", "GH/s", "TH/s", "PH/s"];

/** A hash rate to three significant digits in the largest unit it reaches: "950 H/s", "13.7 MH/s", "2.50 GH/s". */
export function formatHashRate(hashesPerSecond: number): string {
  let v = hashesPerSecond;
  let i = 0;
  while (v >= 1000 && i < HASH_RATE_UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  const digits = i === 0 ? 0 : v < 10 ? 2 : v < 100 ? 1 : 0;
  return `${v.toFixed(digits)} ${HASH_RATE_UNITS[i]}`;
}

/** A text progress bar `[#####.....]  50% 5000/10000`. */
export function progressBar(done: number, total: number, width = 30): string {
  const frac = total > 0 ? Math.min(1, done / total) : 1;
  const fill = Math.round(frac * width);
  return `[${"#".repeat(fill)}${".".repeat(width - fill)}] ${(frac * 100).toFixed(0).padStart(3)}% ${done}/${total}`;
}
