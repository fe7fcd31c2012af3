/**
 * Rate-limits a function to one run per `intervalMs`, leading and trailing: the first call runs at once;
 * calls during the interval that follows coalesce into one run at its end, which starts the next
 * interval. No call is lost (the last one always leads to a run) and runs are never closer than
 * `intervalMs`. For the block template, rebuilt when records arrive (docs/ledger-design.md).
 */
export interface Throttled {
  /** Asks for a run: now if the last one was at least `intervalMs` ago, else at the end of the interval. */
  call(): void;
  /** Drops a pending trailing run and stops the timer (at shutdown). */
  cancel(): void;
}

export function throttle(fn: () => void, intervalMs: number): Throttled {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let pending = false;
  const run = (): void => {
    pending = false;
    timer = setTimeout(() => {
      timer = undefined;
      if (pending) run();
    }, intervalMs);
    timer.unref?.();
    fn();
  };
  return {
    call(): void {
      if (timer === undefined) run();
      else pending = true;
    },
    cancel(): void {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      pending = false;
    },
  };
}
