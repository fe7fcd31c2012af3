/**
 * Why the mempool did not take a record. One error class with a code per reason and per-code data, and
 * a penalty for the peer that relayed it (0: not its fault, 100: ban), as consensus/errors.ts does for
 * blocks. The mempool never talks to peers or HTTP clients: the net layer turns the penalty into score,
 * the API turns the code into a status (docs/ledger-design.md has the table).
 */
import type { AuthorRefusal } from "../consensus/authors.ts";

export const MempoolErrorCode = {
  /** Bytes do not decode to exactly one record. */
  MALFORMED: "MALFORMED",
  /** The encoded record is above the network's `maxRecordSize`. */
  RECORD_TOO_LARGE: "RECORD_TOO_LARGE",
  /** The encoded record is exactly 64 bytes, which consensus forbids (docs/consensus.md, "The 64-byte rule"). */
  RECORD_64_BYTES: "RECORD_64_BYTES",
  /** Miner records are made by the miner of a block, never submitted. */
  MINER_RECORD: "MINER_RECORD",
  /** A signed record whose ed25519 signature does not verify. */
  BAD_SIGNATURE: "BAD_SIGNATURE",
  /** Already waiting in the pool: not an error for a client, who is told it is pending. */
  ALREADY_PENDING: "ALREADY_PENDING",
  /** Already in a main-chain block: a peer may relay it before it sees that block. */
  ALREADY_CONFIRMED: "ALREADY_CONFIRMED",
  /** The pool is at its byte or count bound; accepted records are never dropped to make room. */
  MEMPOOL_FULL: "MEMPOOL_FULL",
  /** The network's author policy does not let this record's author write at the next height (consensus/authors.ts). */
  UNAUTHORISED_AUTHOR: "UNAUTHORISED_AUTHOR",
} as const;
export type MempoolErrorCode = (typeof MempoolErrorCode)[keyof typeof MempoolErrorCode];

export type MempoolErrorData =
  | { code: "MALFORMED"; reason: string }
  | { code: "RECORD_TOO_LARGE"; size: number; max: number }
  | { code: "RECORD_64_BYTES" }
  | { code: "MINER_RECORD" }
  | { code: "BAD_SIGNATURE" }
  | { code: "ALREADY_PENDING"; id: string }
  | { code: "ALREADY_CONFIRMED"; id: string }
  | { code: "MEMPOOL_FULL"; count: number; bytes: number; maxCount: number; maxBytes: number }
  | ({ code: "UNAUTHORISED_AUTHOR" } & AuthorRefusal);

/** Penalty per code for the peer that relayed the record; 100 bans. */
export const MEMPOOL_ERROR_PENALTY: Record<MempoolErrorCode, number> = {
  MALFORMED: 100,
  RECORD_TOO_LARGE: 100,
  RECORD_64_BYTES: 100,
  MINER_RECORD: 100,
  BAD_SIGNATURE: 100,
  ALREADY_PENDING: 0,
  ALREADY_CONFIRMED: 0,
  MEMPOOL_FULL: 0,
  // Whom a record may come from is this node's policy: a peer on an older or newer one relays in good faith.
  UNAUTHORISED_AUTHOR: 0,
};

function describe(d: MempoolErrorData): string {
  switch (d.code) {
    case "MALFORMED":
      return `malformed record: ${d.reason}`;
    case "RECORD_TOO_LARGE":
      return `record of ${d.size} bytes exceeds ${d.max}`;
    case "RECORD_64_BYTES":
      return "a record of exactly 64 bytes is forbidden (it could be read as a merkle inner node): add or remove a byte";
    case "MINER_RECORD":
      return "miner records cannot be submitted";
    case "BAD_SIGNATURE":
      return "record signature does not verify";
    case "ALREADY_PENDING":
      return `record ${d.id} is already pending`;
    case "ALREADY_CONFIRMED":
      return `record ${d.id} is already confirmed`;
    case "MEMPOOL_FULL":
      return `mempool full: ${d.count}/${d.maxCount} records, ${d.bytes}/${d.maxBytes} bytes`;
    case "UNAUTHORISED_AUTHOR":
      return `${d.author === null ? "unsigned records are" : `author ${d.author} is`} not allowed to write on this network at height ${d.height} (${d.reason})`;
  }
}

/** A record the mempool did not take. `data.code` says why; `penalty` is for the network layer. */
export class MempoolError extends Error {
  readonly code: MempoolErrorCode;
  readonly penalty: number;

  constructor(readonly data: MempoolErrorData) {
    super(describe(data));
    this.name = "MempoolError";
    this.code = data.code;
    this.penalty = MEMPOOL_ERROR_PENALTY[data.code];
  }

  toJSON(): { code: MempoolErrorCode; message: string; penalty: number } {
    return { code: this.code, message: this.message, penalty: this.penalty };
  }
}

/** The refusal of a full pool, with its counts and bounds (the caller's `stats()`). */
export function fullError(s: {
  count: number;
  bytes: number;
  maxCount: number;
  maxBytes: number;
}): MempoolError {
  return new MempoolError({
    code: "MEMPOOL_FULL",
    count: s.count,
    bytes: s.bytes,
    maxCount: s.maxCount,
    maxBytes: s.maxBytes,
  });
}
