import { checkBlockAuthors } from "../consensus/authors.ts";
import { type Block, recordIds } from "../consensus/block.ts";
import { BlockError } from "../consensus/errors.ts";
import { checkCheckpoint, checkGenesis } from "../consensus/genesis.ts";
import type { BlockHeader } from "../consensus/header.ts";
import type { NetworkParams } from "../consensus/params.ts";
import type { SignatureCache } from "../consensus/sigcache.ts";
import { runSteps, type Steps } from "../consensus/steps.ts";
import {
  type BlockContext,
  type BlockFacts,
  blockRecordsSteps,
  blockSanitySteps,
  type ConfirmedIn,
  checkBlockContext,
  checkHeaderContext,
  recordsUniqueSteps,
} from "../consensus/validate.ts";
import { runSliced } from "../util/slices.ts";

/**
 * The one set of block checks. Every path a block takes runs this function: processBlock (when the block
 * joins the tree, and again for its records when it joins the main chain), processBlocks, the startup
 * re-check and verifyChain. The stages, always in this order, each throwing a BlockError on the first
 * broken rule:
 *   1. sanity (checkBlockSanity): needs only the block, the params and the clock;
 *   2. context, where the block sits: a block without a parent must be the genesis (checkGenesis); one
 *      whose parent is not known yet (an orphan) has nothing more to check until it arrives; a child of an
 *      invalid block is INVALID_PARENT; a new block below a checkpoint the node holds is
 *      FORK_BEFORE_CHECKPOINT (checkCheckpoint); then checkBlockContext (bits, median time past, height,
 *      checkpoint hash) and, on a network with an author policy, checkBlockAuthors (UNAUTHORISED_AUTHOR:
 *      a set lookup per record, so side blocks are judged too);
 *   3. records: the exactly-once rule (checkRecordsUnique, DUPLICATE_RECORD, against `confirmedIn`), then
 *      signatures (checkBlockRecords), deferred until the block joins the main chain, as Bitcoin
 *      Core defers script checks to ConnectBlock.
 * A caller starts after the stages a block already passed (`from`, with the facts sanity found) and stops
 * before the records when the block only joins the tree (`to: "context"`).
 *
 * The checks are consensus's steps (consensus/steps.ts): `checkBlock` runs them at once (startup, verify),
 * `checkBlockSliced` in the node's time slices (util/slices.ts), so that a maximum-size block does not hold
 * the event loop (processBlock, processBlocks: docs/benchmarks.md, "A maximum-size block in slices").
 */

/** What the checks need to know about a block's parent, however the caller keeps its chain. */
export interface ParentView {
  hash: string;
  height: number;
  /** The parent is invalid or descends from an invalid block. */
  invalid: boolean;
  /** Bits and median time past a child must respect; asked only once the cheaper checks passed. */
  childContext(): Omit<BlockContext, "height">;
  /** The hash of the parent's ancestor (or itself) at `height`: the final checkpoint's check. */
  ancestorHash?(height: number): string | undefined;
}

/** Where a block sits: under a known parent, at the start of the chain, or under a parent not known yet. */
export type Position = { parent: ParentView } | "genesis" | "orphan";

export type Stage = "sanity" | "context" | "records";

export interface CheckOptions {
  /** The clock, for the future-time rule (Number.MAX_SAFE_INTEGER for blocks already stored). */
  now: number;
  /** Serialized size, when the caller has the bytes. */
  size?: number | undefined;
  /**
   * First stage to run (default "sanity"); a later start takes the facts sanity found earlier (without them
   * sanity runs anyway).
   */
  from?: Stage;
  facts?: BlockFacts;
  /** Last stage to run (default "records"). */
  to?: Stage;
  /**
   * For the records stage: where a record id is already confirmed in the block's ancestry (the chain's
   * record-id index seen through the branch being connected). Every path passes it; without it the
   * exactly-once rule is not checked.
   */
  confirmedIn?: ConfirmedIn | undefined;
  /** The last checkpoint, when the node's tree holds it: new blocks may not fork below it. */
  heldCheckpoint?: { height: number; hash?: string; final?: boolean } | undefined;
  /**
   * Signatures verified before (the mempool's admissions): a record found here is not verified again at
   * the records stage (consensus/sigcache.ts).
   */
  signatures?: SignatureCache | undefined;
}

