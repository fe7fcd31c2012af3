/**
 * Why the chain refused a call. A block's own faults are BlockErrors (src/consensus/errors.ts), not these:
 * a ChainError says the node would not spend more on the call now, never that a block is invalid, so no
 * hash is remembered as invalid for one.
 */
export type ChainErrorCode =
  /** The chain was closed (Chain.close): it takes no new call. */
  | "CLOSED"
  /** The block queue is full, in all or for this source: try again later (penalty 0). */
  | "BUSY"
  /** An unrequested block on a chain with less work than the network's `minChainWork` (penalty 0). */
  | "LOW_WORK"
  /**
   * An unrequested block below the tip's work whose header the node would not keep: its source (penalty
   * SIDE_QUOTA_PENALTY) or its fork point (penalty 0) has used its share (docs/protocol.md).
   */
  | "SIDE_QUOTA";

/** Points a source pays for each unrequested low-work block past its share of held headers. */
export const SIDE_QUOTA_PENALTY = 10;

/** A call the chain refused, with a code a caller can test instead of the message. */
export class ChainError extends Error {
  constructor(
    readonly code: ChainErrorCode,
    message: string,
    /** What the sender deserves for it, on the scale of BlockError penalties (100 bans). */
    readonly penalty = 0,
  ) {
    super(message);
    this.name = "ChainError";
  }
}
