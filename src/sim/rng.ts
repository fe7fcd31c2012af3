/**
 * A small seeded PRNG for the simulator: xoshiro128** (Blackman and Vigna) seeded through splitmix32.
 * Fast, fully deterministic, and good enough for Monte Carlo (it passes BigCrush apart from the lowest
 * bits, which `next()` never exposes on its own: it uses all 32 bits of one output).
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Exponential with the given mean. */
  exp(mean: number): number;
  /** Standard normal (Box–Muller; one of each pair is dropped to keep the stream simple). */
  normal(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** An independent stream derived from this one's seed and a label (so adding draws to one stream never shifts another). */
  fork(label: number): Rng;
}

/** xoshiro128** seeded with splitmix32 from `seed`; the same seed always gives the same stream. */
export function makeRng(seed: number): Rng {
  let x = seed >>> 0;
  const splitmix = (): number => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  const s = [splitmix(), splitmix(), splitmix(), splitmix()] as [number, number, number, number];
  const rotl = (v: number, k: number): number => (v << k) | (v >>> (32 - k));
  const next = (): number => {
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result / 2 ** 32;
  };
  return {
    next,
    exp: (mean) => -Math.log(1 - next()) * mean,
    normal: () => {
      const u = 1 - next();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
    },
    int: (n) => Math.floor(next() * n),
    fork: (label) => makeRng((seed ^ Math.imul(label + 1, 0x9e3779b1)) >>> 0),
  };
}
