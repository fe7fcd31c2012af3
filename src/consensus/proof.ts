/**
 * Record inclusion proofs: that a record's bytes are committed to by a block header with proof of work.
 * A proof is the header, the record's position, the block's record count and the merkle branch from the
 * record's id up to the header's merkle root (Bitcoin's `gettxoutproof` for one transaction, in the shape
 * of RFC 9162's audit path), plus the block's miner record with its own branch. Browser-safe on purpose:
 * @noble/hashes and plain typed arrays only, no `node:` module and no Buffer, so the explorer checks
 * proofs with this very code.
 *
 * Why the count and the miner record travel with the proof (docs/consensus.md, "The 64-byte rule"): the
 * count fixes the tree's shape (every leaf at depth `treeDepth(count)`, and which nodes are a level's
 * duplicated last one), so a branch one level short or long cannot pass; and the miner record, which
 * must decode as a miner record at index 0 with a branch of that same depth, shows the header's tree
 * really has that depth, as Bitcoin light clients check the coinbase's branch. Together with consensus's
 * rule that no record is 64 bytes, a valid proof means the record is in the block at that position.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bitsToTarget } from "./compact.ts";
import { treeDepth } from "./merkle.ts";
import { type BlockRecord, decodeRecord, FORBIDDEN_RECORD_SIZE, verifyRecordSignature } from "./records.ts";

/** The proof format this code writes and reads. Version 1 had no `count` and no miner record. */
export const PROOF_VERSION = 2;

/** A proof as the API serves it and `jbc record get --proof` saves it (docs/api.md, "Record proofs"). */
export interface RecordProof {
  /** PROOF_VERSION. */
  version: typeof PROOF_VERSION;
  /** Hex of the block's 80-byte header. */
  header: string;
  /** Position of the record in the block (0 is the miner record). */
  index: number;
  /** Records in the block: with it the tree's shape, so the branch's length and duplicated nodes. */
  count: number;
  /** Sibling hashes from leaf to root, hex, in the merkle tree's internal byte order. */
  branch: string[];
  /**
   * The block's miner record (hex of its bytes) and its branch (index 0). Absent when `index` is 0: the
   * record proved is then the miner record.
   */
  miner?: { record: string; branch: string[] };
}

export const RecordProofErrorCode = {
  /** Not a proof: fields missing or of the wrong form (header 160 hex digits, hashes 64, integers). */
  MALFORMED: "MALFORMED",
  /** A proof format this code does not read: version 1 (no version field) or a later one. */
  UNSUPPORTED_VERSION: "UNSUPPORTED_VERSION",
  /** The record bytes do not decode as one record, or a record of the wrong kind for its position. */
  BAD_RECORD: "BAD_RECORD",
  /** The record is 64 bytes: consensus forbids it, and it could be a merkle inner node. */
  RECORD_64_BYTES: "RECORD_64_BYTES",
  /** A signed record whose signature does not verify: no block can hold it. */
  BAD_SIGNATURE: "BAD_SIGNATURE",
  /** `index` is not below `count`: a position outside the block. */
  BAD_INDEX: "BAD_INDEX",
  /** The branch's length is not the depth of a tree of `count` leaves. */
  BAD_DEPTH: "BAD_DEPTH",
  /** The header's bits encode no valid target, or one easier than the network allows. */
  BAD_TARGET: "BAD_TARGET",
  /** The header's hash is above the target its bits encode. */
  HIGH_HASH: "HIGH_HASH",
  /**
   * The path does not have the tree's shape: a duplicated last node (CVE-2012-2459) where the tree has a
   * real neighbour, or a real-looking neighbour where the tree duplicates the last node.
   */
  DUPLICATE_NODE: "DUPLICATE_NODE",
  /** Folding the branch does not give the header's merkle root: wrong record, branch or index. */
  ROOT_MISMATCH: "ROOT_MISMATCH",
  /** The miner record is missing, is not a miner record, or its branch does not lead to the root. */
  BAD_MINER_PROOF: "BAD_MINER_PROOF",
} as const;
export type RecordProofErrorCode = (typeof RecordProofErrorCode)[keyof typeof RecordProofErrorCode];

