import { EventEmitter } from "node:events";
import { type Block, decodeBlock } from "../consensus/block.ts";
import { bytesEqual } from "../consensus/bytes.ts";
import { BlockError } from "../consensus/errors.ts";
import { headerHashBytes } from "../consensus/header.ts";
import type { NetworkParams } from "../consensus/params.ts";
import type { BlockFacts } from "../consensus/validate.ts";
import { checkBlockSliced } from "./connect.ts";
import { checkHeaderRun } from "./header-check.ts";
import type { BlockSource, ChainFinality, ChainReader, RecordReader } from "./interfaces.ts";
import type { StoredRecord } from "./proofs.ts";
import { RecordView } from "./records.ts";
import { type ChainStore, readStored } from "./store.ts";
import { BlockTree } from "./tree.ts";
import type {
  ChainBacklog,
  ChainEntry,
  ChainEvents,
  HeaderRun,
  NextBlockContext,
  RecordLocation,
} from "./types.ts";
import type { Waiting } from "./waiting.ts";

/**
 * The read side of the Chain (chain.ts), which extends it and is its only subclass: what the consumers
 * read (interfaces.ts, where each method's promise is written), answered from the block tree (tree.ts),
 * the store and the record index (records.ts). Nothing here changes state but `finalize`, which only
 * raises the tree's final checkpoint inside the queue; the Chain changes the tree and the store only
 * inside its queue, so each read sees a committed state.
 */
