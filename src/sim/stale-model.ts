import { makeRng } from "./rng.ts";

/**
 * The stale rate of a network of N equal miners, as a renewal process (docs/simulation.md, "Why the
 * simulated rate sits below 1 − e^(−Δ/T)"). The main chain grows by one each time a block is found on
 * top of the highest block. Once block B becomes the highest, the next growth comes from B's finder
 * at once (it builds on B from the start, at rate 1/(NT)) or from any miner after B has reached it
 * (rate 1/(NT) each). So with B reaching miner j after d_j (d = 0 for the finder), the time S to the
 * next growth has P(S > t) = exp(−Σ_j (t − d_j)⁺ / (NT)), the chain grows once per E[S], and the stale
 * rate is 1 − T / E[S]. It leaves out only second-order events (another miner extending its own
 * competing block before B reaches it), which lower the rate a little more.
 */

/** E[S] in seconds for one block: `delays` are its arrival delays at all N miners (the finder's 0). */
export function renewalInterval(delays: ArrayLike<number>, interval: number): number {
  const d = Array.from(delays)
    .filter((x) => Number.isFinite(x))
    .sort((a, b) => a - b);
  const n = delays.length;
  // P(S > t) = exp(−(a·t − b)) on each stretch between consecutive arrivals, where a and b sum over
  // the miners that hold the block: a = k/(NT), b = Σ d_j/(NT). Integrated stretch by stretch.
  let a = 0;
  let b = 0;
  let total = 0;
  for (let k = 0; k < d.length; k++) {
    a += 1 / (n * interval);
    b += d[k]! / (n * interval);
    const from = d[k]!;
    const to = k + 1 < d.length ? d[k + 1]! : Number.POSITIVE_INFINITY;
    const head = Math.exp(-(a * from - b));
    const tail = to === Number.POSITIVE_INFINITY ? 0 : Math.exp(-(a * to - b));
    total += (head - tail) / a;
  }
  return total;
}

/**
 * The closed form for a fixed delay Δ = x·T to every other miner: E[S]/T = N(1 − e^(−x/N)) + e^(−x/N),
 * so the stale rate is 1 − 1/(N(1 − e^(−x/N)) + e^(−x/N)); with N → ∞ it is x/(1 + x), i.e. Δ/(T + Δ).
 */
export function renewalStaleRate(x: number, n: number): number {
  const e = Math.exp(-x / n);
  return 1 - 1 / (n * (1 - e) + e);
}

/**
 * The same network without chains, for checking the two above: N equal miners, Poisson blocks (T = 1),
 * every block reaching every other miner exactly `x` later, longest chain, first seen on ties. Returns
 * 1 − (main chain length) / (blocks found). Node-free, so millions of blocks take a second.
 */
export function staleMonteCarlo(n: number, x: number, blocks: number, seed: number): number {
  const rng = makeRng(seed);
  const tip = new Float64Array(n); // each miner's best height
  const inFlight: Array<{ at: number; height: number; miner: number }> = []; // FIFO: delays are equal
  let head = 0;
  let now = 0;
  let best = 0;
  for (let i = 0; i < blocks; i++) {
    now += rng.exp(1);
    for (; head < inFlight.length && inFlight[head]!.at <= now; head++) {
      const m = inFlight[head]!;
      for (let j = 0; j < n; j++) if (j !== m.miner && m.height > tip[j]!) tip[j] = m.height;
    }
    const miner = rng.int(n);
    const height = tip[miner]! + 1;
    tip[miner] = height;
    inFlight.push({ at: now + x, height, miner });
    if (height > best) best = height;
  }
  return 1 - best / blocks;
}
