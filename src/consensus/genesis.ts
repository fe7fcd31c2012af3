import { BlockError } from "./errors.ts";
import type { BlockHeader } from "./header.ts";
import type { NetworkParams } from "./params.ts";

/**
 * The two rules about where a chain starts and which history it must keep, beside the block rules of
 * validate.ts. The chain runs them with its other checks (src/chain/connect.ts).
 */

/** Whether a header claims to start a chain: its parent hash is all zeros. */
export function claimsGenesis(header: BlockHeader): boolean {
  for (const b of header.prevHash) if (b !== 0) return false;
  return true;
}

/** The one block without a parent must be this network's genesis block (`BAD_GENESIS`). */
export function checkGenesis(hashHex: string, params: NetworkParams): void {
  if (hashHex !== params.genesisHash) throw new BlockError({ code: "BAD_GENESIS", hash: hashHex }, hashHex);
}

/** The highest checkpoint of a network, if it has any. */
export function lastCheckpoint(params: NetworkParams): { height: number; hash: string } | undefined {
  let last: { height: number; hash: string } | undefined;
  for (const [height, hash] of params.checkpoints) if (!last || height > last.height) last = { height, hash };
  return last;
}

/**
 * Once a node holds the last checkpoint (`held`: that checkpoint, or undefined while the node does not have
 * it), a new block below its height would fork the checkpointed history: refused (`FORK_BEFORE_CHECKPOINT`),
 * as Bitcoin Core refused forks below its last checkpoint. A block at a checkpoint height with another hash
 * is `CHECKPOINT_MISMATCH`, checked with the rest of the context (checkBlockContext).
 * A `final` checkpoint (one the node's witnesses cosigned, docs/ledger-design.md "Witnessed checkpoints")
 * has no hash in the params, so it is held by ancestry: a new block at or below its height, or above it on
 * a branch whose block at that height (`ancestorHash`) is another, is refused the same way.
 */
export function checkCheckpoint(
  height: number,
  hashHex: string,
  held: { height: number; hash?: string; final?: boolean } | undefined,
  ancestorHash?: (height: number) => string | undefined,
): void {
  if (!held) return;
  const forks =
    height < held.height ||
    (held.final === true &&
      (height === held.height || (ancestorHash !== undefined && ancestorHash(held.height) !== held.hash)));
  if (forks)
    throw new BlockError({ code: "FORK_BEFORE_CHECKPOINT", height, checkpointHeight: held.height }, hashHex);
}
