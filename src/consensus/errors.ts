/**
 * Why a block was rejected. One error class with a string code per rule and per-code data
 * (after Lodestar's BlockError), plus a penalty score that tells the network layer how much to punish
 * the peer that sent the block (after bcoin's VerifyError): 0 means "not your fault", 100 means ban.
 * The chain never talks to peers; it only reports the score.
 */

export const BlockErrorCode = {
  /** Bytes do not decode to a block (truncated, trailing bytes, bad varint, unknown record type). */
  MALFORMED: "MALFORMED",
  /** Serialized block above the network's maximum size, or too many records. */
  BAD_SIZE: "BAD_SIZE",
  /** A record above the maximum record size, or with fields out of bounds. */
  BAD_RECORD: "BAD_RECORD",
  /** A record of exactly 64 bytes, which the merkle tree could not tell from an inner node (BIP 54). */
  RECORD_64_BYTES: "RECORD_64_BYTES",
  /** `bits` encode no valid target: negative, zero, overflowing, or easier than the proof-of-work limit. */
  BAD_TARGET: "BAD_TARGET",
  /** Header hash above the target its bits encode. */
  HIGH_HASH: "HIGH_HASH",
  /** `bits` differ from what the difficulty algorithm requires at this height. */
  BAD_BITS: "BAD_BITS",
  /** Time not greater than the median of the previous 11 blocks. */
  TIME_TOO_OLD: "TIME_TOO_OLD",
  /** Time too far ahead of this node's clock. Not the sender's fault: retried when the clock catches up. */
  TIME_TOO_NEW: "TIME_TOO_NEW",
  /** Merkle root in the header does not match the records. */
  BAD_MERKLE_ROOT: "BAD_MERKLE_ROOT",
  /** Record list mutated so it hashes to the same root (CVE-2012-2459), or records repeated. */
  MUTATED: "MUTATED",
  /** First record is not a miner record, or a miner record appears later. */
  BAD_MINER_RECORD: "BAD_MINER_RECORD",
  /** Miner record height differs from the block's height in the chain. */
  BAD_HEIGHT: "BAD_HEIGHT",
  /** A signed record whose ed25519 signature does not verify. */
  BAD_SIGNATURE: "BAD_SIGNATURE",
  /** Block builds on a block known to be invalid. */
  INVALID_PARENT: "INVALID_PARENT",
  /** Block at a checkpoint height whose hash differs from the checkpoint. */
  CHECKPOINT_MISMATCH: "CHECKPOINT_MISMATCH",
  /** Block forks the chain below the last checkpoint. */
  FORK_BEFORE_CHECKPOINT: "FORK_BEFORE_CHECKPOINT",
  /** Block builds on a different genesis (another network): not valid here. */
  BAD_GENESIS: "BAD_GENESIS",
  /** A record already confirmed in the block's ancestry: a record id appears at most once in a chain. */
  DUPLICATE_RECORD: "DUPLICATE_RECORD",
  /** A record whose author the network's author policy does not allow at the block's height (authors.ts). */
  UNAUTHORISED_AUTHOR: "UNAUTHORISED_AUTHOR",
} as const;
export type BlockErrorCode = (typeof BlockErrorCode)[keyof typeof BlockErrorCode];

/** Per-code data: what a peer or a user needs to understand the rejection. */
export type BlockErrorData =
  | { code: "MALFORMED"; reason: string }
  | { code: "BAD_SIZE"; size: number; max: number; what: "block" | "records" }
  | { code: "BAD_RECORD"; index: number; reason: string }
  | { code: "RECORD_64_BYTES"; index: number }
  | { code: "BAD_TARGET"; bits: number; reason: string }
  | { code: "HIGH_HASH"; hash: string; target: string }
  | { code: "BAD_BITS"; bits: number; expected: number }
  | { code: "TIME_TOO_OLD"; time: number; medianTimePast: number }
  | { code: "TIME_TOO_NEW"; time: number; now: number; maxDrift: number }
  | { code: "BAD_MERKLE_ROOT"; expected: string; actual: string }
  | { code: "MUTATED"; reason: string }
  | { code: "BAD_MINER_RECORD"; index: number; reason: string }
  | { code: "BAD_HEIGHT"; height: number; expected: number }
  | { code: "BAD_SIGNATURE"; index: number }
  | { code: "INVALID_PARENT"; parent: string }
  | { code: "CHECKPOINT_MISMATCH"; height: number; hash: string; expected: string }
  | { code: "FORK_BEFORE_CHECKPOINT"; height: number; checkpointHeight: number }
  | { code: "BAD_GENESIS"; hash: string }
  | { code: "DUPLICATE_RECORD"; index: number; id: string; confirmedIn: string }
  | {
      code: "UNAUTHORISED_AUTHOR";
      index: number;
      /** The author's public key in hex; null for an unsigned record. */
      author: string | null;
      reason: "unsigned" | "unlisted" | "not-yet" | "revoked";
      height: number;
    };

