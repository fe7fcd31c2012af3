/** Number of previous blocks whose median time a new block must exceed, as in Bitcoin. */
export const MEDIAN_TIME_SPAN = 11;

/** Median of up to the last 11 block times (Bitcoin Core's GetMedianTimePast: sorted[n/2]). */
export function medianTimePast(times: readonly number[]): number {
  if (times.length === 0) throw new RangeError("median time past of no blocks");
  const s = times.slice(-MEDIAN_TIME_SPAN).sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
