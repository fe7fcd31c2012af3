/**
 * Compact targets ("nBits") and proof of work, following Bitcoin Core's arith_uint256
 * SetCompact/GetCompact and CheckProofOfWork, edge cases included.
 */

export interface DecodedBits {
  target: bigint;
  /** The sign bit (0x00800000) was set with a non-zero mantissa. */
  negative: boolean;
  /** The value does not fit in 256 bits. */
  overflow: boolean;
}

/** Expands compact bits exactly as Bitcoin Core's SetCompact does, reporting sign and overflow. */
export function decodeBits(bits: number): DecodedBits {
  const size = bits >>> 24;
  let word = bits & 0x007fffff;
  let target: bigint;
  if (size <= 3) {
    word >>>= 8 * (3 - size);
    target = BigInt(word);
  } else {
    target = BigInt(word) << BigInt(8 * (size - 3));
  }
  const negative = word !== 0 && (bits & 0x00800000) !== 0;
  const overflow = word !== 0 && (size > 34 || (word > 0xff && size > 33) || (word > 0xffff && size > 32));
  return { target, negative, overflow };
}

/**
 * The target encoded by `bits`, or null when Bitcoin would reject it: negative, zero, overflowing,
 * or above `powLimit`.
 */
export function bitsToTarget(bits: number, powLimit?: bigint): bigint | null {
  const d = decodeBits(bits);
  if (d.negative || d.overflow || d.target === 0n) return null;
  if (powLimit !== undefined && d.target > powLimit) return null;
  return d.target;
}

/** Compresses a non-negative target as Bitcoin Core's GetCompact does (lossy: keeps 3 significant bytes). */
export function targetToBits(target: bigint): number {
  if (target < 0n) throw new RangeError("target must be non-negative");
  let size = byteLength(target);
  let compact: number;
  if (size <= 3) {
    compact = Number(target) << (8 * (3 - size));
  } else {
    compact = Number(target >> BigInt(8 * (size - 3)));
  }
  // The 0x00800000 bit is the sign: if the mantissa would set it, shift one more byte.
  if (compact & 0x00800000) {
    compact >>>= 8;
    size++;
  }
  return ((size << 24) | compact) >>> 0;
}

function byteLength(n: bigint): number {
  return n === 0n ? 0 : Math.ceil(n.toString(16).length / 2);
}

const TWO_256 = 1n << 256n;

/** Expected number of hashes to find a block at this target: 2^256 / (target + 1). */
export function targetWork(target: bigint): bigint {
  return TWO_256 / (target + 1n);
}

/** Work of a block with these bits; 0 for bits that encode no valid target. */
export function blockWork(bits: number): bigint {
  const target = bitsToTarget(bits);
  return target === null ? 0n : targetWork(target);
}
