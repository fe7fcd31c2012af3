import { bytesEqual } from "./bytes.ts";
import { sha256d } from "./hash.ts";

export interface MerkleResult {
  root: Uint8Array;
  /**
   * True when two identical hashes were paired at some level: the list can then be altered (for
   * example by repeating the last records) without changing the root, CVE-2012-2459.
   */
  mutated: boolean;
}

/**
 * Bitcoin's merkle root over leaf hashes: pairs are double-SHA-256'd, an odd last hash is paired with
 * itself. Reports mutation as Bitcoin Core's ComputeMerkleRoot does. An empty list gives 32 zero bytes.
 */
export function computeMerkleRoot(leaves: readonly Uint8Array[]): MerkleResult {
  if (leaves.length === 0) return { root: new Uint8Array(32), mutated: false };
  let level = leaves.slice();
  let mutated = false;
  const pair = new Uint8Array(64);
  while (level.length > 1) {
    for (let i = 0; i + 1 < level.length; i += 2) {
      if (bytesEqual(level[i]!, level[i + 1]!)) mutated = true;
    }
    if (level.length & 1) level.push(level[level.length - 1]!);
    const next: Uint8Array[] = new Array(level.length / 2);
    for (let i = 0; i < level.length; i += 2) {
      pair.set(level[i]!, 0);
      pair.set(level[i + 1]!, 32);
      next[i / 2] = sha256d(pair);
    }
    level = next;
  }
  return { root: level[0]!, mutated };
}

/** The merkle root alone. */
export function merkleRoot(leaves: readonly Uint8Array[]): Uint8Array {
  return computeMerkleRoot(leaves).root;
}