export abstract class ChainReads
  extends EventEmitter<ChainEvents>
  implements ChainReader, BlockSource, RecordReader, ChainFinality
{
  /** The block tree and main chain (the Chain fills it when it loads, and changes it after each batch). */
  protected readonly tree: BlockTree;
  protected readonly records: RecordView;
  /**
   * What the last passing checkBeforeConnect found, for processBlock to take instead of decoding and
   * checking the same bytes on the same parent again (`takePrechecked`). One entry: the block relayed early
   * is the next one processed. Only a pass is kept, never a refusal, and only for these exact bytes.
   */
  private prechecked: Prechecked | undefined;

  protected constructor(
    readonly params: NetworkParams,
    protected readonly store: ChainStore,
    /** The pools and held headers (waiting.ts). */
    protected readonly waiting: Waiting,
    /** The node's clock in seconds. */
    protected readonly now: () => number,
  ) {
    super();
    this.tree = new BlockTree(params);
    this.records = new RecordView(store, this.tree, (fn) => this.exclusive(fn));
  }

  /** Queues `fn` behind every call before it: the Chain runs one call at a time. */
  protected abstract exclusive<T>(fn: () => Promise<T>): Promise<T>;

  /** Calls in the queue now, the running one included. */
  protected abstract get queued(): number;

  get tip(): ChainEntry {
    return this.tree.tip;
  }

  get height(): number {
    return this.tree.height;
  }

  get orphanCount(): number {
    return this.waiting.orphans.count;
  }

  get backlog(): ChainBacklog {
    const { orphans, future, headers } = this.waiting;
    return {
      queued: this.queued,
      orphans: orphans.count,
      orphanBytes: orphans.totalBytes,
      future: future.count,
      futureBytes: future.totalBytes,
      headers: headers.count,
    };
  }

  getEntry(hash: string): ChainEntry | undefined {
    return this.tree.get(hash);
  }

  getEntryAt(height: number): ChainEntry | undefined {
    return this.tree.at(height);
  }

  isMain(entry: ChainEntry): boolean {
    return this.tree.isMain(entry);
  }

  entriesFrom(height: number): ChainEntry[] {
    return this.tree.entriesFrom(height);
  }

  entriesAt(height: number): ChainEntry[] {
    return this.tree.entriesAt(height);
  }

  childrenOf(entry: ChainEntry): ChainEntry[] {
    return this.tree.childrenOf(entry);
  }

  locator(from?: ChainEntry): string[] {
    return this.tree.locator(from);
  }

  findFork(locator: readonly string[]): ChainEntry {
    return this.tree.findFork(locator);
  }

  /**
   * Checks a run of 80-byte headers on top of `parent` (a tree entry, or an entry this returned before)
   * as processBlock checks a header, keeping nothing: the entries that passed, and the first error.
   */
  checkHeaders(parent: ChainEntry, headers: readonly Uint8Array[]): HeaderRun {
    const run = checkHeaderRun({ tree: this.tree, params: this.params, now: this.now() }, parent, headers);
    // A header refused here is a block refused before its body was asked for: it is reported as processBlock
    // reports one (the witness's refused-fork report and the refusal metrics listen to `invalid`).
    const refused = run.error?.error;
    if (refused)
      this.emit("invalid", { hash: refused.hash ?? "", code: refused.code, penalty: refused.penalty });
    return run;
  }

  async checkBeforeConnect(raw: Uint8Array): Promise<boolean> {
    let block: Block;
    try {
      block = decodeBlock(raw);
    } catch {
      return false;
    }
    const tip = this.tree.tip;
    if (!bytesEqual(block.header.prevHash, tip.hashBytes)) return false;
    let facts: BlockFacts;
    const held = this.tree.heldCheckpoint();
    const now = this.now();
    try {
      facts = await checkBlockSliced(
        block,
        headerHashBytes(block.header),
        this.params,
        { parent: this.tree.view(tip) },
        { now, size: raw.length, to: "context", heldCheckpoint: held },
      );
    } catch (err) {
      if (err instanceof BlockError) return false;
      throw err;
    }
    // The tip may have moved while the checks yielded.
    if (this.tree.tip !== tip) return false;
    this.prechecked = { raw, block, facts, parent: tip, held, now };
    return true;
  }

  /**
   * The decoded block and its facts when checkBeforeConnect passed these very bytes on this parent with
   * the same held checkpoint. The checks up to the context depend on nothing else but the clock (a time not
   * too far ahead then is not now, unless the clock went back: then nothing is taken). The hash covers only
   * the header, so the bytes are compared in full: a body that differs under the same header is checked
   * from the start.
   */
  protected takePrechecked(
    raw: Uint8Array,
    parent: ChainEntry,
  ): { block: Block; facts: BlockFacts } | undefined {
    const p = this.prechecked;
    // Taken or dropped by the first block that enters after it: the slot never holds a block for long.
    this.prechecked = undefined;
    if (!p || p.parent !== parent || p.held !== this.tree.heldCheckpoint() || this.now() < p.now)
      return undefined;
    if (p.raw !== raw && !bytesEqual(p.raw, raw)) return undefined;
    return p;
  }

  nextBlockContext(now = this.now()): NextBlockContext {
    return this.tree.nextBlockContext(now);
  }

  async getRawBlock(hash: string): Promise<Uint8Array | undefined> {
    const e = this.tree.get(hash);
    return e && this.store.getBlock(e.hashBytes);
  }

  async getBlock(hash: string): Promise<Block | undefined> {
    const raw = await this.getRawBlock(hash);
    return raw ? decodeBlock(raw) : undefined;
  }

  getMainBlocks(from: number, count: number): Promise<Uint8Array[]> {
    return readStored(this.store, this.tree.mainSlice(from, from + count), "block");
  }

  findRecord(id: string): Promise<RecordLocation | undefined> {
    return this.records.findRecord(id);
  }

  readRecord(place: RecordLocation, opts: { proof: boolean }): Promise<StoredRecord | undefined> {
    return this.records.readRecord(place, opts);
  }

  isRecordConfirmed(id: string): Promise<boolean> {
    return this.records.isRecordConfirmed(id);
  }

  recordsByAuthor(
    publicKeyHex: string,
    opts: { limit: number; before?: { height: number; index: number } },
  ): Promise<Array<RecordLocation & { id: string }>> {
    return this.records.recordsByAuthor(publicKeyHex, opts);
  }

  finalize(cp: { height: number; hash: string }): Promise<boolean> {
    return this.exclusive(async () => this.tree.finalize(cp));
  }

  get finalCheckpoint(): { height: number; hash: string } | undefined {
    return this.tree.finalCheckpoint;
  }
}

interface Prechecked {
  raw: Uint8Array;
  block: Block;
  facts: BlockFacts;
  parent: ChainEntry;
  /** The held checkpoint when checked: the tree's own object, compared by identity (undefined: none). */
  held: object | undefined;
  /** The clock the checks ran at. */
  now: number;
}