/** Penalty added to a peer's misbehaviour score per code; 100 bans. */
export const BLOCK_ERROR_PENALTY: Record<BlockErrorCode, number> = {
  MALFORMED: 100,
  BAD_SIZE: 100,
  BAD_RECORD: 100,
  RECORD_64_BYTES: 100,
  BAD_TARGET: 100,
  HIGH_HASH: 100,
  BAD_BITS: 100,
  TIME_TOO_OLD: 100,
  TIME_TOO_NEW: 0,
  BAD_MERKLE_ROOT: 100,
  MUTATED: 100,
  BAD_MINER_RECORD: 100,
  BAD_HEIGHT: 100,
  BAD_SIGNATURE: 100,
  INVALID_PARENT: 100,
  CHECKPOINT_MISMATCH: 100,
  FORK_BEFORE_CHECKPOINT: 100,
  BAD_GENESIS: 100,
  DUPLICATE_RECORD: 100,
  UNAUTHORISED_AUTHOR: 100,
};

/**
 * Whether a failure with this code proves that the block its header commits to is invalid, so that the
 * header's hash may be remembered as invalid (and blocks built on it refused as `INVALID_PARENT`, and the
 * peers relaying them penalised). A relay can pair any real header with any body, so a failure found before
 * the body is known to be the committed one must never be cached: the real block with that hash may still
 * arrive. The body is the committed one once its merkle root matches the header, no two hashes were paired
 * with themselves (`MUTATED`) and no record is 64 bytes (`RECORD_64_BYTES`): under those rules no other
 * record list hashes to that root without a SHA-256 collision (docs/consensus.md, "The 64-byte rule").
 * `why` is stated per code; docs/consensus.md's table repeats it and a test holds the two together.
 */
export const BLOCK_ERROR_CACHE: Record<BlockErrorCode, { cacheable: boolean; why: string }> = {
  MALFORMED: {
    cacheable: false,
    why: "the bytes, not the header, are wrong: any relay can send junk under a real header",
  },
  BAD_SIZE: {
    cacheable: false,
    why: "checked before the body is tied to the header: a relay can pad a real block",
  },
  BAD_RECORD: {
    cacheable: false,
    why: "checked before the body is tied to the header: a relay can swap a record",
  },
  RECORD_64_BYTES: {
    cacheable: false,
    why: "a forged body of inner nodes hashes to a real root: this check is what ties the body to the header",
  },
  BAD_TARGET: { cacheable: true, why: "the header's own bits" },
  HIGH_HASH: { cacheable: true, why: "the header's own hash" },
  BAD_BITS: { cacheable: true, why: "the header's bits against the ancestry its parent hash names" },
  TIME_TOO_OLD: { cacheable: true, why: "the header's time against the ancestry its parent hash names" },
  TIME_TOO_NEW: {
    cacheable: false,
    why: "not invalid, only early: the same block is valid once the clock catches up",
  },
  BAD_MERKLE_ROOT: {
    cacheable: false,
    why: "proves the body is not the committed one, not that the block is bad",
  },
  MUTATED: {
    cacheable: false,
    why: "a relay can repeat a valid block's last records without changing its root",
  },
  BAD_MINER_RECORD: { cacheable: true, why: "checked after the body is proven to be the committed one" },
  BAD_HEIGHT: { cacheable: true, why: "the committed miner record against the height the parent hash gives" },
  BAD_SIGNATURE: { cacheable: true, why: "a committed record (checked at connect time, after sanity)" },
  INVALID_PARENT: { cacheable: true, why: "the header names the parent, whose own failure was proven" },
  CHECKPOINT_MISMATCH: { cacheable: true, why: "the header's hash at the height its ancestry gives" },
  FORK_BEFORE_CHECKPOINT: {
    cacheable: true,
    why: "the header's place in the tree: it forks below a checkpoint held",
  },
  BAD_GENESIS: {
    cacheable: true,
    why: "the header claims no parent and its hash is not this network's genesis",
  },
  DUPLICATE_RECORD: {
    cacheable: true,
    why: "a committed record against the ancestry its parent hash names (checked at connect time)",
  },
  UNAUTHORISED_AUTHOR: {
    cacheable: true,
    why: "a committed record against the height its parent hash gives, under the policy fixed for the node's run",
  },
};

