/**
 * A segment: a run of consecutive headers checked on its own, without the chain below it, as a proof
 * file carries them (docs/light.md). Its first header is taken as it is (its proof of work is checked;
 * its bits and time need the header before it, which the segment does not have); every header after it
 * passes the light client's checks, with ASERT anchored at block 1, whose header travels with the segment
 * and must sit on the network's genesis with the genesis bits and their work. Chain work is counted from
 * the segment's first header. What a valid segment shows is how much work sits on each of its headers;
 * whether it is the network's chain is for a client that knows the chain (`placeSegment`).
 */
import { bitsToTarget } from "../consensus/compact.ts";
import { sha256d } from "../consensus/hash.ts";
import { HEADER_SIZE, hashToHex } from "../consensus/header.ts";
import type { NetworkParams } from "../consensus/params.ts";
import { LightClient } from "./client.ts";
import type { Checkpoint, HeaderNode, LightFaultCode, LightReorg } from "./types.ts";

/** Why a segment was refused. */
export type SegmentErrorCode = LightFaultCode | "BAD_ANCHOR";

export type SegmentResult =
  | {
      ok: true;
      /** A client holding just the segment (no window: nothing is dropped). */
      client: LightClient;
      first: HeaderNode;
      tip: HeaderNode;
    }
  | { ok: false; code: SegmentErrorCode; height?: number; reason: string };

function u32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

/** The proof of work of a header taken without its parent; a reason when it fails. */
function ownWork(params: NetworkParams, header: Uint8Array): string | undefined {
  const bits = u32(header, 72);
  const target = bitsToTarget(bits, params.powLimit);
  if (target === null) return `bits 0x${bits.toString(16).padStart(8, "0")} encode no acceptable target`;
  const hash = hashToHex(sha256d(header));
  if (BigInt(`0x${hash}`) > target) return `hash ${hash} is above the target of its bits`;
  return undefined;
}

/** Block 1's time from its header, or why that header cannot anchor ASERT. */
function blockOneTime(params: NetworkParams, header: Uint8Array | undefined): number | string {
  if (!header || header.length !== HEADER_SIZE) return "block 1's header (ASERT's anchor) is missing";
  if (hashToHex(header.subarray(4, 36)) !== params.genesisHash)
    return `block 1's header does not build on the ${params.name} genesis`;
  if (u32(header, 72) !== params.genesis.header.bits)
    return "block 1's header does not carry the genesis bits";
  const weak = ownWork(params, header);
  if (weak) return `block 1's header: ${weak}`;
  return u32(header, 68);
}

/**
 * Checks consecutive headers, the first at height `from`, on their own (see the file's comment). `source`
 * names them in a fault; `blockOne` is block 1's header, needed when `from` is 2 or more on a retargeting
 * network (or `anchorTime`, block 1's time from a chain the caller trusts).
 */
export function checkSegment(
  params: NetworkParams,
  input: {
    from: number;
    headers: readonly Uint8Array[];
    blockOne?: Uint8Array | undefined;
    /** Block 1's time from a chain the caller already trusts, instead of `blockOne`. */
    anchorTime?: number | undefined;
  },
  opts: { source?: string; now?: () => number } = {},
): SegmentResult {
  const { from, headers } = input;
  const first = headers[0];
  if (!Number.isSafeInteger(from) || from < 0 || !first || first.length !== HEADER_SIZE)
    return { ok: false, code: "MALFORMED", reason: "a segment needs a height and at least one header" };
  const weak = ownWork(params, first);
  if (weak)
    return { ok: false, code: "HIGH_HASH", height: from, reason: `header at height ${from}: ${weak}` };
  let anchorTime: number | undefined;
  if (from === 0) {
    if (hashToHex(sha256d(first)) !== params.genesisHash)
      return {
        ok: false,
        code: "BAD_GENESIS",
        height: 0,
        reason: `height 0 is not the ${params.name} genesis`,
      };
  } else if (from === 1) {
    const t = blockOneTime(params, first);
    if (typeof t === "string") return { ok: false, code: "BAD_ANCHOR", height: 1, reason: t };
  } else if (input.anchorTime !== undefined) anchorTime = input.anchorTime;
  else if (!params.noRetargeting) {
    const t = blockOneTime(params, input.blockOne);
    if (typeof t === "string") return { ok: false, code: "BAD_ANCHOR", height: 1, reason: t };
    anchorTime = t;
  }
  const client = new LightClient(params, {
    base: { height: from, header: first, chainWork: 0n, ...(anchorTime !== undefined ? { anchorTime } : {}) },
    window: 0,
    ...(opts.now ? { now: opts.now } : {}),
  });
  const source = opts.source ?? "segment";
  const r = client.add(source, headers.slice(1), { from: from + 1 });
  if (r.unconnected)
    return {
      ok: false,
      code: "BAD_LINK",
      height: from + 1,
      reason: `the header at height ${from + 1} does not link to the one at height ${from}`,
    };
  if (r.fault) return { ok: false, code: r.fault.code, height: r.fault.height, reason: r.fault.reason };
  return { ok: true, client, first: client.base, tip: client.best };
}

