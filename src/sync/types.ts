import type { ProcessResult } from "../chain/types.ts";
import type { Block } from "../consensus/block.ts";
import type { BlockError } from "../consensus/errors.ts";

/** What sync needs from the chain (Chain implements it); nothing else of the chain is reachable from here. */
export interface SyncChain {
  /** Work of our main-chain tip: a peer is worth syncing from when it claims more. */
  readonly tip: { readonly chainWork: bigint };
  readonly height: number;
  /** Block locator of the main chain (display hashes, newest first). */
  locator(): string[];
  /** The chain's batch entry: stops at the first rejected block, whose BlockError then ends the list. */
  processBlocks(
    items: ReadonlyArray<{ block: Block; raw?: Uint8Array }>,
  ): Promise<Array<ProcessResult | BlockError>>;
}

/** A peer as sync sees it: its claimed tip, and the claim at which a sync from it last fell short. */
export interface SyncPeer {
  readonly id: string;
  /** The peer's last known tip (from its status or a block it relayed); undefined before its status. */
  readonly status: { readonly height: number; readonly work: bigint } | undefined;
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
  /** The response's first block does not follow any hash of our locator. */
  | { kind: "unconnected" }
  /** A later block of the response does not follow the one before it. */
  | { kind: "out-of-order" }
  /** The block request itself failed (protocol violation, timeout, transport error): `error` says which. */
  | { kind: "fetch-failed"; error: unknown };

/** What a sync from one peer achieved. */
export interface SyncOutcome {
  peer: string;
  /** Our height when it ended. */
  height: number;
  /** Height gained. */
  blocks: number;
  ms: number;
  blocksPerSec: number;
  /** Time spent waiting for the peer rather than validating. */
  waitMs: number;
  /** Set when the peer's behaviour ended the sync; the caller decides the penalty. */
  fault?: SyncFault;
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
}
