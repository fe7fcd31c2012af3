/**
 * The checks one header must pass against its parent before it joins a light client's tree (docs/light.md,
 * "What a header must pass"), and the byte helpers they share with the tree. Each check is consensus's own
 * function (`bitsToTarget`, `requiredBits`, `medianTimePast`); nothing here is a rule of its own. Kept
 * apart from the tree so that the rules a header passes read in one place, without the bookkeeping.
 *
 * Browser-safe: typed arrays only.
 */
import { toHex } from "../consensus/bytes.ts";
import { bitsToTarget, blockWork } from "../consensus/compact.ts";
import { requiredBits } from "../consensus/difficulty.ts";
import type { NetworkParams } from "../consensus/params.ts";
import { MEDIAN_TIME_SPAN, medianTimePast } from "../consensus/time.ts";
import type { HeaderNode, LightFault } from "./types.ts";

/** A header in the tree, with the links the tree moves (the public `HeaderNode` is read-only). */
export interface TreeNode extends HeaderNode {
  parent: TreeNode | undefined;
  /** The base's ancestors' times, oldest first (only on the base). */
  prevTimes: readonly number[] | undefined;
}

/** A fault before the source is named. */
export type Failure = Omit<LightFault, "source">;

/** What a header that passed its checks carries into the tree. */
export interface Checked {
  time: number;
  bits: number;
  work: bigint;
}

/** The little-endian u32 at offset `o`. */
export function u32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

function hex8(n: number): string {
  return `0x${n.toString(16).padStart(8, "0")}`;
}

/** Whether a hash (internal order, a little-endian number) is above a target's little-endian bytes. */
function above(hash: Uint8Array, target: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) if (hash[i] !== target[i]) return hash[i]! > target[i]!;
  return false;
}

/** Whether the header's parent hash (bytes 4 to 36) is `hash`. */
export function linksTo(raw: Uint8Array, hash: Uint8Array): boolean {
  for (let i = 0; i < 32; i++) if (raw[4 + i] !== hash[i]) return false;
  return true;
}

const scratch = new Uint8Array(32);
/** Display hex of an internal-order hash (consensus's hashToHex, without its reversed copy). */
export function displayHex(hash: Uint8Array): string {
  for (let i = 0; i < 32; i++) scratch[i] = hash[31 - i]!;
  return toHex(scratch);
}

/** Whether every byte is zero (a genesis header's parent hash). */
export function isZero(b: Uint8Array): boolean {
  for (const x of b) if (x !== 0) return false;
  return true;
}

/**
 * Targets by bits (null when not acceptable) with their work and little-endian bytes, cached: a chain's
 * bits take few values, and this is the per-header cost a 100,000-header sync pays most.
 */
export class TargetCache {
  private readonly targets = new Map<number, { work: bigint; le: Uint8Array } | null>();

  constructor(private readonly powLimit: bigint) {}

  /** The target of `bits` as work and little-endian bytes, or null when bits encode no acceptable one. */
  get(bits: number): { work: bigint; le: Uint8Array } | null {
    let t = this.targets.get(bits);
    if (t === undefined) {
      const target = bitsToTarget(bits, this.powLimit);
      if (target === null) t = null;
      else {
        const le = new Uint8Array(32);
        let v = target;
        for (let i = 0; i < 32; i++, v >>= 8n) le[i] = Number(v & 0xffn);
        t = { work: blockWork(bits), le };
      }
      if (this.targets.size >= 4096) this.targets.clear();
      this.targets.set(bits, t);
    }
    return t;
  }
}

/**
 * Times of up to the 11 headers ending at `from`, oldest first, and whether they are all there are
 * (11, or every header down to genesis): the median-time rule is checked only then.
 */
export function lastTimes(from: TreeNode): { times: number[]; complete: boolean } {
  const times: number[] = [];
  let n: TreeNode | undefined = from;
  let lowest = from.height;
  let prevTimes: readonly number[] | undefined;
  while (n && times.length < MEDIAN_TIME_SPAN) {
    times.push(n.time);
    lowest = n.height;
    prevTimes = n.prevTimes;
    n = n.parent;
  }
  if (times.length < MEDIAN_TIME_SPAN && !n && prevTimes) {
    for (let i = prevTimes.length - 1; i >= 0 && times.length < MEDIAN_TIME_SPAN; i--) {
      times.push(prevTimes[i]!);
      lowest--;
    }
  }
  times.reverse();
  return { times, complete: times.length === MEDIAN_TIME_SPAN || lowest === 0 };
}

/** What checking one header needs beside the header and its parent. */
export interface CheckContext {
  params: NetworkParams;
  targets: TargetCache;
  /** The clock in seconds. */
  now: number;
}

/**
 * The header's own checks against its parent (checkpoint, target, proof of work, ASERT's bits, median
 * time, future drift), in docs/light.md's order; its time, bits and work when it passes.
 */
export function checkHeader(
  ctx: CheckContext,
  raw: Uint8Array,
  hash: string,
  hashBytes: Uint8Array,
  parent: TreeNode,
): Failure | Checked {
  const p = ctx.params;
  const height = parent.height + 1;
  const time = u32(raw, 68);
  const bits = u32(raw, 72);
  const cp = p.checkpoints.get(height);
  if (cp !== undefined && cp !== hash)
    return {
      code: "CHECKPOINT_MISMATCH",
      height,
      hash,
      reason: `height ${height} is checkpointed as ${cp}, not ${hash}`,
    };
  const target = ctx.targets.get(bits);
  if (target === null)
    return { code: "BAD_TARGET", height, hash, reason: `bits ${hex8(bits)} encode no acceptable target` };
  if (above(hashBytes, target.le))
    return { code: "HIGH_HASH", height, hash, reason: `hash ${hash} is above the target of its bits` };
  const anchor = parent.anchor;
  // Without an anchor (a segment that starts above block 1 on a retargeting network) the bits cannot be
  // recomputed; the proof of work above still holds them to the limit.
  if (p.noRetargeting || parent.height === 0 || anchor) {
    const want = requiredBits(p, parent.height, parent.time, () => anchor!);
    if (bits !== want)
      return {
        code: "BAD_BITS",
        height,
        hash,
        reason: `bits ${hex8(bits)} at height ${height}, ASERT requires ${hex8(want)}`,
      };
  }
  const last = lastTimes(parent);
  if (last.complete) {
    const mtp = medianTimePast(last.times);
    if (time <= mtp)
      return {
        code: "TIME_TOO_OLD",
        height,
        hash,
        reason: `time ${time} is not above the median time past ${mtp}`,
      };
  }
  const limit = ctx.now + p.maxFutureDrift;
  if (time > limit)
    return {
      code: "TIME_TOO_NEW",
      height,
      hash,
      reason: `time ${time} is ${Math.round(time - limit + p.maxFutureDrift)} s ahead of this clock (or this clock is behind)`,
    };
  return { time, bits, work: target.work };
}
