/**
 * What a reorg took off the main chain after the pool's last save (docs/ledger-design.md, "The pool's
 * file and reorgs"). The chain writes a reorg in one batch and keeps the blocks it disconnected, with
 * status "valid" (connected at least once); the records those blocks lose live only in the pool until
 * its next save. A kill in between would lose them, so the file says where the pool had followed the
 * chain to (its tip, and the highest arrival number `seen` of a block it saw connect or disconnect), and
 * at load the blocks that were on the main chain after the save and are not now are found again:
 *
 * - the saved tip and its ancestors down to the main chain (main at the save, gone since);
 * - every "valid" block off the main chain that arrived after the last block the pool saw (it was
 *   connected after the save, so it was main then), and its ancestors down to the main chain (main with
 *   it). A reorg onto an older branch is reached through the newer block that made that branch heavier.
 *
 * Not found: blocks connected by a switch to an older branch without any newer block (the best branch
 * found invalid) and disconnected again before the save that follows.
 */
import type { ChainEntry } from "../chain/types.ts";
import type { Block } from "../consensus/block.ts";
import type { Logger } from "../util/logger.ts";
import { planSwitch } from "./reorg.ts";
import type { AdmitResult, PoolChain } from "./types.ts";

/** Where the saved pool had followed the chain to. */
export interface FollowedTo {
  /** The tip (display hash). */
  tip: string;
  /** The highest arrival number (ChainEntry.seq) of a block the pool saw connect or disconnect. */
  seen: number;
}

/**
 * The blocks that left the main chain after the save `saved` describes, oldest first (by height, then
 * arrival), read from the store; a block whose body is not stored is skipped with a warning.
 */
export async function leftSince(chain: PoolChain, saved: FollowedTo, log: Logger): Promise<Block[]> {
  const starts: ChainEntry[] = [];
  const savedTip = chain.getEntry(saved.tip);
  if (!savedTip)
    log.warn({ tip: saved.tip }, "the mempool file was saved on a block this chain does not know");
  else if (!chain.isMain(savedTip)) starts.push(savedTip);
  // Nothing connected since the save: nothing can have left (the common case, a clean restart).
  if (saved.tip !== chain.tip.hash)
    for (const e of chain.entriesFrom(0))
      if (e.seq > saved.seen && e.status === "valid" && !chain.isMain(e)) starts.push(e);
  const left = new Map<string, ChainEntry>();
  for (const start of starts)
    for (let e: ChainEntry | undefined = start; e && !chain.isMain(e) && !left.has(e.hash); e = e.parent)
      left.set(e.hash, e);
  const order = [...left.values()].sort((a, b) => a.height - b.height || a.seq - b.seq);
  const blocks: Block[] = [];
  for (const e of order) {
    const block = await chain.getBlock(e.hash);
    if (block) blocks.push(block);
    else log.warn({ block: e.hash }, "a block that left the main chain is not stored: its records stay lost");
  }
  return blocks;
}

/**
 * The highest arrival number in the chain's tree: where a pool that starts now has followed the chain to
 * (every block there arrived before it started).
 */
export function newestArrival(chain: PoolChain): number {
  let seen = chain.tip.seq;
  for (const e of chain.entriesFrom(0)) if (e.seq > seen) seen = e.seq;
  return seen;
}

/**
 * Admits the records of the blocks that left the main chain after the save (`leftSince`) as a reorg
 * returns them, oldest block first, through `admit` (the pool's one admission path). Returns how many
 * came back.
 */
export async function returnLeft(
  chain: PoolChain,
  saved: FollowedTo,
  log: Logger,
  admit: (bytes: Uint8Array) => Promise<AdmitResult>,
): Promise<number> {
  const blocks = await leftSince(chain, saved, log);
  let returned = 0;
  for (const { bytes } of planSwitch({ disconnected: blocks, connected: [] }).returned) {
    if ((await admit(bytes)).ok) returned++;
  }
  if (blocks.length > 0)
    log.info(
      { blocks: blocks.length, returned },
      "returned the records of blocks that left the main chain after the last save",
    );
  return returned;
}

/**
 * Admits the saved records through `admit` (the pool's one admission path), in their saved order,
 * dropping those that arrived at or before `cutoff` (expired). Counts what happened; a record already
 * pending (returned by a reorg first) is neither loaded nor refused.
 */
export async function admitSaved<R extends { time: number }>(
  records: readonly R[],
  cutoff: number,
  admit: (saved: R) => Promise<AdmitResult>,
): Promise<{ loaded: number; expired: number; refused: number }> {
  let loaded = 0;
  let expired = 0;
  let refused = 0;
  for (const saved of records) {
    if (saved.time <= cutoff) {
      expired++;
      continue;
    }
    const r = await admit(saved);
    if (r.ok) loaded++;
    else if (r.error.code !== "ALREADY_PENDING") refused++;
  }
  return { loaded, expired, refused };
}