export type RecordProofResult =
  | {
      valid: true;
      /** The record's id, display order (byte-reversed hex, as block hashes are shown). */
      id: string;
      /** The block's hash, display order. */
      blockHash: string;
      /** The block's height, from its miner record. */
      height: number;
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
/** Most records a proof's `count` may claim: 2^MAX_BRANCH_LENGTH leaves fill the deepest tree allowed. */
const MAX_COUNT = 2 ** MAX_BRANCH_LENGTH;

const HEADER_BYTES = 80;
const HEX64 = /^[0-9a-fA-F]{64}$/;
const HEX160 = /^[0-9a-fA-F]{160}$/;
const HEX = /^(?:[0-9a-fA-F]{2})*$/;

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
 * The proof that the record at `index` is in the block with these header bytes and record ids (in block
 * order, internal byte order); `miner` is the bytes of the block's miner record (record 0). Throws
 * RangeError for a bad index or header size.
 */
export function buildRecordProof(
  header: Uint8Array,
  ids: readonly Uint8Array[],
  index: number,
  miner: Uint8Array,
  levels: readonly Uint8Array[][] = merkleLevels(ids),
): RecordProof {
  if (header.length !== HEADER_BYTES) throw new RangeError(`header must be ${HEADER_BYTES} bytes`);
  return assembleRecordProof(
    header,
    index,
    ids.length,
    merkleBranch(levels, index),
    miner,
    index === 0 ? [] : merkleBranch(levels, 0),
  );
}

/**
 * A proof from its parts, as a node that keeps only part of the tree builds it (src/chain/proofs.ts):
 * `minerBranch` is ignored when `index` is 0.
 */
export function assembleRecordProof(
  header: Uint8Array,
  index: number,
  count: number,
  branch: readonly Uint8Array[],
  miner: Uint8Array,
  minerBranch: readonly Uint8Array[],
): RecordProof {
  const proof: RecordProof = {
    version: PROOF_VERSION,
    header: bytesHex(header),
    index,
    count,
    branch: branch.map(bytesHex),
  };
  if (index !== 0) proof.miner = { record: bytesHex(miner), branch: minerBranch.map(bytesHex) };
  return proof;
}

/**
 * The merkle root a branch gives for `leaf` at `index` of a tree of `count` leaves, or why the branch
 * cannot be a path of that tree. Fold low bit first; a set bit means the sibling is on the left. The
 * count says at which levels the node is the last of an odd level, paired with itself: there the sibling
 * must be the node itself, and everywhere else it must differ from it (equal real neighbours make a
 * block `MUTATED`), so a duplicated node cannot be read as a real one and one record cannot be "proved"
 * at a second position. The caller has checked `index < count` and the branch's length.
 */
export function foldBranch(
  leaf: Uint8Array,
  index: number,
  count: number,
  branch: readonly Uint8Array[],
): { root: Uint8Array } | { duplicate: string } {
  let node = leaf;
  let i = index;
  let width = count;
  for (let d = 0; d < branch.length; d++) {
    const sibling = branch[d]!;
    const lastOfOdd = i === width - 1 && (width & 1) === 1;
    if (lastOfOdd !== equal32(sibling, node))
      return {
        duplicate: lastOfOdd
          ? `level ${d}: the last node of an odd level must be paired with itself`
          : `level ${d}: a node paired with its own copy where the tree has a real neighbour`,
      };
    node = i & 1 ? parent(sibling, node) : parent(node, sibling);
    i = Math.floor(i / 2);
    width = Math.ceil(width / 2);
  }
  return { root: node };
}

type Failure = Extract<RecordProofResult, { valid: false }>;

function fail(code: RecordProofErrorCode, reason: string): Failure {
  return { valid: false, code, reason };
}

function hashList(value: unknown): Uint8Array[] | undefined {
  if (!Array.isArray(value) || value.length > MAX_BRANCH_LENGTH) return undefined;
  const out: Uint8Array[] = [];
  for (const h of value as unknown[]) {
    if (typeof h !== "string" || !HEX64.test(h)) return undefined;
    out.push(hexBytes(h));
  }
  return out;
}

/** The record's bytes as a record allowed at `index`, or why not. */
function readProvedRecord(bytes: Uint8Array, index: number): BlockRecord | Failure {
  if (bytes.length === FORBIDDEN_RECORD_SIZE)
    return fail("RECORD_64_BYTES", "a record of 64 bytes is forbidden: it could be a merkle inner node");
  let rec: BlockRecord;
  try {
    rec = decodeRecord(bytes);
  } catch (err) {
    return fail(
      "BAD_RECORD",
      `the record bytes do not decode: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if ((rec.type === "miner") !== (index === 0))
    return fail(
      "BAD_RECORD",
      index === 0 ? "record 0 must be the miner record" : "only record 0 is a miner record",
    );
  if (rec.type === "signed" && !verifyRecordSignature(rec))
    return fail("BAD_SIGNATURE", "the record's signature does not verify");
  return rec;
}

/**
 * Checks a record inclusion proof against the record's bytes; never throws, whatever it is given. In
 * order: the proof's shape and version; `index < count`, and both branches as long as a tree of `count`
 * leaves is deep; the record (and the miner record) decodes, is not 64 bytes, is a miner record exactly
 * at index 0, and a signed record's signature verifies; the header's bits encode a valid target (at most `powLimit` when given)
 * and its hash meets it; the record's id folds along its branch, with the tree's shape, to the header's
 * merkle root; the miner record does the same at index 0. A valid proof says that a header carrying that
 * much work commits to the record at that position; whether the header is on the best chain is for a
 * header chain (or a node) to answer.
 */
export function verifyRecordProof(
  proof: RecordProof,
  recordBytes: Uint8Array,
  opts: { powLimit?: bigint } = {},
): RecordProofResult {
  const p = proof as Partial<Record<keyof RecordProof, unknown>> | null;
  if (typeof p !== "object" || p === null) return fail("MALFORMED", "proof is not an object");
  if (p.version !== PROOF_VERSION)
    return fail(
      "UNSUPPORTED_VERSION",
      p.version === undefined
        ? "a proof without a version is format 1, from before the 64-byte rule: ask the node for a new one (jbc record get ID --proof FILE)"
        : `proof format ${String(p.version)}, this verifier reads format ${PROOF_VERSION}`,
    );
  if (typeof p.header !== "string" || !HEX160.test(p.header))
    return fail("MALFORMED", "header must be 160 hex digits (80 bytes)");
  if (typeof p.index !== "number" || !Number.isSafeInteger(p.index) || p.index < 0)
    return fail("MALFORMED", "index must be a non-negative integer");
  if (typeof p.count !== "number" || !Number.isSafeInteger(p.count) || p.count < 1 || p.count > MAX_COUNT)
    return fail("MALFORMED", `count must be an integer from 1 to ${MAX_COUNT}`);
  const branch = hashList(p.branch);
  if (!branch)
    return fail("MALFORMED", `branch must be a list of at most ${MAX_BRANCH_LENGTH} 64-digit hashes`);
  if (!(recordBytes instanceof Uint8Array)) return fail("MALFORMED", "record bytes must be a Uint8Array");
  const index = p.index;
  const count = p.count;
  if (index >= count) return fail("BAD_INDEX", `index ${index} is outside a block of ${count} records`);
  const depth = treeDepth(count);
  if (branch.length !== depth)
    return fail("BAD_DEPTH", `a block of ${count} records needs a branch of ${depth}, not ${branch.length}`);
  let minerBytes = recordBytes;
  let minerBranch = branch;
  if (index !== 0) {
    const m = p.miner as { record?: unknown; branch?: unknown } | undefined;
    if (typeof m !== "object" || m === null)
      return fail("BAD_MINER_PROOF", "the miner record and its branch are missing");
    const mb = hashList(m.branch);
    if (typeof m.record !== "string" || !HEX.test(m.record) || m.record.length > 2 * 1024 || !mb)
      return fail("MALFORMED", "miner must hold the miner record's hex and its branch");
    minerBytes = hexBytes(m.record);
    minerBranch = mb;
    if (minerBranch.length !== depth)
      return fail(
        "BAD_MINER_PROOF",
        `the miner record's branch has ${minerBranch.length} levels, not ${depth}`,
      );
  }
  const rec = readProvedRecord(recordBytes, index);
  if ("valid" in rec) return rec;
  const miner = index === 0 ? rec : readProvedRecord(minerBytes, 0);
  if ("valid" in miner) return fail("BAD_MINER_PROOF", `miner record: ${miner.reason}`);

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

  const merkleRoot = header.subarray(36, 68);
  const id = sha256d(recordBytes);
  const folded = foldBranch(id, index, count, branch);
  if ("duplicate" in folded) return fail("DUPLICATE_NODE", folded.duplicate);
  if (!equal32(folded.root, merkleRoot))
    return fail("ROOT_MISMATCH", "the branch does not lead to the header's merkle root");
  if (index !== 0) {
    const m = foldBranch(sha256d(minerBytes), 0, count, minerBranch);
    if (!("root" in m) || !equal32(m.root, merkleRoot))
      return fail("BAD_MINER_PROOF", "the miner record's branch does not lead to the header's merkle root");
  }
  const height = miner.type === "miner" ? miner.height : 0;
  return { valid: true, id: displayHex(id), blockHash, height, time, bits };
}
