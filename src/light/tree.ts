/**
 * The light client's header tree: every header it holds by hash, the best chain by height from the root,
 * fork choice by work, the reads (`locate`, `mainAt`, ...) and bounded memory. `LightClient`
 * (client.ts) extends it with what decides what may join: the checks, the sources and the trusted header.
 * The split follows src/chain's (`ChainReads` under `Chain`): the tree's state and its walks here, the
 * steps that change it for a reason there.
 *
 * Memory is bounded: below the best tip the tree keeps `window` headers; older main-chain headers are
 * dropped, every `checkpointEvery`-th one remembered as a checkpoint (height, hash, chain work), and the
 * checkpoints thinned to `maxCheckpoints` (older ones sparser). The header the user trusts (`trusted`)
 * and the headers a caller pins are never dropped, nor the fork below a trusted header another branch
 * overtook: that is the evidence of a rewrite.
 *
 * Browser-safe: typed arrays and @noble through consensus.
 */
import { blockWork } from "../consensus/compact.ts";
import { type AsertAnchor, anchorFromBlockOne } from "../consensus/difficulty.ts";
import { sha256d } from "../consensus/hash.ts";
import { encodeHeader, HEADER_SIZE, hashToHex } from "../consensus/header.ts";
import type { NetworkParams } from "../consensus/params.ts";
import { MEDIAN_TIME_SPAN } from "../consensus/time.ts";
import { type Checked, lastTimes, type TreeNode, u32 } from "./checks.ts";
import {
  type Checkpoint,
  DEFAULT_CHECKPOINT_EVERY,
  DEFAULT_MAX_CHECKPOINTS,
  DEFAULT_WINDOW,
  type HeaderNode,
  type LightBase,
  LightClientError,
  type LightClientOptions,
  type LightReorg,
  type Location,
} from "./types.ts";

/** Headers per slab of header bytes (`keep`). */
const SLAB_HEADERS = 4096;

/** Headers the best chain may grow past the window before the next prune (so pruning is amortised). */
export function pruneSlack(window: number): number {
  return Math.max(16, window >> 2);
}

/** The tree of headers from a trusted start, its best chain by work, and what it keeps in memory. */
export class HeaderTree {
  readonly params: NetworkParams;
  readonly window: number;
  readonly checkpointEvery: number;
  readonly maxCheckpoints: number;
  protected readonly nodes = new Map<string, TreeNode>();
  protected root: TreeNode;
  protected bestNode: TreeNode;
  /** The best chain from the root: main[i] is at height root.height + i. */
  protected main: TreeNode[];
  protected trustedCp: Checkpoint | undefined;
  protected readonly genesisBits: number;
  private seq = 0;
  private slab = new Uint8Array(0);
  private slabUsed = 0;
  private readonly pins = new Map<number, number>();
  private cps: Checkpoint[] = [];

  constructor(params: NetworkParams, opts: LightClientOptions = {}) {
    this.params = params;
    this.window = opts.window ?? DEFAULT_WINDOW;
    this.checkpointEvery = opts.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
    this.maxCheckpoints = Math.max(2, opts.maxCheckpoints ?? DEFAULT_MAX_CHECKPOINTS);
    this.genesisBits = params.genesis.header.bits;
    if (!Number.isSafeInteger(this.window) || this.window < 0)
      throw new LightClientError("window must be a whole number");
    this.root = this.makeRoot(opts.base);
    this.nodes.set(this.root.hash, this.root);
    this.bestNode = this.root;
    this.main = [this.root];
  }

  private makeRoot(base: LightBase | undefined): TreeNode {
    const p = this.params;
    const b: LightBase = base ?? {
      height: 0,
      header: encodeHeader(p.genesis.header),
      chainWork: blockWork(p.genesis.header.bits),
    };
    if (!(b.header instanceof Uint8Array) || b.header.length !== HEADER_SIZE)
      throw new LightClientError(`a base header must be ${HEADER_SIZE} bytes`);
    if (!Number.isSafeInteger(b.height) || b.height < 0) throw new LightClientError("bad base height");
    const hashBytes = sha256d(b.header);
    const hash = hashToHex(hashBytes);
    if (b.height === 0 && hash !== p.genesisHash)
      throw new LightClientError(`a base at height 0 must be the ${p.name} genesis ${p.genesisHash}`);
    const time = u32(b.header, 68);
    const bits = u32(b.header, 72);
    let anchor: AsertAnchor | undefined;
    if (b.height === 1) anchor = anchorFromBlockOne(this.genesisBits, time, p.targetSpacing);
    else if (b.height > 1) {
      if (b.anchorTime !== undefined)
        anchor = anchorFromBlockOne(this.genesisBits, b.anchorTime, p.targetSpacing);
      else if (!p.noRetargeting)
        throw new LightClientError("a base above height 1 needs block 1's time (ASERT's anchor)");
    }
    return {
      hash,
      hashBytes,
      raw: Uint8Array.from(b.header),
      height: b.height,
      time,
      bits,
      work: blockWork(bits),
      chainWork: b.chainWork,
      parent: undefined,
      anchor,
      seq: this.seq++,
      source: "base",
      prevTimes: (b.prevTimes ?? []).slice(-(MEDIAN_TIME_SPAN - 1)),
    };
  }

