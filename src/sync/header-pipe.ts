/**
 * Pipelined header download across peers (issue 21): instead of one 2,000-header round trip after another
 * to one peer, the ranges above the best known header are asked at once, spread over every peer that claims
 * to have them, each by `/jbc/headers/2` with a skip past the same anchor (at most `perPeer` in flight per
 * peer). The answers are checked and kept strictly in order (SyncHeaders.add: range k must follow the last
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
  /** Peers claiming more work than our tip, most work first. */
  peers: readonly P[];
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
  peer: P;
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
  const queues = new Map<string, Range<P>[]>();
  for (const r of ranges) queues.set(r.peer.id, [...(queues.get(r.peer.id) ?? []), r]);
  // Each peer's ranges go out `perPeer` at a time, the next when one is answered; none once it ended.
  for (const queue of queues.values()) {
    const start = (i: number): void => {
      const r = queue[i];
      if (!r || ended) return;
      const answer = o.fetch(r.peer, locator, r.max, r.skip);
      r.settle(answer);
      answer.then(
        () => start(i + o.perPeer),
        () => undefined,
      );
    };
    for (let i = 0; i < o.perPeer; i++) start(i);
  }
  try {
    for (const r of ranges) if (!(await keep(o, r))) return;
  } finally {
    ended = true;
  }
}

/** Keeps one range's answer; false when the pipeline ends there. */
async function keep<P extends SyncPeer>(o: HeaderPipeOptions<P>, r: Range<P>): Promise<boolean> {
  if (o.stopped()) return false;
  let raws: Uint8Array[];
  try {
    raws = await r.answer;
  } catch (error) {
    if (!(error instanceof SkipUnsupportedError) && !o.stopped())
      o.onFault(r.peer, { kind: "fetch-failed", error });
    return false;
  }
  const added = o.headers.add(r.peer, raws);
  if (added.error) {
    // No body is asked for on the word of a peer that sent a bad header.
    o.headers.forget(r.peer.id);
    o.onFault(r.peer, { kind: "bad-headers", error: added.error });
    return false;
  }
  for (const p of o.peers) o.headers.noteTip(p);
  o.onAdded();
  return !added.unlinked && raws.length === r.max;
}

/** The ranges to ask and whom: round robin over the peers that claim the range's first height. */
function plan<P extends SyncPeer>(o: HeaderPipeOptions<P>): Range<P>[] {
  const base = o.anchor.height;
  const top = Math.max(0, ...o.peers.map((p) => p.status?.height ?? 0));
  const room = Math.max(0, o.headers.maxHeaders - o.headers.count);
  const want = Math.min(top - base, room);
  const out: Range<P>[] = [];
  for (let skip = 0, turn = 0; skip < want; skip += HEADERS_PER_REQUEST, turn++) {
    const able = o.peers.filter((p) => (p.status?.height ?? 0) > base + skip);
    const peer = able[turn % able.length];
    if (!peer) break;
    let settle!: (answer: Promise<Uint8Array[]>) => void;
    const answer = new Promise<Uint8Array[]>((resolve) => {
      settle = resolve;
    });
    // An answer never waited for (the pipeline ended first) must not be an unhandled rejection.
    answer.catch(() => undefined);
    out.push({ peer, skip, max: Math.min(HEADERS_PER_REQUEST, want - skip), answer, settle });
  }
  return out;
}
