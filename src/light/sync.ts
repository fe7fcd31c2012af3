/**
 * Getting headers from sources (source.ts) into a light client: the sync that asks one source for its
 * chain from where the client's best chain and the source's last agree, backing off when the source's
 * chain has forked below.
 *
 * When a source's chain does not even contain the client's base (the oldest header it keeps), the sync
 * finds the newest remembered checkpoint the source agrees with, re-checks the source's chain from there
 * in a client of its own, and reports the divergence with the work each side really has: a rewrite
 * deeper than the window is shown with checked numbers, not with what the source claims.
 *
 * Browser-safe: `fetch`, typed arrays, no `node:` module.
 */
import { blockWork } from "../consensus/compact.ts";
import { sha256d } from "../consensus/hash.ts";
import { HEADER_SIZE, hashToHex } from "../consensus/header.ts";
import { u32 } from "./checks.ts";
import { LightClient } from "./client.ts";
import { splitHeaders } from "./codec.ts";
import { checkSegment } from "./segment.ts";
import { type HeaderSource, MAX_HEADERS_PER_REQUEST, type SourceTip } from "./source.ts";
import type { Checkpoint, HeaderNode, LightFault, LightReorg, SourceClaim } from "./types.ts";

/** How a source's chain leaves the client's: below the headers the client keeps. */
export interface Divergence {
  /** The client's base, which the source's chain does not contain. */
  base: { height: number; hash: string };
  /** The newest remembered checkpoint (or genesis) the source's chain holds. */
  agreesAt: Checkpoint;
  /** The oldest remembered one above it that the source's chain does not hold. */
  differsAt: Checkpoint;
  /** The source's chain from `agreesAt`, checked in a client of its own: its tip and work, or its fault. */
  theirs:
    | { tip: { height: number; hash: string }; chainWork: bigint }
    | { fault: LightFault }
    | { error: string };
}

export interface SyncReport {
  source: string;
  claim?: SourceClaim;
  /** Headers received, and how many joined the tree. */
  received: number;
  added: number;
  /** The source could not be asked or gave no usable answer: no verdict on its honesty. */
  error?: string;
  /** A check its headers failed (the source is named in it). */
  fault?: LightFault;
  /** Its chain forks below the headers the client keeps. */
  diverged?: Divergence;
}

export interface SyncOptions {
  /** Headers per request (at most MAX_HEADERS_PER_REQUEST). */
  batch?: number;
  /** Most headers taken from one source in one sync. */
  maxHeaders?: number;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Asks one source for its chain and adds it to the client: from the lower of its claimed tip and the
 * client's best (so its first header's parent is known when the two agree there), backing off by doubling
 * steps when it is not, down to the client's base. Never throws: what went wrong is in the report.
 */
export async function syncSource(
  client: LightClient,
  source: HeaderSource,
  opts: SyncOptions = {},
): Promise<SyncReport> {
  const name = source.name;
  const report: SyncReport = { source: name, received: 0, added: 0 };
  const batch = Math.min(Math.max(1, opts.batch ?? MAX_HEADERS_PER_REQUEST), MAX_HEADERS_PER_REQUEST);
  const maxHeaders = opts.maxHeaders ?? Number.MAX_SAFE_INTEGER;
  let tip: SourceTip;
  try {
    tip = await source.tip();
  } catch (err) {
    report.error = errorText(err);
    return report;
  }
  if (tip.genesis !== client.params.genesisHash) {
    const fault: LightFault = {
      source: name,
      code: "BAD_GENESIS",
      reason: `serves ${tip.network} (genesis ${tip.genesis.slice(0, 16)}…), not ${client.params.name}`,
    };
    client.blame(fault);
    report.fault = fault;
    return report;
  }
  report.claim = tip.claim;
  client.claim(name, tip.claim);
  const base = client.base.height;
  let from = Math.max(base + 1, Math.min(tip.claim.height, client.best.height));
  let step = 1;
  let connected = false;
  // The next request, sent while this answer is checked (the network and the checks overlap).
  let ahead: { from: number; count: number; bytes: Promise<Uint8Array> } | undefined;
  try {
    while (report.received < maxHeaders) {
      const count = Math.min(batch, maxHeaders - report.received);
      const bytes =
        ahead && ahead.from === from && ahead.count === count
          ? await ahead.bytes
          : await source.headers(from, count);
      ahead = undefined;
      const nextCount = Math.min(batch, maxHeaders - report.received - count);
      if (bytes.length === count * HEADER_SIZE && nextCount > 0) {
        const p = source.headers(from + count, nextCount);
        p.catch(() => {}); // awaited when used; an unused one must not be an unhandled rejection
        ahead = { from: from + count, count: nextCount, bytes: p };
      }
      if (bytes.length % HEADER_SIZE !== 0) {
        report.fault = blame(client, name, `answered ${bytes.length} bytes: not whole 80-byte headers`);
        return report;
      }
      const headers = splitHeaders(bytes);
      report.received += headers.length;
      const r = headers.length ? client.add(name, headers, { from }) : undefined;
      if (r?.fault) {
        report.fault = r.fault;
        report.added += r.added;
        return report;
      }
      if (!r || r.unconnected) {
        if (connected) break; // an empty answer after the first: at its tip
        if (from <= base + 1) {
          if (tip.claim.height > base) await belowBase(client, source, report, opts);
          return report; // (at or below the base: far behind, below the headers kept)
        }
        from = Math.max(base + 1, from - step);
        step *= 2;
        continue;
      }
      connected = true;
      report.added += r.added;
      if (headers.length < count) break;
      from += headers.length;
    }
  } catch (err) {
    report.error = errorText(err);
  }
  return report;
}