  // ---------------------------------------------------------------- reads

  /** The tree's root: the oldest header kept (the start, or where the window begins). */
  get base(): HeaderNode {
    return this.root;
  }

  /** The tip of the best chain (most work; the first seen on a tie). */
  get best(): HeaderNode {
    return this.bestNode;
  }

  /** Headers held in the tree (main and side). */
  get size(): number {
    return this.nodes.size;
  }

  /** The header the user trusts, if set: a later best chain without it is a rewrite. */
  get trusted(): Checkpoint | undefined {
    return this.trustedCp;
  }

  /** Remembered checkpoints of dropped main-chain headers, oldest first. */
  get checkpoints(): readonly Checkpoint[] {
    return this.cps;
  }

  /** A header in the tree by display hash. */
  get(hash: string): HeaderNode | undefined {
    return this.nodes.get(hash);
  }

  /** The best chain's header at `height`, while the tree holds it. */
  mainAt(height: number): HeaderNode | undefined {
    return this.main[height - this.root.height];
  }

  /** Whether a header is on the best chain. */
  isMain(node: HeaderNode): boolean {
    return this.main[node.height - this.root.height] === node;
  }

  /** The best chain's headers from `from` (at least the base's height) up to `count`, as 80-byte arrays. */
  mainHeaders(from: number, count: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let h = Math.max(from, this.root.height); out.length < count; h++) {
      const n = this.mainAt(h);
      if (!n) break;
      out.push(n.raw);
    }
    return out;
  }

  /** Times of `node`'s ancestors, oldest first, up to 10 (for a base built from it). */
  ancestorTimes(node: HeaderNode): number[] {
    const n = node as TreeNode;
    if (!n.parent) return [...(n.prevTimes ?? [])];
    return lastTimes(n.parent).times.slice(-(MEDIAN_TIME_SPAN - 1));
  }

  /** Is this header on the best chain I know, and under how much work? */
  locate(hash: string): Location {
    const node = this.nodes.get(hash);
    const best = this.bestNode;
    if (node) {
      if (this.isMain(node))
        return {
          status: "main",
          height: node.height,
          hash,
          confirmations: best.height - node.height + 1,
          workOnTop: best.chainWork - node.chainWork + node.work,
        };
      const fork = this.forkOf(node);
      return {
        status: "side",
        height: node.height,
        hash,
        fork: { height: fork.height, hash: fork.hash },
        branchWork: this.heaviestAbove(node).chainWork - fork.chainWork,
        bestWork: best.chainWork - fork.chainWork,
      };
    }
    for (const cp of this.cps)
      if (cp.hash === hash)
        return {
          status: "checkpoint",
          height: cp.height,
          hash,
          confirmations: best.height - cp.height + 1,
          chainWork: cp.chainWork,
        };
    return { status: "unknown" };
  }

  /** The last header `node`'s branch shares with the best chain. */
  protected forkOf(node: TreeNode): TreeNode {
    let n: TreeNode | undefined = node;
    while (n && !this.isMain(n)) n = n.parent;
    // Every node descends from the root, which is on the best chain.
    return n ?? this.root;
  }

  /** The heaviest header of the tree that descends from `node` (or `node` itself). */
  protected heaviestAbove(node: TreeNode): TreeNode {
    let best = node;
    for (const n of this.nodes.values()) {
      if (n.height <= node.height || n.chainWork <= best.chainWork || this.isMain(n)) continue;
      let a: TreeNode | undefined = n;
      while (a && a.height > node.height) a = a.parent;
      if (a === node) best = n;
    }
    return best;
  }

  // ---------------------------------------------------------------- changes

  /** Puts a checked header in the tree; it is the best tip when it has strictly more work. */
  protected join(
    raw: Uint8Array,
    hash: string,
    hashBytes: Uint8Array,
    parent: TreeNode,
    checked: Checked,
    source: string,
  ): TreeNode {
    const height = parent.height + 1;
    const node: TreeNode = {
      hash,
      hashBytes,
      raw: this.keep(raw),
      height,
      time: checked.time,
      bits: checked.bits,
      work: checked.work,
      chainWork: parent.chainWork + checked.work,
      parent,
      anchor:
        height === 1
          ? anchorFromBlockOne(this.genesisBits, checked.time, this.params.targetSpacing)
          : parent.anchor,
      seq: this.seq++,
      source,
      prevTimes: undefined,
    };
    this.nodes.set(hash, node);
    if (node.chainWork > this.bestNode.chainWork) this.bestNode = node;
    return node;
  }

  /**
   * A copy of a header's 80 bytes, cut from a shared slab: one backing store per 4,096 headers instead of
   * one per header, which is most of what a long sync would otherwise spend in the garbage collector.
   * A slab is freed once every header cut from it is dropped (the window drops them in order).
   */
  private keep(raw: Uint8Array): Uint8Array {
    if (this.slabUsed + HEADER_SIZE > this.slab.length) {
      this.slab = new Uint8Array(SLAB_HEADERS * HEADER_SIZE);
      this.slabUsed = 0;
    }
    const out = this.slab.subarray(this.slabUsed, this.slabUsed + HEADER_SIZE);
    out.set(raw);
    this.slabUsed += HEADER_SIZE;
    return out;
  }

  /**
   * After headers joined: re-indexes the best chain from its new tip down to where it meets the old
   * index, prunes, and returns the reorg when the old tip left the best chain.
   */
  protected settle(startBest: TreeNode): LightReorg | undefined {
    const best = this.bestNode;
    let reorg: LightReorg | undefined;
    if (best !== startBest) {
      const fresh: TreeNode[] = [];
      let n: TreeNode | undefined = best;
      while (n && this.main[n.height - this.root.height] !== n) {
        fresh.push(n);
        n = n.parent;
      }
      const fork = n ?? this.root;
      const depth = startBest.height - fork.height;
      this.main.length = fork.height - this.root.height + 1;
      for (let i = fresh.length - 1; i >= 0; i--) this.main.push(fresh[i]!);
      if (depth > 0)
        reorg = {
          fork: { height: fork.height, hash: fork.hash },
          depth,
          workLeft: startBest.chainWork - fork.chainWork,
          workJoined: best.chainWork - fork.chainWork,
        };
    }
    this.prune();
    return reorg;
  }

  // ---------------------------------------------------------------- memory

  /** Keeps the headers from `height` up in the tree until `unpin` (a record being checked). */
  pin(height: number): void {
    this.pins.set(height, (this.pins.get(height) ?? 0) + 1);
  }

  /** Releases one `pin` of `height`. */
  unpin(height: number): void {
    const c = (this.pins.get(height) ?? 0) - 1;
    if (c > 0) this.pins.set(height, c);
    else this.pins.delete(height);
  }

  /**
   * Drops headers below the window once the best chain is well past it (in steps, so the cost per header
   * stays constant), remembering checkpoints of the dropped main-chain headers.
   */
  private prune(): void {
    if (this.window === 0) return;
    const slack = pruneSlack(this.window);
    if (this.main.length <= this.window + 1 + slack) return;
    let target = this.bestNode.height - this.window;
    for (const h of this.pins.keys()) target = Math.min(target, h);
    // A trusted header another branch overtook stays, with the fork below it: the rewrite's evidence.
    // One still on the best chain may fall below the window (a long sync): it is kept as a checkpoint,
    // and a later chain without it forks below the base, which a sync reports as a divergence.
    const t = this.trustedCp;
    const trustedNode = t && t.height >= this.root.height ? this.nodes.get(t.hash) : undefined;
    if (trustedNode && !this.isMain(trustedNode)) target = Math.min(target, this.forkOf(trustedNode).height);
    if (target <= this.root.height) return;
    const newRoot = this.main[target - this.root.height]!;
    for (const n of this.main.slice(1, target - this.root.height + 1))
      if (n.height % this.checkpointEvery === 0 || n === trustedNode) this.keepCheckpoint(n);
    newRoot.prevTimes = this.ancestorTimes(newRoot);
    // Keep what descends from the new root: main-chain headers above it, and side branches off them.
    const keep = new Set<TreeNode>([newRoot]);
    const side: TreeNode[] = [];
    for (const n of this.nodes.values()) {
      if (n.height <= newRoot.height) continue;
      if (this.isMain(n)) keep.add(n);
      else side.push(n);
    }
    side.sort((a, b) => a.height - b.height);
    for (const n of side) if (n.parent && keep.has(n.parent)) keep.add(n);
    for (const [hash, n] of this.nodes) if (!keep.has(n)) this.nodes.delete(hash);
    this.main = this.main.slice(target - this.root.height);
    newRoot.parent = undefined;
    this.root = newRoot;
  }

  /**
   * Remembers a checkpoint (in height order); over the bound, drops the one whose neighbours are closest,
   * older first, never the trusted header.
   */
  keepCheckpoint(n: { height: number; hash: string; chainWork: bigint }): void {
    let at = this.cps.length;
    while (at > 0 && this.cps[at - 1]!.height >= n.height) at--;
    if (this.cps[at]?.height === n.height) return;
    this.cps.splice(at, 0, { height: n.height, hash: n.hash, chainWork: n.chainWork });
    while (this.cps.length > this.maxCheckpoints) {
      let drop = 1;
      let gap = Number.POSITIVE_INFINITY;
      for (let i = 1; i < this.cps.length - 1; i++) {
        if (this.cps[i]!.hash === this.trustedCp?.hash) continue; // the trusted header is never thinned
        const g = this.cps[i + 1]!.height - this.cps[i - 1]!.height;
        if (g < gap) {
          gap = g;
          drop = i;
        }
      }
      this.cps.splice(drop, 1);
    }
  }
}
