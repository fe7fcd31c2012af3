import { bytesEqual } from "./bytes.ts";
import { sha256d } from "./hash.ts";
import { runSteps, STEP_UNITS, type Steps } from "./steps.ts";

export interface MerkleResult {
  root: Uint8Array;
  /**
   * True when two identical hashes were paired at some level: the list can then be altered (for
   * example by repeating the last records) without changing the root, CVE-2012-2459.
   */
  mutated: boolean;
  /** The upper levels (see `UPPER_TREE_LEVEL`), when asked for and the tree has any. */
  upper?: Uint8Array;
}

/**
 * The lowest level of a block's merkle tree that the store keeps (docs/storage.md, 'm' keys): a node at
 * level 5 covers 32 records. With the levels from here to below the root on disk, an inclusion proof
 * hashes at most 32 records and 31 pairs of the block instead of all of them, for about 2 bytes a record
 * (each level halves, so the kept nodes number about 2 · n / 32). A tree of at most 32 leaves has no such
 * level below its root: nothing is kept for it.
 */
export const UPPER_TREE_LEVEL = 5;
/** Leaves under one node of `UPPER_TREE_LEVEL`. */
export const UPPER_TREE_SPAN = 2 ** UPPER_TREE_LEVEL;

/** Levels of the tree above its leaves (0 for a single leaf): the length of every branch. */
export function treeDepth(leaves: number): number {
  let depth = 0;
  for (let w = leaves; w > 1; w = Math.ceil(w / 2)) depth++;
  return depth;
}

/** Bytes of the upper levels of a tree of `leaves` leaves (0 when it has none). */
export function upperTreeSize(leaves: number): number {
  let nodes = 0;
  const depth = treeDepth(leaves);
  for (let k = UPPER_TREE_LEVEL; k < depth; k++) nodes += Math.ceil(leaves / 2 ** k);
  return nodes * 32;
}

/**
 * Bitcoin's merkle root over leaf hashes: pairs are double-SHA-256'd, an odd last hash is paired with
 * itself. Reports mutation as Bitcoin Core's ComputeMerkleRoot does. An empty list gives 32 zero bytes.
 * With `keepUpper`, also returns the nodes of levels UPPER_TREE_LEVEL up to (not including) the root,
 * level by level, each level without the duplicated last node: they are computed here anyway, and the
 * store keeps them for proofs.
 */
export function computeMerkleRoot(leaves: readonly Uint8Array[], keepUpper = false): MerkleResult {
  return runSteps(merkleSteps(leaves, keepUpper));
}

/** computeMerkleRoot in steps (steps.ts): a yield every STEP_UNITS pairs hashed. */
export function* merkleSteps(leaves: readonly Uint8Array[], keepUpper = false): Steps<MerkleResult> {
  if (leaves.length === 0) return { root: new Uint8Array(32), mutated: false };
  const upperBytes = keepUpper ? upperTreeSize(leaves.length) : 0;
  const upper = upperBytes > 0 ? new Uint8Array(upperBytes) : undefined;
  let at = 0;
  let level = leaves.slice();
  let mutated = false;
  let depth = 0;
  const pair = new Uint8Array(64);
  while (level.length > 1) {
    for (let i = 0; i + 1 < level.length; i += 2) {
      if (bytesEqual(level[i]!, level[i + 1]!)) mutated = true;
    }
    if (level.length & 1) level.push(level[level.length - 1]!);
    const next: Uint8Array[] = new Array(level.length / 2);
    for (let from = 0; from < next.length; from += STEP_UNITS) {
      if (from > 0) yield;
      hashPairs(level, next, from, Math.min(next.length, from + STEP_UNITS), pair);
    }
    level = next;
    depth++;
    if (upper && depth >= UPPER_TREE_LEVEL && level.length > 1) {
      for (const node of level) {
        upper.set(node, at);
        at += 32;
      }
    }
  }
  return upper ? { root: level[0]!, mutated, upper } : { root: level[0]!, mutated };
}

/** Nodes [from, to) of the level above `level` (of even length), in a plain loop (faster than a generator's). */
function hashPairs(
  level: readonly Uint8Array[],
  next: Uint8Array[],
  from: number,
  to: number,
  pair: Uint8Array,
): void {
  for (let j = from; j < to; j++) {
    pair.set(level[2 * j]!, 0);
    pair.set(level[2 * j + 1]!, 32);
    next[j] = sha256d(pair);
  }
}

