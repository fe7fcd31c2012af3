/**
 * Messages between the explorer page and its light-client worker (worker.ts). Plain JSON shapes:
 * chain work travels as a decimal string, since a bigint would survive structured cloning but not a log.
 */

/** A header the browser verified itself: height, display hash, chain work from genesis. */
export interface VerifiedTip {
  height: number;
  hash: string;
  /** Decimal chain work, genesis included. */
  chainWork: string;
}

/** A check the node's headers failed, as src/light names it (LightFault without the bigint). */
export interface LightFaultView {
  code: string;
  height?: number;
  hash?: string;
  reason: string;
}

/** What the worker knows: the chain it verified and what it thinks of the node that served it. */
export interface LightStatus {
  phase: "starting" | "syncing" | "ready" | "error";
  /** The node's header routes, as the worker names the source in faults. */
  source: string;
  network?: string;
  /** The best chain this browser verified (from genesis). */
  verified?: VerifiedTip;
  /** The tip the node's header route claims. */
  claim?: VerifiedTip;
  /** src/light's verdict on the node after the last sync. */
  verdict?: "faulty" | "agrees" | "disagrees" | "behind-window" | "silent";
  fault?: LightFaultView;
  /** The node could not be asked (no verdict on its honesty), or the worker failed. */
  error?: string;
  /** Milliseconds of the first sync from genesis, and how many headers it checked. */
  firstSync?: { ms: number; headers: number };
}

/** A block the node reports, to hold against the browser's chain. */
export interface BlockClaim {
  height: number;
  hash: string;
}

/**
 * A block against the browser-verified chain: `verified` (that hash at that height), `conflict` (the
 * browser verified another header there), `above` (higher than the browser-verified tip).
 */
export type BlockMark =
  | { hash: string; mark: "verified"; confirmations: number; workOnTop: number }
  | { hash: string; mark: "conflict"; verifiedHash: string }
  | { hash: string; mark: "above"; verifiedHeight: number };

/** A question; the worker syncs with the node before it answers (syncs are coalesced). */
export type ToWorker = { type: "query"; id: number; blocks: BlockClaim[] };

export type FromWorker =
  | { type: "status"; status: LightStatus }
  | { type: "answer"; id: number; marks: BlockMark[] };
