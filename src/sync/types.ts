import type { ChainEntry, HeaderRun, ProcessResult } from "../chain/types.ts";
import type { Block } from "../consensus/block.ts";
import type { BlockError } from "../consensus/errors.ts";

/** What sync needs from the chain (Chain implements it); nothing else of the chain is reachable from here. */
export interface SyncChain {
  /** Our main-chain tip: a peer is worth syncing from when it claims more work. */
  readonly tip: ChainEntry;
  readonly height: number;
  /** A block-tree entry by display hash (main or side). */
  getEntry(hash: string): ChainEntry | undefined;
  /** The main-chain entry at a height. */
  getEntryAt(height: number): ChainEntry | undefined;
  /** Block locator from `from` (a tree entry; default the tip), display hashes, newest first. */
  locator(from?: ChainEntry): string[];
  /** Checks a run of 80-byte headers on `parent` as processBlock checks a header; keeps nothing. */
  checkHeaders(parent: ChainEntry, headers: readonly Uint8Array[]): HeaderRun;
  /** The chain's batch entry: stops at the first rejected block, whose BlockError then ends the list. */
  processBlocks(
    items: ReadonlyArray<{ block: Block; raw?: Uint8Array }>,
  ): Promise<Array<ProcessResult | BlockError>>;
}

/** A peer as sync sees it: its claimed tip, and the claim at which a sync from it last fell short. */
export interface SyncPeer {
  readonly id: string;
  /** The peer's last known tip (from its status or a block it relayed); undefined before its status. */
  readonly status:
    | { readonly height: number; readonly work: bigint; readonly tip?: Uint8Array | undefined }
    | undefined;
  /** Work the peer claimed when a sync from it last ended short of it: not retried until it claims more. */
  stalledAt: bigint | undefined;
}

/**
 * One block request: up to `max` serialized blocks following the highest hash of `locator` that is on the
 * peer's main chain, past the first `skip` of them (default 0), in height order. A response may be short
 * of `max` (the protocol also bounds its bytes). Rejects when the exchange fails (the error says whose
 * fault it was), with SkipUnsupportedError when the peer cannot skip.
 */
export type FetchBlocks<P extends SyncPeer> = (
  peer: P,
  locator: Uint8Array[],
  opts: { max: number; skip?: number; signal: AbortSignal },
) => Promise<Uint8Array[]>;

/**
 * One headers request (/jbc/headers/1, or /2 with a skip): up to `max` 80-byte headers after the highest
 * hash of `locator` on the peer's main chain, past the first `skip` (default 0), each following the one
 * before. Rejects when the exchange fails, with SkipUnsupportedError when the peer cannot skip.
 */
export type FetchHeaders<P extends SyncPeer> = (
  peer: P,
  locator: Uint8Array[],
  max: number,
  skip?: number,
) => Promise<Uint8Array[]>;

/** The peer cannot serve a request with a skip (an older protocol): not a fault, ask one batch at a time. */
export class SkipUnsupportedError extends Error {
  constructor(readonly peer: string) {
    super(`peer ${peer} cannot skip blocks in a request`);
    this.name = "SkipUnsupportedError";
  }
}

/** Why a sync from a peer stopped before it ran out of blocks: each is the peer's fault except a stop. */
export type SyncFault =
  /** The chain rejected a block the peer sent. */
  | { kind: "invalid-block"; error: BlockError }
  /** Bytes sent as a block that do not decode to one. */
  | { kind: "undecodable"; error: unknown }
  /** A header the peer sent broke a rule (bits, time, proof of work, link): no body is asked for above it. */
  | { kind: "bad-headers"; error: BlockError }
  /** A body whose hash is not the header's the peer's headers put at that height. */
  | { kind: "mismatch"; height: number; expected: string; actual: string }
  /** The peer held the lowest missing block of the window past the stall timeout while others sat idle. */
  | { kind: "stalled"; height: number }
  /** The block request itself failed (protocol violation, timeout, transport error): `error` says which. */
  | { kind: "fetch-failed"; error: unknown };

/** What a sync achieved. */
export interface SyncOutcome {
  /** The peer that served the most bodies (for the event's payload). */
  peer: string;
  /** Our height when it ended. */
  height: number;
  /** Height gained. */
  blocks: number;
  ms: number;
  blocksPerSec: number;
  /** Time spent waiting for peers rather than validating. */
  waitMs: number;
  /** Bodies imported, per peer id that served them. */
  served: Record<string, number>;
}

/** Payload of `sync:progress`: how far a running sync has come. */
export interface SyncProgress {
  peer: string;
  height: number;
  target: number;
  blocksPerSec: number;
}

/** Payload of `sync:done`: a finished sync from one peer. */
export interface SyncDone {
  peer: string;
  height: number;
  /** Height gained. */
  blocks: number;
  ms: number;
  blocksPerSec: number;
  /** Bodies imported, per peer id that served them (headers-first sync downloads from every peer). */
  served?: Record<string, number>;
  /** Time the importer waited for bodies rather than importing (the window's waitMs). */
  waitMs?: number;
}
