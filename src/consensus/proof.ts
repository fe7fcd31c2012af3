/**
 * Record inclusion proofs: that a record's bytes are committed to by a block header with proof of work.
 * A proof is the header, the record's position in its block and the merkle branch from the record's id
 * up to the header's merkle root (Bitcoin's `gettxoutproof` for one transaction, in the shape of
 * RFC 9162's audit path). Browser-safe on purpose: @noble/hashes and plain typed arrays only, no `node:`
 * module and no Buffer, so the explorer checks proofs with this very code.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bitsToTarget } from "./compact.ts";

/** A proof as the API serves it and `jbc record get --proof` saves it. */
export interface RecordProof {
  /** Hex of the block's 80-byte header. */
  header: string;
  /** Position of the record in the block (0 is the miner record). */
  index: number;
  /** Sibling hashes from leaf to root, hex, in the merkle tree's internal byte order. */
  branch: string[];
}

export const RecordProofErrorCode = {
  /** Not a proof: header not 160 hex digits, index not an integer, branch not a list of 64-digit hex. */
  MALFORMED: "MALFORMED",
  /** `index` needs more levels than the branch has: a position outside the tree. */
  BAD_INDEX: "BAD_INDEX",
  /** The header's bits encode no valid target, or one easier than the network allows. */
  BAD_TARGET: "BAD_TARGET",
  /** The header's hash is above the target its bits encode. */
  HIGH_HASH: "HIGH_HASH",
  /** The path goes through a duplicated last node (CVE-2012-2459): a position no record holds. */
  DUPLICATE_NODE: "DUPLICATE_NODE",
  /** Folding the branch does not give the header's merkle root: wrong record, branch or index. */
  ROOT_MISMATCH: "ROOT_MISMATCH",
} as const;
export type RecordProofErrorCode = (typeof RecordProofErrorCode)[keyof typeof RecordProofErrorCode];

export type RecordProofResult =
  | {
      valid: true;
      /** The record's id, display order (byte-reversed hex, as block hashes are shown). */
      id: string;
      /** The block's hash, display order. */
      blockHash: string;
      /** Header time, seconds since the Unix epoch. */
      time: number;
      bits: number;
    }
  | { valid: false; code: RecordProofErrorCode; reason: string };

/**
 * Deepest branch a proof may carry. A block of at most 1,000,000 bytes holds under 2^19 records (each at
 * least 2 bytes), so 32 levels is generous and keeps `index` a plain uint32.
 */
export const MAX_BRANCH_LENGTH = 32;

const HEADER_BYTES = 80;
const HEX64 = /^[0-9a-fA-F]{64}$/;
const HEX160 = /^[0-9a-fA-F]{160}$/;

function sha256d(data: Uint8Array): Uint8Array {
  return sha256(sha256(data));
}

function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >>> 1);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function bytesHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** Display order: the internal bytes reversed. */
function displayHex(hash: Uint8Array): string {
  return bytesHex(Uint8Array.from(hash).reverse());
}

