import type { Block } from "../consensus/block.ts";
import { blockWork } from "../consensus/compact.ts";
import { type AsertAnchor, anchorFromBlockOne, requiredBits } from "../consensus/difficulty.ts";
import { BlockError } from "../consensus/errors.ts";
import { lastCheckpoint } from "../consensus/genesis.ts";
import type { BlockHeader } from "../consensus/header.ts";
import type { NetworkParams } from "../consensus/params.ts";
import { MEDIAN_TIME_SPAN, medianTimePast } from "../consensus/time.ts";
import type { BlockContext, BlockFacts } from "../consensus/validate.ts";
import type { ParentView } from "./connect.ts";
import type { StoredTree } from "./load.ts";
import type { ChainEntry, NextBlockContext, Reorg } from "./types.ts";

/** Whether an entry broke a rule or descends from one that did. */
export const isInvalid = (e: Pick<ChainEntry, "status">): boolean =>
  e.status === "invalid" || e.status === "invalid-child";

/** The error a stored invalid block (or a descendant of one) is refused with again. */
export function knownInvalidError(e: ChainEntry): BlockError {
  if (e.status === "invalid" && e.invalid) return new BlockError(e.invalid, e.hash);
  let p = e.parent;
  while (p && p.status !== "invalid") p = p.parent;
  return new BlockError({ code: "INVALID_PARENT", parent: p?.hash ?? e.parent?.hash ?? "" }, e.hash);
}

/**
 * The block tree and the main chain view, in memory only (btcd's blockindex.go and chainview.go): every
 * entry the node accepted, main and side, by hash and by height; the main chain by height; and the context
 * a child of any entry must respect (bits, median time past). Synchronous and without a store: the Chain
 * changes it only after the store batch describing the change is written, so it always mirrors the store.
 */
export class BlockTree {
  private entries = new Map<string, ChainEntry>();
  /**
   * Every entry by height (main and side), so tree views and children cost O(entries shown). A height
   * with one entry holds it directly: an array per height cost 18 MB at 100,000 blocks.
   */
  private readonly byHeight: Array<ChainEntry | ChainEntry[]> = [];
  /** Main chain by height. */
  private main: ChainEntry[] = [];
  /** The ASERT anchor per block 1 (one per branch that forked below height 1: in practice one). */
  private readonly anchors = new Map<string, AsertAnchor>();
  private readonly lastCheckpoint: { height: number; hash: string } | undefined;
  /** The checkpoint the node's witnesses cosigned (finalize), when it has one: held by ancestry. */
  private final: { height: number; hash: string; final: true } | undefined;
  /** The arrival number the next entry gets. */
  private seq = 0;

  constructor(readonly params: NetworkParams) {
    this.lastCheckpoint = lastCheckpoint(params);
  }

  /** Starts an empty tree with `genesis` (valid, the whole main chain). */
  initGenesis(genesis: ChainEntry): void {
    this.add(genesis);
    this.main = [genesis];
    this.seq = genesis.seq + 1;
  }

  /**
   * Fills an empty tree with the one read back from the store (load.ts `readTree`), heights in arrival order.
   */
  initStored(stored: StoredTree): void {
    this.entries = stored.entries;
    for (const e of stored.entries.values()) this.addToHeight(e);
    for (const level of this.byHeight) if (Array.isArray(level)) level.sort((a, b) => a.seq - b.seq);
    this.main = stored.main;
    this.seq = stored.nextSeq;
  }

  // ---------------------------------------------------------------- reading

  /** The main-chain tip. */
  get tip(): ChainEntry {
    return this.main[this.main.length - 1]!;
  }

  /** Height of the main-chain tip. */
  get height(): number {
    return this.main.length - 1;
  }

  /** Number of entries, main and side. */
  get size(): number {
    return this.entries.size;
  }

  /** A block-tree entry by display hash (main or side, valid or not). */
  get(hash: string): ChainEntry | undefined {
    return this.entries.get(hash);
  }

  /** Whether the tree holds the block (main or side, valid or not). */
  has(hash: string): boolean {
    return this.entries.has(hash);
  }

  /** The main-chain entry at a height. */
  at(height: number): ChainEntry | undefined {
    return this.main[height];
  }

  /** Main-chain entries at heights [from, to), in order. */
  mainSlice(from: number, to?: number): ChainEntry[] {
    return this.main.slice(from, to);
  }

