import { bitsToTarget, targetToBits } from "./compact.ts";
import type { NetworkParams } from "./params.ts";

/**
 * Per-block difficulty: ASERT, the aserti3-2d algorithm Bitcoin Cash uses since November 2020, in
 * fixed-point integer arithmetic (BigInt), so every node computes the same bits bit for bit.
 *
 * target(n+1) = anchorTarget * 2^((timeSinceAnchorParent - spacing * (heightSinceAnchor + 1)) / halfLife)
 *
 * The 2^x factor uses the cubic approximation from the spec, exact to within 0.013 % over [0, 1).
 */

const RADIX = 65536n;

export interface AsertAnchor {
  height: number;
  /** Timestamp of the anchor block's parent (or an equivalent reference time). */
  parentTime: number;
  /** Target of the anchor block. */
  target: bigint;
}

/**
 * The target required of the block after `tip` (height `tipHeight`, time `tipTime`).
 * Clamped to [1, powLimit].
 */
export function asertTarget(
  anchor: AsertAnchor,
  tipHeight: number,
  tipTime: number,
  spacing: number,
  halfLife: number,
  powLimit: bigint,
): bigint {
  const timeDelta = BigInt(tipTime - anchor.parentTime);
  const heightDelta = BigInt(tipHeight - anchor.height);
  // BigInt division truncates toward zero, like the reference C++ (int64 division).
  const exponent = ((timeDelta - BigInt(spacing) * (heightDelta + 1n)) * RADIX) / BigInt(halfLife);
  // BigInt >> is an arithmetic shift (floor), so frac lands in [0, 65536) for negative exponents too.
  const shifts = exponent >> 16n;
  const frac = exponent - shifts * RADIX;
  const factor =
    ((195766423245049n * frac + 971821376n * frac * frac + 5127n * frac * frac * frac + (1n << 47n)) >> 48n) +
    RADIX;
  let next = anchor.target * factor;
  next = shifts < 0n ? next >> -shifts : next << shifts;
  next >>= 16n;
  if (next === 0n) return 1n;
  if (next > powLimit) return powLimit;
  return next;
}

/** `asertTarget` rounded to compact bits, the value a block header must carry. */
export function asertBits(
  anchor: AsertAnchor,
  tipHeight: number,
  tipTime: number,
  spacing: number,
  halfLife: number,
  powLimit: bigint,
): number {
  return targetToBits(asertTarget(anchor, tipHeight, tipTime, spacing, halfLife, powLimit));
}

/** The anchor for a chain whose difficulty schedule starts at block 1 (see docs/consensus.md). */
export function anchorFromBlockOne(genesisBits: number, blockOneTime: number, spacing: number): AsertAnchor {
  const target = bitsToTarget(genesisBits);
  if (target === null) throw new RangeError("genesis bits encode no valid target");
  return { height: 1, parentTime: blockOneTime - spacing, target };
}

/**
 * The bits the block after `parent` must carry: the genesis bits for blocks 1 and 2 (and always on a network
 * without retargeting), ASERT from block 3 on. `anchor` gives the branch's anchor (anchorFromBlockOne with
 * its block 1); it is asked only when needed, so callers can look block 1 up lazily and cache the result.
 */
export function requiredBits(
  params: NetworkParams,
  parentHeight: number,
  parentTime: number,
  anchor: () => AsertAnchor,
): number {
  const genesisBits = params.genesis.header.bits;
  if (params.noRetargeting || parentHeight === 0) return genesisBits;
  return asertBits(
    anchor(),
    parentHeight,
    parentTime,
    params.targetSpacing,
    params.asertHalfLife,
    params.powLimit,
  );
}
