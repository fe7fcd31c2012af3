/** Human-readable numbers for terminal output. */

export function formatHashRate(h: number): string {
  const units = ["H/s", "kH/s", "MH/s", "GH/s", "TH/s"];
  let v = h;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v < 10 && i > 0 ? 2 : v < 100 && i > 0 ? 1 : 0)} ${units[i]}`;
}

/** A text progress bar `[#####.....]  50% 5000/10000`. */
export function progressBar(done: number, total: number, width = 30): string {
  const frac = total > 0 ? Math.min(1, done / total) : 1;
  const fill = Math.round(frac * width);
  return `[${"#".repeat(fill)}${".".repeat(width - fill)}] ${(frac * 100).toFixed(0).padStart(3)}% ${done}/${total}`;
}