  /** Whether the entry is on the main chain. */
  isMain(entry: ChainEntry): boolean {
    return this.main[entry.height] === entry;
  }

  /** Entries of the whole tree (main and side) at heights >= `height`, by height, then arrival order. */
  entriesFrom(height: number): ChainEntry[] {
    const out: ChainEntry[] = [];
    for (let h = Math.max(0, height); h < this.byHeight.length; h++) out.push(...this.entriesAt(h));
    return out;
  }

  /** Every entry at a height, main and side, in arrival order. */
  entriesAt(height: number): ChainEntry[] {
    const level = this.byHeight[height];
    return level === undefined ? [] : Array.isArray(level) ? level : [level];
  }

  /** Children of an entry, main and side. */
  childrenOf(entry: ChainEntry): ChainEntry[] {
    return this.entriesAt(entry.height + 1).filter((c) => c.parent === entry);
  }

  /** Bitcoin-style block locator: the last 10 main blocks, then exponentially sparser, then genesis. */
  locator(from: ChainEntry = this.tip): string[] {
    const out: string[] = [];
    let step = 1;
    let e: ChainEntry | undefined = from;
    while (e) {
      out.push(e.hash);
      if (e.height === 0) break;
      if (out.length >= 10) step *= 2;
      e = this.ancestor(e, Math.max(0, e.height - step));
    }
    return out;
  }

  /** The highest main-chain entry among `locator`'s hashes (genesis if none is known). */
  findFork(locator: readonly string[]): ChainEntry {
    for (const h of locator) {
      const e = this.entries.get(h);
      if (e && this.isMain(e)) return e;
    }
    return this.main[0]!;
  }

  /** The ancestor of `e` at `height` (walks the branch down to the main chain, then indexes it). */
  ancestor(e: ChainEntry, height: number): ChainEntry {
    let x = e;
    while (x.height > height) {
      if (this.main[x.height] === x) return this.main[height]!;
      x = x.parent!;
    }
    return x;
  }

  /** The walk down to the main chain: the fork point and the entries above it up to `e`, oldest first. */
  branchOf(e: ChainEntry): { fork: ChainEntry; branch: ChainEntry[] } {
    const branch: ChainEntry[] = [];
    let x = e;
    while (!this.isMain(x)) {
      branch.push(x);
      x = x.parent!;
    }
    return { fork: x, branch: branch.reverse() };
  }

  /** The net change of the main chain from `oldTip` (no longer main) to `newTip` (main). */
  reorgBetween(oldTip: ChainEntry, newTip: ChainEntry): Reorg {
    const { fork, branch: disconnected } = this.branchOf(oldTip);
    return {
      fork,
      disconnected,
      connected: this.main.slice(fork.height + 1, newTip.height + 1),
      depth: disconnected.length,
    };
  }

  /** Entries of the tree that descend from `root` (plus `extra`, not yet in the tree). */
  descendants(root: ChainEntry, extra: ChainEntry): ChainEntry[] {
    const out: ChainEntry[] = [];
    const all = [...this.entries.values(), extra];
    for (const e of all) {
      if (e.height <= root.height) continue;
      let p: ChainEntry | undefined = e;
      while (p && p.height > root.height) p = p.parent;
      if (p === root) out.push(e);
    }
    return out;
  }

  // ---------------------------------------------------------------- consensus context

  /** What a miner needs to build on the current tip, with the clock at `now`. */
  nextBlockContext(now: number): NextBlockContext {
    const tip = this.tip;
    return {
      prevHash: tip.hashBytes,
      prevHashHex: tip.hash,
      height: tip.height + 1,
      bits: this.nextBits(tip),
      minTime: this.medianTimePast(tip) + 1,
      maxTime: now + this.params.maxFutureDrift,
    };
  }

  /** What checkBlock needs to know about `parent`. */
  view(parent: ChainEntry): ParentView {
    return {
      hash: parent.hash,
      height: parent.height,
      invalid: isInvalid(parent),
      childContext: () => this.childContext(parent),
      ancestorHash: (height) => this.ancestor(parent, height).hash,
    };
  }

