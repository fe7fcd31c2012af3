/**
 * Time slices for the node's CPU-heavy steps (the API's: a block view's first read, /blockchain.json,
 * decoding a submitted block; the chain's: checking a block's records, merkle tree and signatures, building
 * its store batch), so that no request and no block holds the event loop for long: `/api/health`, gossip
 * and the miner's template go on while a client downloads a gigabyte or a peer sends a maximum-size block.
 *
 * All such work shares one budget per turn of the event loop. A step checks `sliceSpent()` between small
 * units of work and, when the budget is used, awaits `nextSlice()`: the waiters are resumed one per turn,
 * in arrival order, each from a `setImmediate`, so between two slices Node polls for I/O and serves what
 * arrived. One shared queue rather than a yield per task: with a yield per task, 8 downloads resumed in the
 * same turn would run 8 slices back to back before the next poll.
 */

/** CPU time the API's heavy steps may take, together, in one turn of the event loop. */
export const SLICE_MS = 4;

let sliceStart = 0;
const waiting: Array<() => void> = [];
let scheduled = false;

function grant(): void {
  scheduled = false;
  const next = waiting.shift();
  if (!next) return;
  sliceStart = performance.now();
  next();
  // Queued from the check phase, so it runs in the next turn, after that turn's I/O poll.
  if (waiting.length) schedule();
}

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  setImmediate(grant);
}

/** Whether the current slice is used up: the caller should await nextSlice() before more work. */
export function sliceSpent(): boolean {
  return performance.now() - sliceStart >= SLICE_MS;
}

/** Resolves in a later turn of the event loop, when this caller's slice begins (waiters in arrival order). */
export function nextSlice(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    schedule();
  });
}

/** Awaits the next slice only when this one is spent: the check to put between units of heavy work. */
export async function yieldIfSpent(): Promise<void> {
  if (sliceSpent()) await nextSlice();
}

/**
 * Runs a computation written as steps (a generator that yields between units of work, as consensus's
 * checks are: `Steps` in src/consensus/steps.ts) to its end in time slices: it awaits the next slice
 * whenever this one is spent. Same value, same exception as running the steps at once.
 */
export async function runSliced<T>(steps: Iterator<unknown, T, undefined>): Promise<T> {
  // A computation yields only once it has itself run OWN_MS since it started or resumed: a small one (a
  // block of 10 records) then never pays a turn of the event loop for a slice others used up.
  let resumed = performance.now();
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    if (sliceSpent() && performance.now() - resumed >= OWN_MS) {
      await nextSlice();
      resumed = performance.now();
    }
  }
}

/** CPU time a sliced computation runs before it yields to a spent slice (runSliced). */
const OWN_MS = 1;
