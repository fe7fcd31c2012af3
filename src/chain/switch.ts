import type { Block } from "../consensus/block.ts";
import { toHex } from "../consensus/bytes.ts";
import { BlockError } from "../consensus/errors.ts";
import { toStored } from "./load.ts";
import { type IndexedRecord, indexedRecords, type StoreWrite, storedBlock } from "./store.ts";
import type { BlockTree } from "./tree.ts";
import type { ChainEntry, Reorg } from "./types.ts";

/**
 * A switch of the main chain, planned before anything is written (btcd's verifyReorganizationValidity
 * before reorganizeChain): which block of the new branch fails, which blocks leave and join the main
 * chain, which statuses change, and the one store batch that says all of it. Pure: no store, no clock,
 * no events; the Chain reads what the plan needs, writes the batch, then applies the plan to its tree.
 */

/** A block of a branch that broke a rule when its records were checked, and the rule. */
export interface Failure {
  entry: ChainEntry;
  error: BlockError;
}

/** The status an entry takes when the switch is applied. */
export type StatusChange = Pick<ChainEntry, "status" | "invalid">;

/** What a switch to `candidate` does. */
export interface SwitchPlan {
  /** The block that started the switch (more work than the tip); not yet in the tree. */
  candidate: ChainEntry;
  /** The tip before the switch. */
  previous: ChainEntry;
  /** The last main-chain block the new branch shares. */
  fork: ChainEntry;
  /**
   * The tip after the switch: the candidate; or, when a block of the branch fails, the valid prefix's
   * last block if it has more work than `previous`, else `previous` (nothing connects).
   */
  target: ChainEntry;
  /** Blocks that join the main chain, oldest first (empty when the tip stays). */
  connect: ChainEntry[];
  /** Blocks that leave the main chain, newest first (empty when nothing connects). */
  disconnect: ChainEntry[];
  /**
   * New statuses: "valid" for connected blocks not yet valid, "invalid" for the failed block,
   * "invalid-child" for its descendants. The candidate always has one.
   */
  status: Map<ChainEntry, StatusChange>;
  /** The first failing block of the branch, when one failed. */
  failed: Failure | undefined;
}

/**
 * The first block of `branch` (oldest first) that fails `check`, which is asked only for blocks never
 * connected (status not "valid"). Before each block is checked, `earlier` holds the record ids (display
 * hex) of the blocks before it in the branch, mapped to their block's hash: the exactly-once view reads it.
 * `check` may be asynchronous (the chain's runs in time slices); the blocks are still checked one at a time.
 */
export async function firstFailure(
  branch: readonly ChainEntry[],
  ids: ReadonlyMap<ChainEntry, readonly Uint8Array[]>,
  check: (x: ChainEntry) => BlockError | undefined | Promise<BlockError | undefined>,
  earlier: Map<string, string>,
): Promise<Failure | undefined> {
  for (const x of branch) {
    if (x.status !== "valid") {
      const error = await check(x);
      if (error) return { entry: x, error };
    }
    for (const id of ids.get(x)!) earlier.set(toHex(id), x.hash);
  }
  return undefined;
}

/** What planSwitch needs: the tree around the switch, read before it, and the branch's verdict. */
export interface SwitchInput {
  candidate: ChainEntry;
  previous: ChainEntry;
  fork: ChainEntry;
  /** The entries from above the fork up to the candidate, oldest first. */
  branch: readonly ChainEntry[];
  /** The main chain above the fork, oldest first (what a switch disconnects). */
  mainAbove: readonly ChainEntry[];
  failed: Failure | undefined;
  /** The entries descending from `root`, the candidate included (they become "invalid-child"). */
  descendants(root: ChainEntry): ChainEntry[];
}

/** Plans the switch: how far the tip moves, what leaves and joins the main chain, which statuses change. */
export function planSwitch(input: SwitchInput): SwitchPlan {
  const { candidate, previous, fork, branch, failed } = input;
  const status = new Map<ChainEntry, StatusChange>();
  let target = candidate;
  if (failed) {
    status.set(failed.entry, { status: "invalid", invalid: failed.error.data });
    for (const d of input.descendants(failed.entry)) status.set(d, { status: "invalid-child" });
    const prefix = failed.entry.parent!;
    target = prefix.chainWork > previous.chainWork ? prefix : previous;
  }
  const connect = target === previous ? [] : branch.slice(0, branch.indexOf(target) + 1);
  for (const x of connect) if (x.status !== "valid") status.set(x, { status: "valid" });
  const disconnect = connect.length ? input.mainAbove.slice().reverse() : [];
  return { candidate, previous, fork, target, connect, disconnect, status, failed };
}

