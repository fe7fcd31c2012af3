/**
 * Long computations of consensus (a block's sanity, its merkle tree, its records' signatures, decoding it)
 * are written as steps: a generator that yields between units of work and returns the result, or throws the
 * error. Consensus stays synchronous and pure (no clock, no scheduler): `runSteps` runs them at once, and a
 * host that must keep an event loop responsive (the chain, the API: src/util/slices.ts `runSliced`) runs
 * the same steps in time slices. Either way the work, its order and its outcome are the same.
 */

/** A computation in steps: yields (nothing) where a host may pause it, returns its value. */
export type Steps<T> = Generator<void, T, undefined>;

/** Units of work (records, hashes) between two yields: a few hundred microseconds at most. */
export const STEP_UNITS = 256;

/** Runs steps to their end at once: the synchronous form of every stepped computation. */
export function runSteps<T>(steps: Steps<T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}
