/**
 * The discrete-event queue: a binary min-heap of callbacks keyed by virtual time, ties broken by
 * insertion order, so a run is a pure function of its seed (no two events ever compare equal).
 */
interface Event {
  time: number;
  seq: number;
  run: () => void | Promise<void>;
}

export class EventQueue {
  private heap: Event[] = [];
  private seq = 0;
  /** Events run so far. */
  processed = 0;
  /** Virtual time of the event being run (seconds). */
  now = 0;

  get size(): number {
    return this.heap.length;
  }

  /** Schedules `run` at virtual time `time` (not before now). */
  at(time: number, run: () => void | Promise<void>): void {
    const e: Event = { time: Math.max(time, this.now), seq: this.seq++, run };
    const h = this.heap;
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(e, h[p]!)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }

  /** Schedules `run` `delay` seconds from now. */
  after(delay: number, run: () => void | Promise<void>): void {
    this.at(this.now + delay, run);
  }

  /** Removes and returns the earliest event, advancing the clock to it. */
  private pop(): Event | undefined {
    const h = this.heap;
    const top = h[0];
    if (!top) return undefined;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && before(h[r]!, h[l]!) ? r : l;
        if (!before(h[c]!, last)) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    this.now = top.time;
    return top;
  }

  /** Runs events in time order until the queue is empty or `stop()` says so; awaits each one. */
  async run(stop: () => boolean = () => false): Promise<void> {
    while (!stop()) {
      const e = this.pop();
      if (!e) return;
      this.processed++;
      const r = e.run();
      if (r) await r;
    }
  }
}

const before = (a: Event, b: Event): boolean => a.time < b.time || (a.time === b.time && a.seq < b.seq);
