/**
 * Pipelined header download across peers (issue 21): instead of one 2,000-header round trip after another
 * to one peer, the ranges above the best known header are asked at once, spread over every peer that claims
 * to have them, each by `/jbc/headers/2` with a skip past the same anchor (at most `perPeer` in flight per
 * peer). Ranges go out in order to whichever claimant has room, looked up again at every answer: a peer that
 * joins after the download began takes the ranges still waiting (a plan fixed at the start gave every range
 * to the first peer that joined, and only that peer could be asked for bodies until the last header came).
 * The answers are checked and kept strictly in order (SyncHeaders.add: range k must follow the last
 * header of range k - 1, and every header passes the chain's header checks against its parent), so a peer
 * only ever gets the headers it sent itself counted as its best known: which is what lets bodies be asked of
 * every peer while the later ranges still travel.
 *
 * Anything out of the ordinary ends the pipeline without a penalty of its own (a range that does not follow
 * the one before: a reorg on a peer, or peers on different chains; a short range; a peer without the skip),
 * and the sequential round after it (Sync.headerRound) takes over from the best header kept. A header that
 * breaks a rule and a request that fails are the peer's fault, reported as the sequential round does.
 */
import type { ChainEntry } from "../chain/types.ts";
import { HEADERS_PER_REQUEST, type SyncHeaders } from "./headers.ts";
import { type FetchHeaders, SkipUnsupportedError, type SyncFault, type SyncPeer } from "./types.ts";

/** What a pipelined header download needs from Sync. */
export interface HeaderPipeOptions<P extends SyncPeer> {
  headers: SyncHeaders;
  /** Peers claiming more work than our tip, most work first (asked again whenever a range is answered). */
  peers: () => readonly P[];
  fetch: FetchHeaders<P>;
  /** Header requests in flight per peer (the server allows 4 of any kind). */
  perPeer: number;
  /** Where the ranges start: the best header known (ours or the tree's). */
  anchor: ChainEntry;
  /** Called after every range kept (bodies may be asked for above the old best now). */
  onAdded: () => void;
  onFault: (peer: P, fault: SyncFault) => void;
  stopped: () => boolean;
}

interface Range<P> {
  /** Who was asked (none yet: the range waits for a claimant with room). */
  peer?: P;
  skip: number;
  max: number;
  /** Settles with the request's answer once it went out and came back. */
  answer: Promise<Uint8Array[]>;
  settle: (answer: Promise<Uint8Array[]>) => void;
}

/**
 * Asks the ranges above `anchor` up to the highest claimed height (bounded by the header tree's room) of
 * the peers that claim them, and keeps the answers in order; resolves when the last range is kept or the
 * pipeline ended early. Fewer than two ranges: nothing to pipeline, the sequential round does it.
 */
export async function pipelineHeaders<P extends SyncPeer>(o: HeaderPipeOptions<P>): Promise<void> {
  const ranges = plan(o);
  if (ranges.length < 2) return;
  const locator = o.headers.locator(o.anchor);
  let ended = false;
  const busy = new Map<string, number>();
  // A peer whose request failed gets no other range: the pipeline ends at its failed one anyway.
  const failed = new Set<string>();
  // The waiting ranges, lowest first, each to the least busy claimant of its first height with room; again
  // whenever one is answered. None once the pipeline ended.
  const dispatch = (): void => {
    for (const r of ranges) {
      if (ended) return;
      if (r.peer) continue;
      if (o.stopped()) {
        giveUp(ranges);
        return;
      }
      const base = o.anchor.height + r.skip;
      let peer: P | undefined;
      for (const p of o.peers()) {
        const n = busy.get(p.id) ?? 0;
        if (n >= o.perPeer || failed.has(p.id) || (p.status?.height ?? 0) <= base) continue;
        if (!peer || n < (busy.get(peer.id) ?? 0)) peer = p;
      }
      // In order: a later range does not overtake one that waits. With nothing in flight no answer will
      // come to dispatch again: the pipeline ends there, and the sequential round goes on.
      if (!peer) {
        if (![...busy.values()].some((n) => n > 0)) giveUp(ranges);
        return;
      }
      const asked = peer;
      r.peer = asked;
      busy.set(asked.id, (busy.get(asked.id) ?? 0) + 1);
      // A fetcher that throws instead of rejecting still settles the range.
      const answer = Promise.resolve().then(() => o.fetch(asked, locator, r.max, r.skip));
      r.settle(answer);
      const done = (ok: boolean): void => {
        busy.set(asked.id, (busy.get(asked.id) ?? 1) - 1);
        if (!ok) failed.add(asked.id);
        dispatch();
      };
      answer.then(
        () => done(true),
        () => done(false),
      );
    }
  };
  dispatch();
  try {
    for (const r of ranges) if (!(await keep(o, r))) return;
  } finally {
    ended = true;
  }
}

/** Ends the ranges nobody was asked for: keep() stops at the first of them. */
function giveUp<P>(ranges: readonly Range<P>[]): void {
  for (const r of ranges) if (!r.peer) r.settle(Promise.reject(new Error("no peer to ask")));
}

/** Keeps one range's answer; false when the pipeline ends there. */
async function keep<P extends SyncPeer>(o: HeaderPipeOptions<P>, r: Range<P>): Promise<boolean> {
  if (o.stopped()) return false;
  let raws: Uint8Array[];
  try {
    raws = await r.answer;
  } catch (error) {
    if (r.peer && !(error instanceof SkipUnsupportedError) && !o.stopped())
      o.onFault(r.peer, { kind: "fetch-failed", error });
    return false;
  }
  // Answered, so asked: `peer` is set before the answer's promise is settled.
  const peer = r.peer!;
  const added = o.headers.add(peer, raws);
  if (added.error) {
    // No body is asked for on the word of a peer that sent a bad header.
    o.headers.forget(peer.id);
    o.onFault(peer, { kind: "bad-headers", error: added.error });
    return false;
  }
  for (const p of o.peers()) o.headers.noteTip(p);
  o.onAdded();
  return !added.unlinked && raws.length === r.max;
}

/** The ranges to ask: up to the highest height a claimant claims, bounded by the header tree's room. */
function plan<P extends SyncPeer>(o: HeaderPipeOptions<P>): Range<P>[] {
  const base = o.anchor.height;
  const top = Math.max(0, ...o.peers().map((p) => p.status?.height ?? 0));
  const room = Math.max(0, o.headers.maxHeaders - o.headers.count);
  const want = Math.min(top - base, room);
  const out: Range<P>[] = [];
  for (let skip = 0; skip < want; skip += HEADERS_PER_REQUEST) {
    let settle!: (answer: Promise<Uint8Array[]>) => void;
    const answer = new Promise<Uint8Array[]>((resolve) => {
      settle = resolve;
    });
    // An answer never waited for (the pipeline ended first) must not be an unhandled rejection.
    answer.catch(() => undefined);
    out.push({ skip, max: Math.min(HEADERS_PER_REQUEST, want - skip), answer, settle });
  }
  return out;
}