/** The merkle root alone. */
export function merkleRoot(leaves: readonly Uint8Array[]): Uint8Array {
  return computeMerkleRoot(leaves).root;
}

/**
 * Which leaves `merkleBranchFromUpper` needs for the leaf at `index` of a tree of `count` leaves: the
 * aligned run of UPPER_TREE_SPAN leaves that holds it (all of them when the tree has no upper levels).
 */
export function branchLeafRange(index: number, count: number): { from: number; to: number } {
  if (count <= UPPER_TREE_SPAN) return { from: 0, to: count };
  const from = index - (index % UPPER_TREE_SPAN);
  return { from, to: Math.min(count, from + UPPER_TREE_SPAN) };
}

/**
 * The merkle branch (siblings from leaf to root) of the leaf at `index` in a tree of `count` leaves, from
 * only the leaves `branchLeafRange` names and the tree's upper levels as `computeMerkleRoot(…, true)`
 * returns them (undefined when the tree has none). The bottom levels are rebuilt from those leaves (an
 * aligned run pairs exactly as in the whole tree, and the run at the end of the tree duplicates its last
 * node as the whole tree does); the rebuilt node must be the one the upper levels hold, or a RangeError
 * says the two do not belong together. The same branch as `merkleBranch(merkleLevels(leaves), index)`, and
 * the root that folding the leaf along it gives (to compare with the header's: proof.ts's foldBranch, with
 * this module's hash, which a Node host makes node:crypto's).
 */
export function merkleBranchFromUpper(
  leaves: readonly Uint8Array[],
  index: number,
  count: number,
  upper: Uint8Array | undefined,
): { branch: Uint8Array[]; root: Uint8Array } {
  if (!Number.isInteger(index) || index < 0 || index >= count)
    throw new RangeError(`index ${index} outside a tree of ${count} leaves`);
  const range = branchLeafRange(index, count);
  if (leaves.length !== range.to - range.from)
    throw new RangeError(`need the ${range.to - range.from} leaves from ${range.from}, got ${leaves.length}`);
  const depth = treeDepth(count);
  const expected = upperTreeSize(count);
  if ((upper?.length ?? 0) !== expected)
    throw new RangeError(`upper levels of ${upper?.length ?? 0} bytes, a tree of ${count} needs ${expected}`);
  const branch: Uint8Array[] = [];
  const pair = new Uint8Array(64);
  let level = leaves.slice();
  let i = index - range.from;
  for (let d = 0; d < Math.min(depth, UPPER_TREE_LEVEL); d++) {
    branch.push(level[i ^ 1] ?? level[i]!);
    const next: Uint8Array[] = new Array(Math.ceil(level.length / 2));
    for (let j = 0; j < level.length; j += 2) {
      pair.set(level[j]!, 0);
      pair.set(level[j + 1] ?? level[j]!, 32);
      next[j >>> 1] = sha256d(pair);
    }
    level = next;
    i >>>= 1;
  }
  const fold = (): { branch: Uint8Array[]; root: Uint8Array } => {
    let node = leaves[index - range.from]!;
    for (let d = 0; d < branch.length; d++) {
      const right = Math.floor(index / 2 ** d) % 2 === 1;
      pair.set(right ? branch[d]! : node, 0);
      pair.set(right ? node : branch[d]!, 32);
      node = sha256d(pair);
    }
    return { branch, root: node };
  };
  if (!upper) return fold();
  let offset = 0;
  for (let k = UPPER_TREE_LEVEL; k < depth; k++) {
    const width = Math.ceil(count / 2 ** k);
    const g = Math.floor(index / 2 ** k);
    const node = (j: number): Uint8Array => upper.subarray(offset + 32 * j, offset + 32 * j + 32);
    if (k === UPPER_TREE_LEVEL && !bytesEqual(node(g), level[0]!))
      throw new RangeError(`the leaves do not give node ${g} of level ${k} of the upper levels`);
    branch.push(node((g ^ 1) < width ? g ^ 1 : g).slice());
    offset += 32 * width;
  }
  return fold();
}