function equal32(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 32; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** sha256d(left ‖ right): one merkle tree node. */
function parent(left: Uint8Array, right: Uint8Array): Uint8Array {
  const pair = new Uint8Array(64);
  pair.set(left, 0);
  pair.set(right, 32);
  return sha256d(pair);
}

/**
 * Every level of the merkle tree over `leaves` (level 0 is the leaves, the last level the root), with
 * Bitcoin's rule that an odd level pairs its last node with itself. Same root as `computeMerkleRoot`.
 */
export function merkleLevels(leaves: readonly Uint8Array[]): Uint8Array[][] {
  if (leaves.length === 0) throw new RangeError("a merkle tree needs at least one leaf");
  const levels: Uint8Array[][] = [leaves.slice()];
  let level = levels[0]!;
  while (level.length > 1) {
    const next: Uint8Array[] = new Array(Math.ceil(level.length / 2));
    for (let i = 0; i < level.length; i += 2) next[i >>> 1] = parent(level[i]!, level[i + 1] ?? level[i]!);
    levels.push(next);
    level = next;
  }
  return levels;
}

/**
 * The branch for the leaf at `index`: its sibling at each level, leaf to root. The last node of an odd
 * level is its own sibling (Bitcoin duplicates it). Pass `merkleLevels(leaves)` to build many branches
 * from one tree.
 */
export function merkleBranch(levels: readonly Uint8Array[][], index: number): Uint8Array[] {
  const width = levels[0]?.length ?? 0;
  if (!Number.isInteger(index) || index < 0 || index >= width)
    throw new RangeError(`index ${index} outside a tree of ${width} leaves`);
  const branch: Uint8Array[] = [];
  let i = index;
  for (let d = 0; d < levels.length - 1; d++) {
    const level = levels[d]!;
    branch.push(level[i ^ 1] ?? level[i]!);
    i >>>= 1;
  }
  return branch;
}

/**
 * The proof that the record at `index` is in the block with these header bytes and record ids (in
 * block order, internal byte order). Throws RangeError for a bad index or header size.
 */
export function buildRecordProof(
  header: Uint8Array,
  ids: readonly Uint8Array[],
  index: number,
  levels: readonly Uint8Array[][] = merkleLevels(ids),
): RecordProof {
  if (header.length !== HEADER_BYTES) throw new RangeError(`header must be ${HEADER_BYTES} bytes`);
  return { header: bytesHex(header), index, branch: merkleBranch(levels, index).map(bytesHex) };
}

/**
 * The merkle root a branch gives for `leaf` at `index`: fold the branch by the bits of `index`, low
 * bit first; a set bit means the sibling is on the left. Returns null when a right-hand node equals its
 * left sibling: only a duplicated last node does (validation refuses blocks with equal real neighbours,
 * `MUTATED`), and no record sits at such a position, so accepting it would let one record be "proved"
 * at a second index.
 */
export function foldBranch(
  leaf: Uint8Array,
  index: number,
  branch: readonly Uint8Array[],
): Uint8Array | null {
  let node = leaf;
  let i = index;
  for (const sibling of branch) {
    if (i & 1) {
      if (equal32(sibling, node)) return null;
      node = parent(sibling, node);
    } else {
      node = parent(node, sibling);
    }
    i = Math.floor(i / 2);
  }
  return node;
}

function fail(code: RecordProofErrorCode, reason: string): RecordProofResult {
  return { valid: false, code, reason };
}

/**
 * Checks a record inclusion proof against the record's bytes; never throws, whatever it is given.
 * In order: the proof's shape; the index fits the branch; the header's bits encode a valid target (at
 * most `powLimit` when given) and its hash meets it; the fold of id = sha256d(recordBytes) along the
 * branch equals the header's merkle root. A valid proof says a header with that much work commits to
 * the record; whether the header is on the main chain is for a node to answer.
 */
export function verifyRecordProof(
  proof: RecordProof,
  recordBytes: Uint8Array,
  opts: { powLimit?: bigint } = {},
): RecordProofResult {
  const p = proof as Partial<Record<keyof RecordProof, unknown>> | null;
  if (typeof p !== "object" || p === null) return fail("MALFORMED", "proof is not an object");
  if (typeof p.header !== "string" || !HEX160.test(p.header))
    return fail("MALFORMED", "header must be 160 hex digits (80 bytes)");
  if (typeof p.index !== "number" || !Number.isSafeInteger(p.index) || p.index < 0)
    return fail("MALFORMED", "index must be a non-negative integer");
  if (!Array.isArray(p.branch) || p.branch.length > MAX_BRANCH_LENGTH)
    return fail("MALFORMED", `branch must be a list of at most ${MAX_BRANCH_LENGTH} hashes`);
  const branch: Uint8Array[] = [];
  for (const h of p.branch as unknown[]) {
    if (typeof h !== "string" || !HEX64.test(h))
      return fail("MALFORMED", "branch hashes must be 64 hex digits");
    branch.push(hexBytes(h));
  }
  if (!(recordBytes instanceof Uint8Array)) return fail("MALFORMED", "record bytes must be a Uint8Array");
  // Bits of index above the branch would be ignored by the fold, so one proof would verify at many
  // indices; refuse them instead.
  if (p.index >= 2 ** branch.length)
    return fail("BAD_INDEX", `index ${p.index} needs more than ${branch.length} levels`);

  const header = hexBytes(p.header);
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const bits = view.getUint32(72, true);
  const time = view.getUint32(68, true);
  const target = bitsToTarget(bits, opts.powLimit);
  if (target === null)
    return fail("BAD_TARGET", `bits 0x${bits.toString(16).padStart(8, "0")} encode no acceptable target`);
  const hash = sha256d(header);
  const blockHash = displayHex(hash);
  if (BigInt(`0x${blockHash}`) > target)
    return fail("HIGH_HASH", `header hash ${blockHash} is above its target`);

  const id = sha256d(recordBytes);
  const root = foldBranch(id, p.index, branch);
  if (root === null) return fail("DUPLICATE_NODE", "the path runs through a duplicated last node");
  if (!equal32(root, header.subarray(36, 68)))
    return fail("ROOT_MISMATCH", "the branch does not lead to the header's merkle root");
  return { valid: true, id: displayHex(id), blockHash, time, bits };
}
