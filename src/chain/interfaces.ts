import type { EventEmitter } from "node:events";
import type { Block } from "../consensus/block.ts";
import type { BlockError } from "../consensus/errors.ts";
import type { NetworkParams } from "../consensus/params.ts";
import type { Arrival } from "./intake.ts";
import type { StoredRecord } from "./proofs.ts";
import type {
  ChainBacklog,
  ChainEntry,
  ChainEvents,
  HeaderRun,
  NextBlockContext,
  ProcessResult,
  RecordLocation,
} from "./types.ts";

/**
 * What the chain's consumers may use of it, in small parts (as Lodestar's network takes IBeaconChain and
 * sync takes its SyncChain): Chain implements them all, and each consumer names the parts it needs, so a
 * test can hand it a fake and nothing outside src/chain depends on the class. The methods' promises are
 * written here, once.
 */

/** The block tree and the main chain as memory holds them: synchronous, no store read. */
export interface ChainReader {
  readonly params: NetworkParams;
  /** The main-chain tip. */
  readonly tip: ChainEntry;
  /** Height of the main-chain tip. */
  readonly height: number;
  /** Blocks waiting in the orphan pool for their parent. */
  readonly orphanCount: number;
  /** What waits inside the chain now: calls queued, blocks held as bytes, headers held without bodies. */
  readonly backlog: ChainBacklog;
  /** A block-tree entry by display hash (main or side, valid or not). */
  getEntry(hash: string): ChainEntry | undefined;
  /** The main-chain entry at a height. */
  getEntryAt(height: number): ChainEntry | undefined;
  /** Whether the entry is on the main chain. */
  isMain(entry: ChainEntry): boolean;
  /** Entries of the whole tree (main and side) at heights >= `height`, by height, then arrival order. */
  entriesFrom(height: number): ChainEntry[];
  /** Every entry at a height, main and side, in arrival order. */
  entriesAt(height: number): ChainEntry[];
  /** Children of an entry, main and side. */
  childrenOf(entry: ChainEntry): ChainEntry[];
  /**
   * Bitcoin-style block locator from `from` (default the tip): the last 10 main blocks, then sparser, then
   * genesis.
   */
  locator(from?: ChainEntry): string[];
  /** The highest main-chain entry among `locator`'s hashes (genesis if none is known). */
  findFork(locator: readonly string[]): ChainEntry;
  /** What a miner needs to build on the current tip (`now`: the clock in seconds, default the chain's). */
  nextBlockContext(now?: number): NextBlockContext;
  /**
   * Checks a run of 80-byte headers on top of `parent` (a tree entry, or an entry this returned before) as
   * processBlock checks a header (proof of work, time, link, checkpoints, bits, median time past), keeping
   * nothing: the entries of those that passed, in order, and the first error (headers-first sync).
   */
  checkHeaders(parent: ChainEntry, headers: readonly Uint8Array[]): HeaderRun;
  /**
   * Whether a serialized block extends the tip and passes every check processBlock makes before it
   * connects a block there: the header's, the body's context-free ones (size, records, merkle root, miner
   * record) and the context (bits, time, height, checkpoints, authors). Left for the connect: the
   * exactly-once rule and the signatures. Keeps nothing and reports nothing (no `invalid` event): what a
   * node checks before it relays a compact block ahead of validation (BIP 152; Bitcoin Core relays from
   * NewPoWValidBlock, after AcceptBlock's checks and before ConnectBlock).
   */
  checkBeforeConnect(raw: Uint8Array): Promise<boolean>;
}

/** Stored blocks, read from the store. */
export interface BlockSource {
  /** The serialized block, or undefined when it is not stored. */
  getRawBlock(hash: string): Promise<Uint8Array | undefined>;
  /** The decoded block, or undefined when it is not stored. */
  getBlock(hash: string): Promise<Block | undefined>;
  /**
   * Serialized main-chain blocks for heights [from, from + count), in order (StoreError CORRUPT if one is
   * missing).
   */
  getMainBlocks(from: number, count: number): Promise<Uint8Array[]>;
}

/** Confirmed records: the record index as the main chain sees it (ids in display hex). */
export interface RecordReader {
  /** Where a record is confirmed on the main chain, or undefined. Throws DecodeError on a bad id. */
  findRecord(id: string): Promise<RecordLocation | undefined>;
  /**
   * The record at a place findRecord or recordsByAuthor gave, with its inclusion proof when `proof` is set
   * (src/chain/proofs.ts); undefined when its block is not stored.
   */
  readRecord(place: RecordLocation, opts: { proof: boolean }): Promise<StoredRecord | undefined>;
  /** Whether a record is confirmed on the main chain (the mempool's isConfirmed). */
  isRecordConfirmed(id: string): Promise<boolean>;
  /**
   * A signer's confirmed records (public key in hex; DecodeError otherwise), newest first: at most
   * `limit`, strictly before the cursor `before` (the height and index of the previous page's last record).
   */
  recordsByAuthor(
    publicKeyHex: string,
    opts: { limit: number; before?: { height: number; index: number } },
  ): Promise<Array<RecordLocation & { id: string }>>;
}

/** The entry of blocks: every block, from whichever source, goes through one of these. */
export interface BlockSink {
  /**
   * The one entry for every block, decoded or as its bytes. Resolves with what happened, or rejects with a
   * BlockError saying which rule the block broke (with the penalty the sender deserves) or a ChainError
   * saying why the node would not take it now (BUSY, LOW_WORK, SIDE_QUOTA: never that it is invalid).
   * `arrival`: the serialized block (a Uint8Array), or who sent it and whether this node asked for it; a
   * block nobody asked for keeps its body only while its branch has a chance (docs/protocol.md).
   */
  processBlock(block: Block | Uint8Array, arrival?: Uint8Array | Arrival): Promise<ProcessResult>;
  /**
   * A run of blocks in order, as a sync delivers them (blocks this node asked for), with processBlock's
   * rules and outcomes; stops at the first rejected block, whose BlockError then ends the list.
   */
  processBlocks(
    items: ReadonlyArray<{ block: Block; raw?: Uint8Array }>,
  ): Promise<Array<ProcessResult | BlockError>>;
}

/** The chain's typed events (types.ts ChainEvents), emitted after each change is committed to the store. */
export type ChainEventSource = Pick<EventEmitter<ChainEvents>, "on" | "off">;

/**
 * Finality from witnessed checkpoints (docs/ledger-design.md): the node's witness service holds a
 * checkpoint its quorum cosigned, after which no block may fork at or below it (FORK_BEFORE_CHECKPOINT).
 */
export interface ChainFinality {
  /**
   * Holds the main-chain block `cp` as final, in the chain's queue (so no switch is half done); resolves
   * false when it is not on the main chain or not above the final checkpoint held already.
   */
  finalize(cp: { height: number; hash: string }): Promise<boolean>;
  /** The final checkpoint held, if any. */
  readonly finalCheckpoint: { height: number; hash: string } | undefined;
}
