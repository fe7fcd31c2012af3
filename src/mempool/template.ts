/**
 * Which pending records a block template takes (docs/ledger-design.md "Templates"): the records a reorg
 * returned first, in chain order, then the other shares in turn by deficit round robin (Shreedhar and
 * Varghese's DRR, as routers share a link): each round gives every share TEMPLATE_QUANTUM more bytes of
 * credit, and a share takes its records in arrival order while its credit covers them. One source with
 * megabytes pending therefore cannot put the records of a source that sent one record a block later.
 */
import type { MempoolEntry } from "./types.ts";

/** Bytes of block space each share is offered per round (a few typical records; maxRecordSize is 64 KiB). */
export const TEMPLATE_QUANTUM = 4096;

/**
 * Entries whose bytes add up to at most `maxBytes`: all of `first` that fit, then the `shares` (each in
 * arrival order) by deficit round robin. A record that does not fit the room left is skipped and a later,
 * smaller one may take its place; after `maxSkips` misfits in a row the block is taken as full. Costs the
 * records looked at plus one step per share per round.
 */
export function takeFair(
  first: Iterable<MempoolEntry>,
  shares: Iterable<Iterable<MempoolEntry>>,
  maxBytes: number,
  maxSkips: number,
): MempoolEntry[] {
  const out: MempoolEntry[] = [];
  let room = maxBytes;
  let skips = 0;
  /** Offers one record: true when taken. */
  const offer = (entry: MempoolEntry): boolean => {
    if (entry.bytes.length > room) {
      skips++;
      return false;
    }
    out.push(entry);
    room -= entry.bytes.length;
    skips = 0;
    return true;
  };
  // The smallest record is 2 bytes.
  const done = (): boolean => room < 2 || skips >= maxSkips;
  for (const entry of first) {
    if (done()) return out;
    offer(entry);
  }
  let live = [...shares].map((s) => {
    const it = s[Symbol.iterator]();
    return { it, next: it.next(), credit: 0 };
  });
  while (live.length > 0 && !done()) {
    for (const q of live) {
      q.credit += TEMPLATE_QUANTUM;
      while (!q.next.done && q.next.value.bytes.length <= q.credit) {
        // A record that does not fit the block costs its share no credit.
        if (offer(q.next.value)) q.credit -= q.next.value.bytes.length;
        q.next = q.it.next();
        if (done()) return out;
      }
    }
    live = live.filter((q) => !q.next.done);
  }
  return out;
}