/** The candidate's body as the switch stores it: its bytes and, when known, its merkle upper levels. */
export interface CandidateBody {
  block: Block;
  raw: Uint8Array;
  upper?: Uint8Array | undefined;
}

/**
 * The one batch a plan writes: the candidate's body, every changed entry, the main-chain index moved
 * from the fork up, and the record index following it (the disconnected blocks' records out, the
 * connected ones' in). `bodies` holds every connected and disconnected block; `ids` the record ids of
 * the branch's blocks.
 */
export function switchWrite(
  plan: SwitchPlan,
  candidate: CandidateBody,
  bodies: ReadonlyMap<ChainEntry, Block>,
  ids: ReadonlyMap<ChainEntry, Uint8Array[]>,
): StoreWrite {
  const { connect, disconnect, target, previous } = plan;
  const entries = [...plan.status].map(([x, s]) => toStored({ ...x, ...s }));
  const mainDel: number[] = [];
  if (connect.length) for (let h = target.height + 1; h <= previous.height; h++) mainDel.push(h);
  const recordsDel: IndexedRecord[] = [];
  for (const x of disconnect)
    for (const rec of indexedRecords(bodies.get(x)!, x.height)) recordsDel.push(rec);
  const recordsPut: IndexedRecord[] = [];
  for (const x of connect)
    for (const rec of indexedRecords(bodies.get(x)!, x.height, ids.get(x))) recordsPut.push(rec);
  const c = plan.candidate;
  return {
    blocks: [
      storedBlock(c.hashBytes, candidate.raw, candidate.block, { ids: ids.get(c), upper: candidate.upper }),
    ],
    entries,
    mainDel,
    mainPut: connect.map((x) => ({ height: x.height, hash: x.hashBytes })),
    ...(connect.length ? { tip: target.hashBytes } : {}),
    recordsDel,
    recordsPut,
  };
}

/** Applies a written plan to the tree: the candidate joins it, statuses change, the main chain moves. */
export function applySwitch(tree: BlockTree, plan: SwitchPlan): void {
  tree.add(plan.candidate);
  for (const [x, s] of plan.status) {
    x.status = s.status;
    x.invalid = s.invalid;
  }
  if (plan.connect.length) tree.setMain(plan.fork, plan.connect);
}

/** The reorg a plan makes, when it disconnects blocks (oldest first on both sides). */
export function reorgOf(plan: SwitchPlan): Reorg | undefined {
  const { fork, connect, disconnect } = plan;
  if (!disconnect.length) return undefined;
  return { fork, disconnected: disconnect.slice().reverse(), connected: connect, depth: disconnect.length };
}

/**
 * The error the candidate is refused with: its own when it failed, INVALID_PARENT when a block of the
 * branch below it did; undefined when nothing failed.
 */
export function refusal(plan: SwitchPlan): BlockError | undefined {
  const { failed, candidate } = plan;
  if (!failed) return undefined;
  if (failed.entry === candidate) return failed.error;
  return new BlockError({ code: "INVALID_PARENT", parent: failed.entry.hash }, candidate.hash);
}

/** A block of a processBlocks run, checked and waiting for its batch. */
export interface RunItem {
  entry: ChainEntry;
  block: Block;
  raw: Uint8Array;
  ids: Uint8Array[];
  upper: Uint8Array | undefined;
}

/** The one batch of a run of blocks that extend the tip one after another (all validated). */
export function runWrite(run: readonly RunItem[]): StoreWrite {
  const recordsPut: IndexedRecord[] = [];
  for (const r of run) for (const x of indexedRecords(r.block, r.entry.height, r.ids)) recordsPut.push(x);
  return {
    blocks: run.map((r) => storedBlock(r.entry.hashBytes, r.raw, r.block, r)),
    entries: run.map((r) => toStored(r.entry)),
    mainPut: run.map((r) => ({ height: r.entry.height, hash: r.entry.hashBytes })),
    tip: run[run.length - 1]!.entry.hashBytes,
    recordsPut,
  };
}
