import type { Block } from "../consensus/block.ts";
import type { BlockError, BlockErrorCode, BlockErrorData } from "../consensus/errors.ts";
import type { BlockHeader } from "../consensus/header.ts";

/**
 * Validation state of a block in the tree, following Bitcoin Core's BlockStatus:
 * - "accepted": stored; header, context and body sanity checked; record signatures not yet checked;
 * - "valid": fully validated (it was connected to the main chain at least once);
 * - "invalid": broke a rule when connected; "invalid-child": descends from an invalid block.
 */
export type EntryStatus = "accepted" | "valid" | "invalid" | "invalid-child";

/** One block in the block tree. Header only: bodies stay on disk. */
export interface ChainEntry {
  /** Display hash (byte-reversed hex). */
  readonly hash: string;
  /** Internal-order hash bytes. */
  readonly hashBytes: Uint8Array;
  readonly header: BlockHeader;
  readonly height: number;
  /** Sum of block work from genesis to this block inclusive. */
  readonly chainWork: bigint;
  /** Arrival order, persisted: on equal work the entry seen first wins, also after a restart. */
  readonly seq: number;
  /** Serialized block size in bytes. */
  readonly size: number;
  /** Name in the miner record, so the API can show who won a block without reading its body. */
  readonly miner: string;
  /** Number of records in the block, miner record included. */
  readonly recordCount: number;
  status: EntryStatus;
  /** The rule it broke, when status is "invalid". */
  invalid?: BlockErrorData | undefined;
  parent: ChainEntry | undefined;
}

/** Where a confirmed record sits on the main chain. */
export interface RecordLocation {
  /** Display hash of the block (as ChainEntry.hash). */
  blockHash: string;
  height: number;
  /** Position of the record in the block (0 is the miner record). */
  index: number;
}

/** What a reorg changed: blocks that left the main chain and blocks that joined it, oldest first. */
export interface Reorg {
  /** The common ancestor. */
  fork: ChainEntry;
  disconnected: ChainEntry[];
  connected: ChainEntry[];
  /** Number of blocks that left the main chain. */
  depth: number;
}

/** Outcome of processBlock. */
export type ProcessResult =
  /** Block is the new tip (or on the new main chain after a reorg it caused). */
  | { status: "main"; hash: string; height: number; reorg?: Reorg }
  /**
   * On a side branch with less (or equal, later-seen) work: stored, or, with `headerOnly`, only its header
   * kept (a block nobody asked for on a branch without a chance, docs/protocol.md). `needsBodies`: that
   * branch now has more work than the tip, but bodies below this block are missing (a sync brings them).
   */
  | { status: "side"; hash: string; height: number; headerOnly?: true; needsBodies?: true }
  /** Parent unknown: held in the orphan pool until it arrives. */
  | { status: "orphan"; hash: string; missingParent: string }
  /** Already known (in the tree or in the orphan pool). */
  | { status: "duplicate"; hash: string };

/** Typed events the chain emits after each state change is committed to the store. */
export interface ChainEvents {
  /** A block joined the main chain. */
  connected: [entry: ChainEntry, block: Block];
  /** A block left the main chain (reorg), newest first, before the new branch's `connected` events. */
  disconnected: [entry: ChainEntry, block: Block];
  /** The tip changed. `reorg` is set when blocks were disconnected. */
  tip: [event: { tip: ChainEntry; previous: ChainEntry; reorg?: Reorg }];
  /** A block was stored on a side branch. */
  side: [entry: ChainEntry];
  /** A block was rejected: the rule it broke (its BlockError's code) and the penalty its sender deserves. */
  invalid: [event: { hash: string; code: BlockErrorCode; penalty: number }];
  /**
   * A processBlock call settled: how long it took, waiting in the queue included, and how it ended
   * (`invalid` for a BlockError, `error` for anything else). For monitoring (the node's metrics).
   */
  processed: [
    event: {
      seconds: number;
      /**
       * The part of `seconds` the call ran once its turn came (its wait in the queue excluded): for a block
       * refused or parked before it is stored, main-thread time.
       */
      busy: number;
      outcome: ProcessResult["status"] | "invalid" | "error";
    },
  ];
}

/** What waits inside the chain (for monitoring): the queue, the pools (as bytes) and the held headers. */
export interface ChainBacklog {
  /** Calls in the block queue, the running one included. */
  queued: number;
  orphans: number;
  orphanBytes: number;
  future: number;
  futureBytes: number;
  /** Headers held without bodies. */
  headers: number;
}

/** What a miner needs to build the next block on the current tip. */
export interface NextBlockContext {
  prevHash: Uint8Array;
  prevHashHex: string;
  height: number;
  bits: number;
  /** Earliest valid time: median time past + 1. */
  minTime: number;
  /** Latest time accepted now: clock + max future drift. */
  maxTime: number;
}

/** The entries of a checked run of headers (Chain.checkHeaders), and the error that stopped it, if one did. */
export interface HeaderRun {
  /** One entry per header that passed, in order; a header already in the tree gives its tree entry. */
  entries: ChainEntry[];
  /** The first header that failed and why (its BlockError's penalty prices the sender). */
  error?: { index: number; error: BlockError };
}
