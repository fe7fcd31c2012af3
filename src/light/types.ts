/**
 * The light client's shapes (src/light/client.ts): what it is given, what it answers, how it names a
 * source. Kept apart from the class so that a reader of the tree's code sees the tree.
 */
import type { AsertAnchor } from "../consensus/difficulty.ts";

/** Why a source's headers were refused (or what it claimed that its headers did not bear out). */
export const LightFaultCode = {
  /** Bytes that are not whole 80-byte headers, or more headers than were asked for. */
  MALFORMED: "MALFORMED",
  /** A header whose parent hash is not the hash of the header before it in the same answer. */
  BAD_LINK: "BAD_LINK",
  /** Headers at other heights than the ones asked for. */
  BAD_HEIGHT: "BAD_HEIGHT",
  /** A header that claims to start a chain and is not this network's genesis (another network). */
  BAD_GENESIS: "BAD_GENESIS",
  /** Bits that encode no valid target, or one easier than the network's proof-of-work limit. */
  BAD_TARGET: "BAD_TARGET",
  /** A header hash above the target its bits encode. */
  HIGH_HASH: "HIGH_HASH",
  /** Bits other than those ASERT requires after the header's parent. */
  BAD_BITS: "BAD_BITS",
  /** A time not above the median of the previous 11 headers. */
  TIME_TOO_OLD: "TIME_TOO_OLD",
  /** A time more than the network's drift ahead of this clock (or this clock is behind). */
  TIME_TOO_NEW: "TIME_TOO_NEW",
  /** A header at a checkpoint height of the network with another hash. */
  CHECKPOINT_MISMATCH: "CHECKPOINT_MISMATCH",
  /** A header already found invalid, or a child of one. */
  INVALID: "INVALID",
  /** The chain served has less work than the source claimed for its tip. */
  LESS_WORK: "LESS_WORK",
} as const;
export type LightFaultCode = (typeof LightFaultCode)[keyof typeof LightFaultCode];

/** A source named for what it served. */
export interface LightFault {
  source: string;
  code: LightFaultCode;
  /** Height of the offending header, when one is at fault. */
  height?: number;
  /** Its hash (display order). */
  hash?: string;
  reason: string;
}

/** A trusted start: a header, its height and chain work, and what checking its children needs. */
export interface LightBase {
  height: number;
  /** The 80-byte header. */
  header: Uint8Array;
  /** Work of the chain up to and including this header (give 0n to count work from here on). */
  chainWork: bigint;
  /**
   * Times of the headers before it, oldest first, up to 10 (fewer only near genesis): the median-time
   * rule of its first children. Without them that rule is skipped until 11 headers are known.
   */
  prevTimes?: readonly number[];
  /** Time of block 1 of this chain: ASERT's anchor. Needed from height 1 on, on a retargeting network. */
  anchorTime?: number;
}

/** A header the client remembers by height, hash and chain work. */
export interface Checkpoint {
  height: number;
  /** Display hash. */
  hash: string;
  chainWork: bigint;
}

/** What a source says its tip is. */
export type SourceClaim = Checkpoint;

/** One header in the tree. */
export interface HeaderNode {
  /** Display hash (byte-reversed hex). */
  readonly hash: string;
  /** Internal-order hash bytes. */
  readonly hashBytes: Uint8Array;
  /** The 80 header bytes. */
  readonly raw: Uint8Array;
  readonly height: number;
  readonly time: number;
  readonly bits: number;
  /** This header's work. */
  readonly work: bigint;
  /** Work from the start's chain work through this header. */
  readonly chainWork: bigint;
  /** Undefined for the base (the tree's root). */
  readonly parent: HeaderNode | undefined;
  /** ASERT's anchor for this header's children (from block 1 of its branch). */
  readonly anchor: AsertAnchor | undefined;
  /** Arrival order: on equal work the header seen first keeps the tip. */
  readonly seq: number;
  /** The source that served it first. */
  readonly source: string;
}