const ORDER: Record<Stage, number> = { sanity: 0, context: 1, records: 2 };

/** Runs the block checks from `opts.from` to `opts.to` in their one order; returns what sanity found. */
export function checkBlock(
  block: Block,
  hash: Uint8Array,
  params: NetworkParams,
  at: Position,
  opts: CheckOptions,
): BlockFacts {
  return runSteps(checkBlockSteps(block, hash, params, at, opts));
}

/** checkBlock in the node's time slices: the same checks, result and error, the event loop served between. */
export function checkBlockSliced(
  block: Block,
  hash: Uint8Array,
  params: NetworkParams,
  at: Position,
  opts: CheckOptions,
): Promise<BlockFacts> {
  // A small block's checks take well under a slice (32 signatures at most): run at once, without the
  // slicing's promises (3% of a 10-record block's processBlock, bench:interleaved).
  if (block.records.length <= SMALL_BLOCK_RECORDS) {
    try {
      return Promise.resolve(checkBlock(block, hash, params, at, opts));
    } catch (err) {
      return Promise.reject(err);
    }
  }
  return runSliced(checkBlockSteps(block, hash, params, at, opts));
}

/** Blocks of at most this many records are checked at once by checkBlockSliced. */
const SMALL_BLOCK_RECORDS = 32;

function* checkBlockSteps(
  block: Block,
  hash: Uint8Array,
  params: NetworkParams,
  at: Position,
  opts: CheckOptions,
): Steps<BlockFacts> {
  const from = ORDER[opts.from ?? "sanity"];
  const to = ORDER[opts.to ?? "records"];
  let facts = opts.facts;
  if (from <= 0 || !facts) facts = yield* blockSanitySteps(block, hash, params, opts.now, opts.size);
  if (to < 1) return facts;
  const hashHex = facts.hashHex;
  if (from <= 1) {
    if (at === "genesis") checkGenesis(hashHex, params);
    else if (at !== "orphan") {
      const parent = at.parent;
      if (parent.invalid) throw new BlockError({ code: "INVALID_PARENT", parent: parent.hash }, hashHex);
      const height = parent.height + 1;
      checkCheckpoint(height, hashHex, opts.heldCheckpoint, parent.ancestorHash);
      checkBlockContext(block, facts, { height, ...parent.childContext() }, params);
      checkBlockAuthors(block, height, params.authors, hashHex);
    }
  }
  if (to >= 2 && at !== "orphan") {
    const ids = facts.ids ?? recordIds(block);
    if (opts.confirmedIn) yield* recordsUniqueSteps(hashHex, ids, opts.confirmedIn);
    // The ids are this block's own (sanity computed them from its records), so a cached id is this record.
    const verified = opts.signatures && { cache: opts.signatures, ids };
    yield* blockRecordsSteps(block, hashHex, verified);
  }
  return facts;
}

/**
 * The context checks a header allows against a known parent, before anything is spent on the body, in
 * checkBlock's order: INVALID_PARENT, FORK_BEFORE_CHECKPOINT, then bits, median time past and checkpoint hash
 * (checkHeaderContext). checkBlock runs them again, with BAD_HEIGHT, when the block's body is kept.
 */
export function checkHeaderPlace(
  header: BlockHeader,
  hashHex: string,
  params: NetworkParams,
  parent: ParentView,
  heldCheckpoint: { height: number } | undefined,
): void {
  if (parent.invalid) throw new BlockError({ code: "INVALID_PARENT", parent: parent.hash }, hashHex);
  const height = parent.height + 1;
  checkCheckpoint(height, hashHex, heldCheckpoint);
  checkHeaderContext(header, hashHex, { height, ...parent.childContext() }, params);
}