/**
 * The source's chain does not connect even at the client's base: answers that contradict each other (it
 * serves the base, then a header that does not follow it) are a fault; otherwise it diverges below.
 */
async function belowBase(
  client: LightClient,
  source: HeaderSource,
  report: SyncReport,
  opts: SyncOptions,
): Promise<void> {
  const base = client.base;
  if ((await hashAt(source, base.height)) === base.hash) {
    report.fault = {
      source: source.name,
      code: "BAD_LINK",
      height: base.height + 1,
      reason: `serves the header at height ${base.height} but one at ${base.height + 1} that does not link to it`,
    };
    client.blame(report.fault);
    return;
  }
  report.diverged = await diverge(client, source, opts);
  if ("fault" in report.diverged.theirs) report.fault = report.diverged.theirs.fault;
}

function blame(client: LightClient, source: string, reason: string): LightFault {
  const fault: LightFault = { source, code: "MALFORMED", reason };
  client.blame(fault);
  return fault;
}

/** The hash of the source's header at `height`, or undefined when it has none. */
async function hashAt(source: HeaderSource, height: number): Promise<string | undefined> {
  const bytes = await source.headers(height, 1);
  if (bytes.length !== HEADER_SIZE) return undefined;
  return hashToHex(sha256d(bytes));
}

/**
 * The source's chain does not hold the client's base: finds the newest checkpoint it still holds (they
 * are ordered, so a binary search), then checks its chain from there in a client of its own, started
 * from that checkpoint with the 10 headers below it as context.
 */
async function diverge(client: LightClient, source: HeaderSource, opts: SyncOptions): Promise<Divergence> {
  const p = client.params;
  const b = client.base;
  const genesis: Checkpoint = { height: 0, hash: p.genesisHash, chainWork: blockWork(p.genesis.header.bits) };
  const points: Checkpoint[] = [...client.checkpoints.filter((c) => c.height < b.height)];
  points.push({ height: b.height, hash: b.hash, chainWork: b.chainWork });
  // points[hi] is not held (the base); find the newest held one below it.
  let lo = -1;
  let hi = points.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((await hashAt(source, points[mid]!.height)) === points[mid]!.hash) lo = mid;
    else hi = mid;
  }
  const agreesAt = lo >= 0 ? points[lo]! : genesis;
  const out: Divergence = {
    base: { height: b.height, hash: b.hash },
    agreesAt,
    differsAt: points[hi]!,
    theirs: { error: "not checked" },
  };
  let fresh: LightClient;
  if (agreesAt.height === 0) fresh = new LightClient(p, { window: client.window });
  else {
    const from = Math.max(0, agreesAt.height - 10);
    const context = splitHeaders(await source.headers(from, agreesAt.height - from + 1));
    const blockOne = from >= 2 ? await source.headers(1, 1) : undefined;
    const seg = checkSegment(p, { from, headers: context, blockOne }, { source: source.name });
    if (!seg.ok || seg.tip.hash !== agreesAt.hash || seg.tip.height !== agreesAt.height) {
      out.theirs = { error: `its headers below height ${agreesAt.height} do not check out` };
      return out;
    }
    const anchorTime = seg.client.mainAt(1)?.time ?? (blockOne ? u32(blockOne, 68) : undefined);
    fresh = new LightClient(p, {
      base: {
        height: agreesAt.height,
        header: seg.tip.raw,
        chainWork: agreesAt.chainWork,
        prevTimes: seg.client.ancestorTimes(seg.tip),
        ...(anchorTime !== undefined ? { anchorTime } : {}),
      },
      window: client.window,
    });
  }
  const r = await syncSource(fresh, source, opts);
  if (r.fault) out.theirs = { fault: r.fault };
  else if (r.error) out.theirs = { error: r.error };
  else {
    const v = fresh.verdict(source.name);
    if (v.status === "faulty") out.theirs = { fault: v.fault };
    else
      out.theirs = {
        tip: { height: fresh.best.height, hash: fresh.best.hash },
        chainWork: fresh.best.chainWork,
      };
  }
  return out;
}

/**
 * Headers `from`..`to` of a source's best chain, checked as a segment (with block 1's header for ASERT's
 * anchor): what a verifier fetches for a record whose block is below the headers its client keeps.
 */
export async function fetchSegment(
  client: LightClient,
  source: HeaderSource,
  from: number,
  to: number,
): Promise<ReturnType<typeof checkSegment>> {
  const headers: Uint8Array[] = [];
  for (let h = from; h <= to; ) {
    const got = splitHeaders(await source.headers(h, Math.min(MAX_HEADERS_PER_REQUEST, to - h + 1)));
    if (got.length === 0) break;
    headers.push(...got);
    h += got.length;
  }
  const blockOne = from >= 2 ? await source.headers(1, 1) : undefined;
  return checkSegment(client.params, { from, headers, blockOne }, { source: source.name });
}

/** The reorg between a tip the client had and its best now, if the old tip left the best chain. */
export function reorgSince(client: LightClient, old: HeaderNode): LightReorg | undefined {
  if (client.get(old.hash) !== old || client.isMain(old)) return undefined;
  let n: HeaderNode | undefined = old;
  while (n && !client.isMain(n)) n = n.parent;
  const fork = n ?? client.base;
  return {
    fork: { height: fork.height, hash: fork.hash },
    depth: old.height - fork.height,
    workLeft: old.chainWork - fork.chainWork,
    workJoined: client.best.chainWork - fork.chainWork,
  };
}
