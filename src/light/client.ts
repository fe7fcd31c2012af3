/**
 * The light client: a tree of block headers from a trusted start (the network's genesis, or a checkpoint
 * the user trusts), each header checked with consensus's own rules before it joins, and fork choice by
 * work. It answers "is this header on the best chain I know, and under how much work?", and names the
 * sources whose headers fail a check or whose chain has less work than they claimed.
 *
 * The checks are the header half of the node's (docs/consensus.md), with consensus's own functions:
 * linkage; bits that encode a valid target within the proof-of-work limit and a hash that meets it
 * (`bitsToTarget`, `hashToBigInt`); the bits ASERT requires (`requiredBits`, anchored at block 1 as the
 * chain anchors it); a time above the median of the previous 11 (`medianTimePast`) and at most
 * `maxFutureDrift` ahead of the clock; the network's checkpoints. Nothing here is a rule of its own.
 *
 * Browser-safe on purpose (the explorer verifies headers with this very code): plain typed arrays,
 * @noble through consensus, no `node:` module, no Buffer.
 *
 * Memory is bounded: below the best tip the tree keeps `window` headers; older main-chain headers are
 * dropped, every `checkpointEvery`-th one remembered as a checkpoint (height, hash, chain work), and the
 * checkpoints thinned to `maxCheckpoints` (older ones sparser). The header the user trusts (`trusted`)
 * and the headers a caller pins are never dropped, nor the fork below a trusted header another branch
 * overtook: that is the evidence of a rewrite.
 */

import { toHex } from "../consensus/bytes.ts";
import { bitsToTarget, blockWork } from "../consensus/compact.ts";
import { type AsertAnchor, anchorFromBlockOne, requiredBits } from "../consensus/difficulty.ts";
import { sha256d } from "../consensus/hash.ts";
import { encodeHeader, HEADER_SIZE, hashToHex } from "../consensus/header.ts";
import type { NetworkParams } from "../consensus/params.ts";
import { MEDIAN_TIME_SPAN, medianTimePast } from "../consensus/time.ts";
import {
  type AddResult,
  type Checkpoint,
  DEFAULT_CHECKPOINT_EVERY,
  DEFAULT_MAX_CHECKPOINTS,
  DEFAULT_TRUST_DEPTH,
  DEFAULT_WINDOW,
  type HeaderNode,
  type LightBase,
  LightClientError,
  type LightClientOptions,
  type LightFault,
  type Location,
  type SourceClaim,
  type SourceVerdict,
  type TrustStatus,
} from "./types.ts";

interface Node extends HeaderNode {
  parent: Node | undefined;
  /** The base's ancestors' times, oldest first (only on the base). */
  prevTimes: readonly number[] | undefined;
}

/** Most sources and most known-invalid hashes remembered. */
const MAX_SOURCES = 1024;
const MAX_INVALID = 10_000;
/** Headers per slab of header bytes (`keep`). */
const SLAB_HEADERS = 4096;

type Failure = Omit<LightFault, "source">;

function u32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

function hex8(n: number): string {
  return `0x${n.toString(16).padStart(8, "0")}`;
}

/** Headers from one or more sources, checked, in a tree with fork choice by work. */
export class LightClient {
  readonly params: NetworkParams;
  readonly window: number;
  readonly checkpointEvery: number;
  readonly maxCheckpoints: number;
  readonly trustDepth: number;
  private readonly now: () => number;
  private readonly nodes = new Map<string, Node>();
  private readonly invalid = new Map<string, Failure>();
  private readonly targets = new Map<number, { work: bigint; le: Uint8Array } | null>();
  private slab = new Uint8Array(0);
  private slabUsed = 0;
  private readonly sourceState = new Map<string, { last?: Node; claim?: SourceClaim; fault?: LightFault }>();
  private root: Node;
  private bestNode: Node;
  /** The best chain from the root: main[i] is at height root.height + i. */
  private main: Node[];
  private seq = 0;
  private trustedCp: Checkpoint | undefined;
  private pins = new Map<number, number>();
  private cps: Checkpoint[] = [];
  private readonly genesisBits: number;