  /** The last checkpoint, once the tree holds it (new blocks may not fork below it), else undefined. */
  heldCheckpoint(): { height: number; hash: string; final?: boolean } | undefined {
    const last = this.lastCheckpoint;
    const held = last && this.entries.has(last.hash) ? last : undefined;
    const final = this.final;
    // The object finalize made, not a copy: a spread here, once a block, cost processBlock about 2% (V8
    // then saw a new shape at each check; bench:records (d)).
    if (final && (!held || final.height > held.height)) return final;
    return held;
  }

  /**
   * Holds `cp` as final (witnessed checkpoints, docs/ledger-design.md): from now on no block may fork at or
   * below its height. Only a main-chain block above the current final one is taken; returns whether it was.
   */
  finalize(cp: { height: number; hash: string }): boolean {
    if (this.main[cp.height]?.hash !== cp.hash || (this.final && cp.height <= this.final.height))
      return false;
    this.final = { height: cp.height, hash: cp.hash, final: true };
    return true;
  }

  /** The checkpoint finalize last took, if any. */
  get finalCheckpoint(): { height: number; hash: string } | undefined {
    return this.final && { height: this.final.height, hash: this.final.hash };
  }

  /** Median time past of the block after `e`: of `e` and the 10 blocks before it. */
  private medianTimePast(e: ChainEntry): number {
    const times: number[] = [];
    let x: ChainEntry | undefined = e;
    for (let i = 0; i < MEDIAN_TIME_SPAN && x; i++, x = x.parent) times.push(x.header.time);
    return medianTimePast(times);
  }

  /** Bits required of the block after `parent` (requiredBits, with the branch's anchor cached). */
  private nextBits(parent: ChainEntry): number {
    return requiredBits(this.params, parent.height, parent.header.time, () => {
      const one = this.ancestor(parent, 1);
      let anchor = this.anchors.get(one.hash);
      if (!anchor) {
        anchor = anchorFromBlockOne(
          this.params.genesis.header.bits,
          one.header.time,
          this.params.targetSpacing,
        );
        this.anchors.set(one.hash, anchor);
      }
      return anchor;
    });
  }

  /** What a child of `parent` must respect: the bits and the median time past. */
  private childContext(parent: ChainEntry): Omit<BlockContext, "height"> {
    return { expectedBits: this.nextBits(parent), medianTimePast: this.medianTimePast(parent) };
  }

  // ---------------------------------------------------------------- changing (after the store batch)
  // Every method below runs inside the Chain's queue, after the batch that describes the change is written.

  /** The tree entry of a checked block under `parent`, with the next arrival number (not yet added). */
  newEntry(block: Block, facts: BlockFacts, parent: ChainEntry): ChainEntry {
    const miner = block.records[0];
    return {
      hash: facts.hashHex,
      hashBytes: facts.hash,
      header: block.header,
      height: parent.height + 1,
      chainWork: parent.chainWork + blockWork(block.header.bits),
      seq: this.seq++,
      size: facts.size,
      miner: miner?.type === "miner" ? miner.miner : "",
      recordCount: block.records.length,
      status: "accepted",
      parent,
    };
  }

  /**
   * The entry of a header kept without its body (headers.ts), under `parent` (a tree entry or another such
   * header): never added to the tree, so it takes no arrival number (seq -1) and no miner name.
   */
  headerEntry(
    header: BlockHeader,
    hash: { hex: string; bytes: Uint8Array },
    parent: ChainEntry,
    size: number,
    recordCount: number,
  ): ChainEntry {
    return {
      hash: hash.hex,
      hashBytes: hash.bytes,
      header,
      height: parent.height + 1,
      chainWork: parent.chainWork + blockWork(header.bits),
      seq: -1,
      size,
      miner: "",
      recordCount,
      status: "accepted",
      parent,
    };
  }

  /** Adds an entry to the tree (not to the main chain). */
  add(e: ChainEntry): void {
    this.entries.set(e.hash, e);
    this.addToHeight(e);
  }

  private addToHeight(e: ChainEntry): void {
    const level = this.byHeight[e.height];
    if (level === undefined) this.byHeight[e.height] = e;
    else if (Array.isArray(level)) level.push(e);
    else this.byHeight[e.height] = [level, e];
  }

  /** Makes `connect` (oldest first, in the tree) the main chain above `fork`, dropping what was above it. */
  setMain(fork: ChainEntry, connect: readonly ChainEntry[]): void {
    this.main.length = fork.height + 1;
    for (const x of connect) this.main.push(x);
  }
}