function describe(d: BlockErrorData): string {
  switch (d.code) {
    case "MALFORMED":
      return `malformed block: ${d.reason}`;
    case "BAD_SIZE":
      return d.what === "block"
        ? `block size ${d.size} exceeds ${d.max}`
        : `${d.size} records exceed the ${d.max} a block may hold`;
    case "BAD_RECORD":
      return `record ${d.index}: ${d.reason}`;
    case "RECORD_64_BYTES":
      return `record ${d.index} is 64 bytes, which the merkle tree cannot tell from an inner node`;
    case "BAD_TARGET":
      return `bits 0x${d.bits.toString(16).padStart(8, "0")} ${d.reason}`;
    case "HIGH_HASH":
      return `hash ${d.hash} above target ${d.target}`;
    case "BAD_BITS":
      return `bits 0x${d.bits.toString(16).padStart(8, "0")}, expected 0x${d.expected.toString(16).padStart(8, "0")}`;
    case "TIME_TOO_OLD":
      return `time ${d.time} not after median time past ${d.medianTimePast}`;
    case "TIME_TOO_NEW":
      return `time ${d.time} more than ${d.maxDrift}s ahead of now (${d.now})`;
    case "BAD_MERKLE_ROOT":
      return `merkle root ${d.actual} does not match records (${d.expected})`;
    case "MUTATED":
      return `mutated record list: ${d.reason}`;
    case "BAD_MINER_RECORD":
      return `record ${d.index}: ${d.reason}`;
    case "BAD_HEIGHT":
      return `miner record height ${d.height}, expected ${d.expected}`;
    case "BAD_SIGNATURE":
      return `record ${d.index}: bad signature`;
    case "INVALID_PARENT":
      return `parent ${d.parent} is invalid`;
    case "CHECKPOINT_MISMATCH":
      return `block ${d.hash} at checkpoint height ${d.height}, expected ${d.expected}`;
    case "FORK_BEFORE_CHECKPOINT":
      return `fork at height ${d.height} is below checkpoint ${d.checkpointHeight}`;
    case "BAD_GENESIS":
      return `chain does not start at this network's genesis (${d.hash})`;
    case "DUPLICATE_RECORD":
      return `record ${d.index} (${d.id}) is already confirmed in block ${d.confirmedIn}`;
    case "UNAUTHORISED_AUTHOR":
      return `record ${d.index}: ${d.author === null ? "an unsigned record" : `author ${d.author}`} may not write at height ${d.height} (${d.reason})`;
  }
}

/** A block broke a consensus rule. `data.code` says which; `penalty` is for the network layer. */
export class BlockError extends Error {
  readonly code: BlockErrorCode;
  readonly penalty: number;
  /** Display hash of the block, when it is known. */
  hash: string | undefined;

  constructor(
    readonly data: BlockErrorData,
    hash?: string,
  ) {
    super(describe(data));
    this.name = "BlockError";
    this.code = data.code;
    this.penalty = BLOCK_ERROR_PENALTY[data.code];
    this.hash = hash;
  }

  /** Whether the block's hash may be remembered as invalid (BLOCK_ERROR_CACHE, with the reason per code). */
  get cacheable(): boolean {
    return BLOCK_ERROR_CACHE[this.code].cacheable;
  }

  toJSON(): { code: BlockErrorCode; message: string; penalty: number; hash?: string } {
    return {
      code: this.code,
      message: this.message,
      penalty: this.penalty,
      ...(this.hash ? { hash: this.hash } : {}),
    };
  }
}
