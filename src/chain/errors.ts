/**
 * Why the chain refused a call. A block's own faults are BlockErrors (src/consensus/errors.ts), not these.
 */
export type ChainErrorCode =
  /** The chain was closed (Chain.close): it takes no new call. */
  "CLOSED";

/** A call the chain refused, with a code a caller can test instead of the message. */
export class ChainError extends Error {
  constructor(
    readonly code: ChainErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "ChainError";
  }
}
