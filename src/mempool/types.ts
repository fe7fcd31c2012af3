/** The pool's data: entries, where they came from, admission results, options and events. */
import type { BlockSource, ChainReader } from "../chain/interfaces.ts";
import type { NetworkParams } from "../consensus/params.ts";
import type { BlockRecord } from "../consensus/records.ts";
import type { SignatureCache } from "../consensus/sigcache.ts";
import type { Logger } from "../util/logger.ts";
import type { MempoolError, MempoolErrorCode } from "./errors.ts";

/**
 * Where a record came from: the net layer relays to every peer but the one it came from, and the pool
 * counts it against that source's share (shares.ts): an HTTP client by `client` (shares.ts `httpClient`;
 * one share "local" without it), a peer by its id.
 */
export type RecordSource =
  | { kind: "api"; client?: string }
  | { kind: "peer"; peer: string }
  | { kind: "disk" }
  | { kind: "reorg" };

export interface MempoolEntry {
  /** The record's id in display hex (consensus's `recordId`, shown byte-reversed as block hashes are). */
  id: string;
  record: BlockRecord;
  /** The record's serialized bytes (what a block carries and the id hashes). */
  bytes: Uint8Array;
  /** When it entered the pool, ms since the epoch (by the injected clock); expiry counts from here. */
  time: number;
  source: RecordSource;
  /** The share it counts against (shares.ts): its source's, or for a record loaded from the file, the one it had. */
  share: string;
}

export type AdmitResult =
  | { ok: true; entry: MempoolEntry }
  | { ok: false; id: string | null; error: MempoolError };

export interface MempoolOptions {
  params: NetworkParams;
  /** Whether a record id is in a main-chain block (the record-id index). */
  isConfirmed: (id: string) => boolean | Promise<boolean>;
  maxBytes?: number;
  maxCount?: number;
  expiryMs?: number;
  /** Milliseconds since the epoch; injected so tests control expiry. Default Date.now. */
  now?: () => number;
  /** The file `load` and `save` use (`mempoolFile(datadir)`); without it they do nothing. */
  file?: string;
  /**
   * The chain the pool follows, read by `load` only: the records of blocks that left the main chain after
   * the file was saved (a reorg, then a kill before the next save) come back, as the reorg returned them
   * (recover.ts).
   */
  chain?: PoolChain;
  /**
   * Where the signatures of admitted records are recorded as verified, so the chain does not verify them
   * again in a block (consensus/sigcache.ts; the node hands the same cache to its chain).
   */
  signatures?: SignatureCache;
  logger?: Logger;
}

export interface MempoolEvents {
  /** A record became pending (admitted, loaded, or returned by a reorg). */
  added: [entry: MempoolEntry];
  /**
   * Records left the pool: included in a block, expired, or evicted (for a source under its share, or
   * for records a reorg returned).
   */
  removed: [ids: string[], reason: "block" | "expired" | "evicted"];
  /** An admission was refused (for monitoring: the code, and where the record came from). */
  refused: [code: MempoolErrorCode, kind: RecordSource["kind"], source: RecordSource];
}

export interface MempoolStats {
  count: number;
  bytes: number;
  /** Age of the record that entered first, ms; 0 when empty. */
  oldestAgeMs: number;
  maxCount: number;
  maxBytes: number;
}

/** What the pool reads of the chain at `load` (the chain's own interfaces, chain/interfaces.ts). */
export type PoolChain = Pick<ChainReader, "tip" | "getEntry" | "isMain" | "entriesFrom"> &
  Pick<BlockSource, "getBlock">;
