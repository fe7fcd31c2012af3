/**
 * The light client: a tree of block headers from a trusted start (the network's genesis, or a checkpoint
 * the user trusts), each header checked with consensus's own rules before it joins, and fork choice by
 * work. It answers "is this header on the best chain I know, and under how much work?", and names the
 * sources whose headers fail a check or whose chain has less work than they claimed.
 *
 * The checks are the header half of the node's (docs/consensus.md), with consensus's own functions
 * (checks.ts); the tree, its reads and its bounded memory are `HeaderTree` (tree.ts). This file holds what
 * decides: which answer's headers join, which source is at fault, and whether the trusted header still
 * stands.
 *
 * Browser-safe on purpose (the explorer verifies headers with this very code): plain typed arrays,
 * @noble through consensus, no `node:` module, no Buffer.
 */
import { sha256d } from "../consensus/hash.ts";
import { HEADER_SIZE, hashToHex } from "../consensus/header.ts";
import type { NetworkParams } from "../consensus/params.ts";
import {
  type CheckContext,
  checkHeader,
  displayHex,
  type Failure,
  isZero,
  linksTo,
  TargetCache,
  type TreeNode,
} from "./checks.ts";
import { HeaderTree } from "./tree.ts";
import {
  type AddResult,
  type Checkpoint,
  DEFAULT_TRUST_DEPTH,
  LightClientError,
  type LightClientOptions,
  type LightFault,
  type SourceClaim,
  type SourceVerdict,
  type TrustStatus,
} from "./types.ts";

/** Most sources and most known-invalid hashes remembered. */
const MAX_SOURCES = 1024;
const MAX_INVALID = 10_000;

interface SourceState {
  last?: TreeNode;
  claim?: SourceClaim;
  fault?: LightFault;
}

/** Headers from one or more sources, checked, in a tree with fork choice by work. */
export class LightClient extends HeaderTree {
  readonly trustDepth: number;
  private readonly now: () => number;
  private readonly invalid = new Map<string, Failure>();
  private readonly targets: TargetCache;
  private readonly sourceState = new Map<string, SourceState>();

  constructor(params: NetworkParams, opts: LightClientOptions = {}) {
    super(params, opts);
    this.trustDepth = Math.max(1, opts.trustDepth ?? DEFAULT_TRUST_DEPTH);
    this.now = opts.now ?? (() => Date.now() / 1000);
    this.targets = new TargetCache(params.powLimit);
  }

  /** Every check that failed so far, one per source (the first). */
  get faults(): LightFault[] {
    const out: LightFault[] = [];
    for (const s of this.sourceState.values()) if (s.fault) out.push(s.fault);
    return out;
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
    let prev: TreeNode | undefined;
    // One clock reading per answer: an answer is checked in milliseconds.
    const ctx: CheckContext = { params: this.params, targets: this.targets, now: this.now() };
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
      const checked = checkHeader(ctx, raw, hash, hashBytes, parent);
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

  private remember(hash: string, f: Failure): void {
    if (this.invalid.size >= MAX_INVALID) this.invalid.delete(this.invalid.keys().next().value!);
    this.invalid.set(hash, f);
  }

  private source(name: string): SourceState {
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
  private finish(startBest: TreeNode, result: AddResult): AddResult {
    const reorg = this.settle(startBest);
    if (reorg) result.reorg = reorg;
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
    const held =
      n?.hash === cp.hash || this.checkpoints.some((c) => c.hash === cp.hash && c.height === cp.height);
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
}