/** Work from the header at `height` of a checked segment to the segment's tip, both included. */
export function segmentWorkFrom(segment: LightClient, height: number): bigint {
  const n = segment.mainAt(height);
  if (!n) throw new RangeError(`the segment holds no header at height ${height}`);
  return segment.best.chainWork - n.chainWork + n.work;
}

/** Work of a checked segment's headers from height `a` to `b`, both included. */
function segmentWork(segment: LightClient, a: number, b: number): bigint {
  const lo = segment.mainAt(a)!;
  return segment.mainAt(b)!.chainWork - lo.chainWork + lo.work;
}

/** Where a checked segment's header sits against a client's best chain. */
export type Placement =
  | {
      status: "main";
      /** Headers from the segment's header to the client's best tip, both included. */
      confirmations: number;
      workOnTop: bigint;
      /** How it was tied to the best chain: in the tree, through the base, or a remembered checkpoint. */
      via: "tree" | "base" | "checkpoint";
      reorg?: LightReorg;
    }
  | {
      status: "side";
      /** Where the segment's branch leaves the best chain, when the client holds it. */
      fork?: { height: number; hash: string };
      /** The branch's work above the fork, and the best chain's (both from the segment when `below`). */
      branchWork: bigint;
      bestWork: bigint;
      /** The segment leaves the best chain below the headers the client keeps (at `differsAt`). */
      differsAt?: Checkpoint;
    }
  /** The segment ends below the headers the client keeps and passes no checkpoint it remembers. */
  | { status: "unplaced"; reason: string };

/**
 * Ties a checked segment to a client's best chain and says where its header at `height` (the block a
 * proof is about) is: on the best chain (with confirmations and work up to the client's tip), on a side
 * branch (with the branch's work against the best chain's), or unplaced. The segment's headers that
 * connect to the tree are added to it as source `source`: they passed every check, so a heavier branch
 * among them becomes the best chain, as any source's would.
 */
export function placeSegment(
  client: LightClient,
  segment: LightClient,
  height: number,
  source = "proof file",
): Placement {
  const target = segment.mainAt(height);
  if (!target) return { status: "unplaced", reason: `the segment holds no header at height ${height}` };
  const segTip = segment.best;
  // 1. Add the segment from its first header whose parent the tree holds (the rest link by construction).
  let start = -1;
  for (let h = Math.max(segment.base.height, client.base.height); h <= segTip.height; h++) {
    const n = segment.mainAt(h)!;
    if (client.get(n.hash) || client.get(hashToHex(n.raw.subarray(4, 36)))) {
      start = h;
      break;
    }
  }
  let reorg: LightReorg | undefined;
  if (start >= 0) {
    const r = client.add(source, segment.mainHeaders(start, segTip.height - start + 1), { from: start });
    reorg = r.reorg;
  }
  // 2. The header itself in the tree: the tree answers.
  const loc = client.locate(target.hash);
  if (loc.status === "main")
    return {
      status: "main",
      confirmations: loc.confirmations,
      workOnTop: loc.workOnTop,
      via: "tree",
      ...(reorg ? { reorg } : {}),
    };
  if (loc.status === "side")
    return { status: "side", fork: loc.fork, branchWork: loc.branchWork, bestWork: loc.bestWork };
  // 3. Below the tree: tie through the tree's base, else through a remembered checkpoint.
  const below = placeBelow(client, segment, height);
  return below.status === "main" && reorg ? { ...below, reorg } : below;
}

/** Where a segment's header below the client's tree is: tied through the tree's base or a checkpoint. */
function placeBelow(client: LightClient, segment: LightClient, height: number): Placement {
  const segTip = segment.best;
  const best = client.best;
  const base = client.base;
  const segBase = segment.mainAt(base.height);
  if (segBase) {
    if (segBase.hash === base.hash)
      return {
        status: "main",
        confirmations: best.height - height + 1,
        workOnTop: segmentWork(segment, height, base.height) + (best.chainWork - base.chainWork),
        via: "base",
      };
    return {
      status: "side",
      branchWork: segmentWorkFrom(segment, height),
      bestWork: best.chainWork - base.chainWork + base.work,
      differsAt: { height: base.height, hash: base.hash, chainWork: base.chainWork },
    };
  }
  // The lowest checkpoint at or above the header decides: the two chains agree below any height they
  // agree at, and differ above any height they differ at.
  for (const cp of client.checkpoints) {
    if (cp.height < height || cp.height > segTip.height) continue;
    const mine = segment.mainAt(cp.height)!;
    if (mine.hash === cp.hash)
      return {
        status: "main",
        confirmations: best.height - height + 1,
        workOnTop: segmentWork(segment, height, cp.height) + (best.chainWork - cp.chainWork),
        via: "checkpoint",
      };
    return {
      status: "side",
      branchWork: segmentWorkFrom(segment, height),
      bestWork: best.chainWork - cp.chainWork,
      differsAt: cp,
    };
  }
  return {
    status: "unplaced",
    reason:
      segTip.height < base.height
        ? `its headers end at height ${segTip.height}, below the headers this client keeps (from ${base.height}), and pass none of its checkpoints`
        : `its headers (heights ${segment.base.height} to ${segTip.height}) do not connect to the best chain (tip at height ${best.height})`,
  };
}