  constructor(params: NetworkParams, opts: LightClientOptions = {}) {
    this.params = params;
    this.window = opts.window ?? DEFAULT_WINDOW;
    this.checkpointEvery = opts.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
    this.maxCheckpoints = Math.max(2, opts.maxCheckpoints ?? DEFAULT_MAX_CHECKPOINTS);
    this.trustDepth = Math.max(1, opts.trustDepth ?? DEFAULT_TRUST_DEPTH);
    this.now = opts.now ?? (() => Date.now() / 1000);
    this.genesisBits = params.genesis.header.bits;
    if (!Number.isSafeInteger(this.window) || this.window < 0)
      throw new LightClientError("window must be a whole number");
    this.root = this.makeRoot(opts.base);
    this.nodes.set(this.root.hash, this.root);
    this.bestNode = this.root;
    this.main = [this.root];
  }

  private makeRoot(base: LightBase | undefined): Node {
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
    const work = blockWork(bits);
    return {
      hash,
      hashBytes,
      raw: Uint8Array.from(b.header),
      height: b.height,
      time,
      bits,
      work,
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

  /** Every check that failed so far, one per source (the first). */
  get faults(): LightFault[] {
    const out: LightFault[] = [];
    for (const s of this.sourceState.values()) if (s.fault) out.push(s.fault);
    return out;
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
    const n = node as Node;
    if (!n.parent) return [...(n.prevTimes ?? [])];
    return this.lastTimes(n.parent).times.slice(-(MEDIAN_TIME_SPAN - 1));
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
  private forkOf(node: Node): Node {
    let n: Node | undefined = node;
    while (n && !this.isMain(n)) n = n.parent;
    // Every node descends from the root, which is on the best chain.
    return n ?? this.root;
  }

  /** The heaviest header of the tree that descends from `node` (or `node` itself). */
  private heaviestAbove(node: Node): Node {
    let best = node;
    for (const n of this.nodes.values()) {
      if (n.height <= node.height || n.chainWork <= best.chainWork || this.isMain(n)) continue;
      let a: Node | undefined = n;
      while (a && a.height > node.height) a = a.parent;
      if (a === node) best = n;
    }
    return best;
  }

  // ---------------------------------------------------------------- adding headers

  /**
   * Checks and adds one source's answer: consecutive headers, each the parent of the next, the first at
   * height `from` when the source said so. Stops at the first header that fails a check and names the
   * source (`fault`); a source with a fault is refused from then on. An answer whose first header has no
   * known parent is `unconnected` (no fault: ask from lower down).
   */
  add(source: string, headers: readonly Uint8Array[], opts: { from?: number } = {}): AddResult {
    const state = this.source(source);
    const result: AddResult = { added: 0, known: 0, unconnected: false };
    if (state.fault) return { ...result, fault: state.fault };
    const startBest = this.bestNode;
    let prev: Node | undefined;
    const fail = (f: Failure): AddResult => {
      const fault: LightFault = { source, ...f };
      state.fault = fault;
      return this.finish(startBest, { ...result, fault });
    };
    for (let i = 0; i < headers.length; i++) {
      const raw = headers[i]!;
      if (!(raw instanceof Uint8Array) || raw.length !== HEADER_SIZE)
        return fail({ code: "MALFORMED", reason: `answer item ${i} is not an ${HEADER_SIZE}-byte header` });
      const hashBytes = sha256d(raw);
      const hash = displayHex(hashBytes);
      if (prev && !linksTo(raw, prev.hashBytes))
        return fail({
          code: "BAD_LINK",
          height: prev.height + 1,
          hash,
          reason: `header ${hash} does not link to the header before it (${prev.hash} at height ${prev.height})`,
        });
      const wantHeight = opts.from === undefined ? undefined : opts.from + i;
      const known = this.nodes.get(hash);
      if (known) {
        if (wantHeight !== undefined && known.height !== wantHeight)
          return fail({
            code: "BAD_HEIGHT",
            height: known.height,
            hash,
            reason: `header ${hash} is at height ${known.height}, served as height ${wantHeight}`,
          });
        prev = known;
        state.last = known;
        result.last = known;
        result.known++;
        continue;
      }
      const bad = this.invalid.get(hash);
      if (bad) return fail({ ...bad, code: "INVALID", reason: `a header already refused: ${bad.reason}` });
      const parent = prev ?? this.nodes.get(displayHex(raw.subarray(4, 36)));
      if (!parent) {
        const why = this.orphanFault(raw, hash);
        return why ? fail(why) : this.finish(startBest, { ...result, unconnected: true });
      }
      const height = parent.height + 1;
      if (wantHeight !== undefined && height !== wantHeight)
        return fail({
          code: "BAD_HEIGHT",
          height,
          hash,
          reason: `header ${hash} is at height ${height}, served as height ${wantHeight}`,
        });
      const checked = this.check(raw, hash, hashBytes, parent, height);
      if ("code" in checked) {
        if (checked.code !== "TIME_TOO_NEW") this.remember(hash, checked);
        return fail(checked);
      }
      const node = this.join(raw, hash, hashBytes, parent, checked, source);
      prev = node;
      state.last = node;
      result.last = node;
      result.added++;
    }
    return this.finish(startBest, result);
  }

  /** A header without a known parent that is wrong in itself: another genesis, or a refused parent. */
  private orphanFault(raw: Uint8Array, hash: string): Failure | undefined {
    const prevHash = raw.subarray(4, 36);
    if (isZero(prevHash) && hash !== this.params.genesisHash)
      return {
        code: "BAD_GENESIS",
        height: 0,
        hash,
        reason: `header ${hash} starts another chain (this network's genesis is ${this.params.genesisHash})`,
      };
    if (this.invalid.has(hashToHex(prevHash)))
      return { code: "INVALID", hash, reason: `header ${hash} builds on a header already refused` };
    return undefined;
  }

  /** Puts a checked header in the tree; it is the best tip when it has strictly more work. */
  private join(
    raw: Uint8Array,
    hash: string,
    hashBytes: Uint8Array,
    parent: Node,
    checked: { time: number; bits: number; work: bigint },
    source: string,
  ): Node {
    const height = parent.height + 1;
    const node: Node = {
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

  /** The header's own checks against its parent; its time, bits and work when it passes. */
  private check(
    raw: Uint8Array,
    hash: string,
    hashBytes: Uint8Array,
    parent: Node,
    height: number,
  ): Failure | { time: number; bits: number; work: bigint } {
    const p = this.params;
    const time = u32(raw, 68);
    const bits = u32(raw, 72);
    const cp = p.checkpoints.get(height);
    if (cp !== undefined && cp !== hash)
      return {
        code: "CHECKPOINT_MISMATCH",
        height,
        hash,
        reason: `height ${height} is checkpointed as ${cp}, not ${hash}`,
      };
    const target = this.target(bits);
    if (target === null)
      return { code: "BAD_TARGET", height, hash, reason: `bits ${hex8(bits)} encode no acceptable target` };
    if (above(hashBytes, target.le))
      return { code: "HIGH_HASH", height, hash, reason: `hash ${hash} is above the target of its bits` };
    const anchor = parent.anchor;
    if (p.noRetargeting || parent.height === 0 || anchor) {
      const want = requiredBits(p, parent.height, parent.time, () => anchor!);
      if (bits !== want)
        return {
          code: "BAD_BITS",
          height,
          hash,
          reason: `bits ${hex8(bits)} at height ${height}, ASERT requires ${hex8(want)}`,
        };
    }
    const last = this.lastTimes(parent);
    if (last.complete) {
      const mtp = medianTimePast(last.times);
      if (time <= mtp)
        return {
          code: "TIME_TOO_OLD",
          height,
          hash,
          reason: `time ${time} is not above the median time past ${mtp}`,
        };
    }
    const limit = this.now() + p.maxFutureDrift;
    if (time > limit)
      return {
        code: "TIME_TOO_NEW",
        height,
        hash,
        reason: `time ${time} is ${Math.round(time - limit + p.maxFutureDrift)} s ahead of this clock (or this clock is behind)`,
      };
    return { time, bits, work: target.work };
  }

  /**
   * Times of up to the 11 headers ending at `from`, oldest first, and whether they are all there are
   * (11, or every header down to genesis): the median-time rule is checked only then.
   */
  private lastTimes(from: Node): { times: number[]; complete: boolean } {
    const times: number[] = [];
    let n: Node | undefined = from;
    let lowest = from.height;
    let prevTimes: readonly number[] | undefined;
    while (n && times.length < MEDIAN_TIME_SPAN) {
      times.push(n.time);
      lowest = n.height;
      prevTimes = n.prevTimes;
      n = n.parent;
    }
    if (times.length < MEDIAN_TIME_SPAN && !n && prevTimes) {
      for (let i = prevTimes.length - 1; i >= 0 && times.length < MEDIAN_TIME_SPAN; i--) {
        times.push(prevTimes[i]!);
        lowest--;
      }
    }
    times.reverse();
    return { times, complete: times.length === MEDIAN_TIME_SPAN || lowest === 0 };
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
   * The target of `bits` (null when not acceptable) with its work and its little-endian bytes, cached:
   * a chain's bits take few values, and this is the per-header cost a 100,000-header sync pays most.
   */
  private target(bits: number): { work: bigint; le: Uint8Array } | null {
    let t = this.targets.get(bits);
    if (t === undefined) {
      const target = bitsToTarget(bits, this.params.powLimit);
      if (target === null) t = null;
      else {
        const le = new Uint8Array(32);
        let v = target;
        for (let i = 0; i < 32; i++, v >>= 8n) le[i] = Number(v & 0xffn);
        t = { work: blockWork(bits), le };
      }
      if (this.targets.size >= 4096) this.targets.clear();
      this.targets.set(bits, t);
    }
    return t;
  }

  private remember(hash: string, f: Failure): void {
    if (this.invalid.size >= MAX_INVALID) this.invalid.delete(this.invalid.keys().next().value!);
    this.invalid.set(hash, f);
  }

  private source(name: string): { last?: Node; claim?: SourceClaim; fault?: LightFault } {
    let s = this.sourceState.get(name);
    if (!s) {
      if (this.sourceState.size >= MAX_SOURCES)
        this.sourceState.delete(this.sourceState.keys().next().value!);
      s = {};
      this.sourceState.set(name, s);
    }
    return s;
  }

  /** After an answer: the reorg it caused, the best chain's index, the window. */
  private finish(startBest: Node, result: AddResult): AddResult {
    const best = this.bestNode;
    if (best !== startBest) {
      // Re-index the best chain from the new tip down to where it meets the old index.
      const fresh: Node[] = [];
      let n: Node | undefined = best;
      while (n && this.main[n.height - this.root.height] !== n) {
        fresh.push(n);
        n = n.parent;
      }
      const fork = n ?? this.root;
      const depth = startBest.height - fork.height;
      this.main.length = fork.height - this.root.height + 1;
      for (let i = fresh.length - 1; i >= 0; i--) this.main.push(fresh[i]!);
      if (depth > 0)
        result.reorg = {
          fork: { height: fork.height, hash: fork.hash },
          depth,
          workLeft: startBest.chainWork - fork.chainWork,
          workJoined: best.chainWork - fork.chainWork,
        };
    }
    this.prune();
    return result;
  }

  // ---------------------------------------------------------------- sources

  /** Records what a source says its tip is (judged by `verdict`). */
  claim(source: string, claim: SourceClaim): void {
    this.source(source).claim = claim;
  }

  /** Names a source for something found outside `add` (a sync's own checks). */
  blame(fault: LightFault): void {
    const s = this.source(fault.source);
    s.fault ??= fault;
  }

  /**
   * What the client thinks of a source now: faulty (a check failed, or its chain has less work than it
   * claimed), agrees (its tip is on the best chain), disagrees (a valid branch that is not the best), or
   * silent. Call once its answers are in; the LESS_WORK fault is recorded here.
   */
  verdict(source: string): SourceVerdict {
    const s = this.source(source);
    if (s.fault) return { source, status: "faulty", fault: s.fault };
    let tip = s.last;
    if (s.claim) {
      const claimed = this.nodes.get(s.claim.hash);
      if (claimed && (!tip || claimed.chainWork > tip.chainWork)) tip = claimed;
    }
    if (!tip) {
      if (s.claim && s.claim.height <= this.root.height)
        return { source, status: "behind-window", tip: { height: s.claim.height, hash: s.claim.hash } };
      return { source, status: "silent" };
    }
    if (s.claim && tip.chainWork < s.claim.chainWork) {
      s.fault = {
        source,
        code: "LESS_WORK",
        height: tip.height,
        hash: tip.hash,
        reason: `claims a tip at height ${s.claim.height} with chain work ${s.claim.chainWork}, served a chain ending at height ${tip.height} with ${tip.chainWork}`,
      };
      return { source, status: "faulty", fault: s.fault };
    }
    const at = { height: tip.height, hash: tip.hash };
    const best = this.bestNode;
    if (this.nodes.get(tip.hash) !== tip) {
      // Dropped with the window: below it, or on a branch that forked below it.
      if (tip.height < this.root.height) return { source, status: "behind-window", tip: at };
      const root = this.root;
      return {
        source,
        status: "disagrees",
        tip: at,
        fork: { height: root.height, hash: root.hash },
        branchWork: tip.chainWork - root.chainWork,
        bestWork: best.chainWork - root.chainWork,
      };
    }
    if (this.isMain(tip)) return { source, status: "agrees", tip: at, behind: best.height - tip.height };
    const fork = this.forkOf(tip);
    return {
      source,
      status: "disagrees",
      tip: at,
      fork: { height: fork.height, hash: fork.hash },
      branchWork: tip.chainWork - fork.chainWork,
      bestWork: best.chainWork - fork.chainWork,
    };
  }

  // ---------------------------------------------------------------- trust and memory

  /**
   * Trusts a header of the tree's best chain, or a checkpoint it remembers: from now on a best chain
   * without it is a rewrite (`trustStatus`). Throws LightClientError for a header it does not hold.
   */
  setTrusted(cp: Checkpoint): void {
    const n = this.mainAt(cp.height);
    const held = n?.hash === cp.hash || this.cps.some((c) => c.hash === cp.hash && c.height === cp.height);
    if (!held)
      throw new LightClientError(
        `height ${cp.height}: ${cp.hash} is not on the best chain this client holds`,
      );
    this.trustedCp = n ? { height: n.height, hash: n.hash, chainWork: n.chainWork } : { ...cp };
  }

  /**
   * Moves the trusted header up to the best chain's header with `confirmations` confirmations, unless the
   * trusted one was rewritten. Returns the trusted header.
   */
  advanceTrusted(confirmations = this.trustDepth): Checkpoint | undefined {
    if (this.trustStatus().status === "rewritten") return this.trustedCp;
    const h = this.bestNode.height - Math.max(1, confirmations) + 1;
    const n = this.mainAt(h);
    if (n && (!this.trustedCp || h > this.trustedCp.height))
      this.trustedCp = { height: n.height, hash: n.hash, chainWork: n.chainWork };
    return this.trustedCp;
  }

  /** Whether the best chain still holds the trusted header, or where it left it and with how much work. */
  trustStatus(): TrustStatus {
    const t = this.trustedCp;
    if (!t) return { status: "none" };
    const best = this.bestNode;
    const here = this.mainAt(t.height);
    if (here?.hash === t.hash || t.height < this.root.height)
      return { status: "held", trusted: t, confirmations: best.height - t.height + 1 };
    const node = this.nodes.get(t.hash);
    if (!node) {
      // Not in the tree: only a state edited by hand gets here (the tree never drops it).
      const fork = this.root;
      return {
        status: "rewritten",
        trusted: t,
        fork: { height: fork.height, hash: fork.hash },
        depth: t.height - fork.height,
        workLeft: t.chainWork - fork.chainWork,
        workJoined: best.chainWork - fork.chainWork,
      };
    }
    const fork = this.forkOf(node);
    const oldTip = this.heaviestAbove(node);
    return {
      status: "rewritten",
      trusted: t,
      fork: { height: fork.height, hash: fork.hash },
      depth: oldTip.height - fork.height,
      workLeft: oldTip.chainWork - fork.chainWork,
      workJoined: best.chainWork - fork.chainWork,
    };
  }

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
    const keep = new Set<Node>([newRoot]);
    const side: Node[] = [];
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

/** Headers the best chain may grow past the window before the next prune (so pruning is amortised). */
export function pruneSlack(window: number): number {
  return Math.max(16, window >> 2);
}

/** Whether a hash (internal order, a little-endian number) is above a target's little-endian bytes. */
function above(hash: Uint8Array, target: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) if (hash[i] !== target[i]) return hash[i]! > target[i]!;
  return false;
}

/** Whether the header's parent hash (bytes 4 to 36) is `hash`. */
function linksTo(raw: Uint8Array, hash: Uint8Array): boolean {
  for (let i = 0; i < 32; i++) if (raw[4 + i] !== hash[i]) return false;
  return true;
}

const scratch = new Uint8Array(32);
/** Display hex of an internal-order hash (consensus's hashToHex, without its reversed copy). */
function displayHex(hash: Uint8Array): string {
  for (let i = 0; i < 32; i++) scratch[i] = hash[31 - i]!;
  return toHex(scratch);
}

function isZero(b: Uint8Array): boolean {
  for (const x of b) if (x !== 0) return false;
  return true;
}