/** What a reorg changed: the fork and the work on each side of it. */
export interface LightReorg {
  fork: { height: number; hash: string };
  /** Headers that left the best chain. */
  depth: number;
  /** Work of the headers that left the best chain, and of those that joined it. */
  workLeft: bigint;
  workJoined: bigint;
}

/** What `add` did with an answer. */
export interface AddResult {
  /** Headers that joined the tree. */
  added: number;
  /** Headers the tree already held. */
  known: number;
  /** The answer's first header has no known parent: nothing was checked (ask from lower down). */
  unconnected: boolean;
  /** The check that failed, with the source named; headers before it stay in the tree. */
  fault?: LightFault;
  /** Set when the best chain switched branches. */
  reorg?: LightReorg;
  /** The last header of the answer that is in the tree. */
  last?: HeaderNode;
}

/** Where a header is, as far as this client knows. */
export type Location =
  | {
      status: "main";
      height: number;
      hash: string;
      /** Headers from this one to the tip, both included. */
      confirmations: number;
      /** Work from this header to the tip, both included. */
      workOnTop: bigint;
    }
  | {
      status: "side";
      height: number;
      hash: string;
      /** The last header the branch shares with the best chain. */
      fork: { height: number; hash: string };
      /** Work of the branch's heaviest tip above the fork, and of the best chain above it. */
      branchWork: bigint;
      bestWork: bigint;
    }
  | { status: "checkpoint"; height: number; hash: string; confirmations: number; chainWork: bigint }
  | { status: "unknown" };

/** What the client thinks of a source after a sync. */
export type SourceVerdict =
  | { source: string; status: "faulty"; fault: LightFault }
  /** Its tip is on the best chain (`behind` headers below the best tip). */
  | { source: string; status: "agrees"; tip: { height: number; hash: string }; behind: number }
  /** A valid chain that is not the best one: its tip forks off at `fork`. */
  | {
      source: string;
      status: "disagrees";
      tip: { height: number; hash: string };
      fork: { height: number; hash: string };
      branchWork: bigint;
      bestWork: bigint;
    }
  /** Its tip is below the headers the client keeps (it is far behind). */
  | { source: string; status: "behind-window"; tip: { height: number; hash: string } }
  /** Nothing it served is in the tree. */
  | { source: string; status: "silent" };

/** The trusted header against the best chain. */
export type TrustStatus =
  | { status: "none" }
  | { status: "held"; trusted: Checkpoint; confirmations: number }
  | {
      status: "rewritten";
      trusted: Checkpoint;
      /** Where the best chain leaves the trusted history. */
      fork: { height: number; hash: string };
      /** Trusted-history headers replaced: from the fork to the old branch's tip. */
      depth: number;
      /** Work of the replaced headers, and of the best chain above the fork. */
      workLeft: bigint;
      workJoined: bigint;
    };

export interface LightClientOptions {
  /** Where to start; default the network's genesis. */
  base?: LightBase;
  /** The clock in seconds, for the future-time rule; default the system clock. */
  now?: () => number;
  /** Headers kept below the best tip (0 keeps every header). Default 2,048. */
  window?: number;
  /** Main-chain heights remembered as checkpoints when their headers are dropped. Default every 1,000. */
  checkpointEvery?: number;
  /** Most checkpoints kept; older ones are thinned first. Default 256. */
  maxCheckpoints?: number;
  /** Confirmations of the header `advanceTrusted` trusts by default. Default 6. */
  trustDepth?: number;
}

export const DEFAULT_WINDOW = 2048;
export const DEFAULT_CHECKPOINT_EVERY = 1000;
export const DEFAULT_MAX_CHECKPOINTS = 256;
export const DEFAULT_TRUST_DEPTH = 6;

/** Why a base or a trusted header cannot be used; thrown by the constructor and `setTrusted`. */
export class LightClientError extends Error {
  override readonly name = "LightClientError";
}
