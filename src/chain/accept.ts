import { type Block, decodeBlock, recordIds } from "../consensus/block.ts";
import { BlockError } from "../consensus/errors.ts";
import type { NetworkParams } from "../consensus/params.ts";
import type { SignatureCache } from "../consensus/sigcache.ts";
import type { ConfirmedIn } from "../consensus/validate.ts";
import { checkBlockSliced } from "./connect.ts";
import { toStored } from "./load.ts";
import type { RecordView } from "./records.ts";
import { type ChainStore, readStored, storedBlock } from "./store.ts";
import {
  applySwitch,
  type Failure,
  firstFailure,
  planSwitch,
  type RunItem,
  refusal,
  runWrite,
  type SwitchPlan,
  switchWrite,
} from "./switch.ts";
import type { BlockTree } from "./tree.ts";
import type { ChainEntry } from "./types.ts";

/**
 * Step 5 of processBlock, after btcd's accept.go and connectBestChain: a block that passed the context
 * stage is written, as a side block, or as a switch of the main chain whose branch passes the records
 * stage first (switch.ts plans it), or with a run of blocks extending the tip (processBlocks). Each change
 * is one store batch, then applied to the tree; the Chain announces the change it returns. Every method
 * runs inside the Chain's queue.
 */

/** What sanity already found about a block's records: their ids and merkle upper levels, when known. */
export interface KnownRecords {
  ids?: Uint8Array[] | undefined;
  upper?: Uint8Array | undefined;
}

/** A change written and applied to memory, for the Chain to announce. */
export type Change =
  | { kind: "side"; entry: ChainEntry }
  | {
      kind: "switch";
      plan: SwitchPlan;
      bodies: ReadonlyMap<ChainEntry, Block>;
      refused: BlockError | undefined;
    }
  | { kind: "run"; run: readonly RunItem[]; previous: ChainEntry };

/** A switch's change; `refused` is the BlockError the candidate is refused with, when a block failed. */
export type SwitchChange = Extract<Change, { kind: "switch" }>;

/** What the accept stage shares with the Chain that owns it. */
export interface AcceptContext {
  params: NetworkParams;
  store: ChainStore;
  tree: BlockTree;
  records: RecordView;
  now(): number;
  /** The Chain's work counters (records checks are counted here). */
  stats: { recordChecks: number };
  /** Signatures verified before (the mempool's), not verified again (consensus/sigcache.ts). */
  signatures?: SignatureCache | undefined;
}

/** The accept stage of the Chain that owns it (one per Chain). */
export class Acceptor {
  constructor(private readonly ctx: AcceptContext) {}

  /**
   * Writes `entry` (checked up to the context, not yet in the tree): a side block when it has no more work
   * than the tip (equal work keeps the block seen first), else a switch to it (`activate`).
   * Runs inside the Chain's queue.
   */
  async accept(entry: ChainEntry, block: Block, raw: Uint8Array, known: KnownRecords): Promise<Change> {
    const { store, tree } = this.ctx;
    if (entry.chainWork > tree.tip.chainWork) return this.activate(entry, block, raw, known);
    await store.write({
      blocks: [storedBlock(entry.hashBytes, raw, block, known)],
      entries: [toStored(entry)],
    });
    tree.add(entry);
    return { kind: "side", entry };
  }

  /**
   * Makes `candidate` (more work than the tip, not yet in the tree) the tip: finds the fork point,
   * validates every block of the new branch that was never connected, and only then writes the switch as
   * one batch. If a block of the branch is invalid, it and its descendants are marked invalid and the tip
   * moves only as far as the valid prefix allows (normally not at all); `refused` then says why.
   * `failure`: the candidate's records were already checked and failed (processBlocks), so they are not
   * checked twice, and the change is always refused (the walk over the branch stops at the candidate at the
   * latest); `ids`, `upper`: the candidate's record ids and merkle upper levels, when known.
   * Runs inside the Chain's queue.
   */
  activate(
    candidate: ChainEntry,
    block: Block,
    raw: Uint8Array,
    opts: KnownRecords & { failure: BlockError },
  ): Promise<SwitchChange & { refused: BlockError }>;
  activate(candidate: ChainEntry, block: Block, raw: Uint8Array, opts: KnownRecords): Promise<SwitchChange>;
  async activate(
    candidate: ChainEntry,
    block: Block,
    raw: Uint8Array,
    opts: KnownRecords & { failure?: BlockError },
  ): Promise<SwitchChange> {
    const { store, tree, records } = this.ctx;
    const { fork, branch } = tree.branchOf(candidate);
    const bodies = new Map<ChainEntry, Block>([[candidate, block]]);
    const stored = branch.slice(0, -1);
    const sides = await readStored(store, stored, "side block");
    for (let i = 0; i < stored.length; i++) bodies.set(stored[i]!, decodeBlock(sides[i]!));
    const ids = new Map<ChainEntry, Uint8Array[]>();
    for (const x of branch) ids.set(x, (x === candidate && opts.ids) || recordIds(bodies.get(x)!));
    const given = (x: ChainEntry): BlockError | undefined => (x === candidate ? opts.failure : undefined);
    const plan = planSwitch({
      candidate,
      previous: tree.tip,
      fork,
      branch,
      mainAbove: tree.mainSlice(fork.height + 1),
      failed: await this.verifyBranch(fork, branch, bodies, ids, given),
      descendants: (root) => tree.descendants(root, candidate),
    });
    // The record index follows the main chain: the disconnected blocks' records leave it.
    const gone = await readStored(store, plan.disconnect, "main-chain block");
    for (let i = 0; i < gone.length; i++) bodies.set(plan.disconnect[i]!, decodeBlock(gone[i]!));
    const w = switchWrite(plan, { block, raw, upper: opts.upper }, bodies, ids);
    await records.moving(async () => {
      await store.write(w);
      applySwitch(tree, plan);
    });
    return { kind: "switch", plan, bodies, refused: refusal(plan) };
  }

  /**
   * The records stage for `item`, a block extending the run of a processBlocks call (`runIds`: the ids of
   * the run's blocks before it, not yet in the index, mapped to their block's hash): its BlockError, or
   * undefined when it passes. Runs inside the Chain's queue.
   */
  async extensionFailure(
    item: RunItem,
    runIds: ReadonlyMap<string, string>,
  ): Promise<BlockError | undefined> {
    const { records, tree } = this.ctx;
    const confirmedIn = await records.confirmedView(item.ids.slice(1), tree.tip, runIds);
    return this.recordsError(item.entry, item.block, confirmedIn, item.ids);
  }

  /**
   * Writes a run of blocks that extend the tip one after another (all validated) as one batch, then
   * applies it. Runs inside the Chain's queue.
   */
  async commitRun(run: readonly RunItem[]): Promise<Change> {
    const { store, tree, records } = this.ctx;
    const previous = tree.tip;
    const w = runWrite(run);
    await records.moving(async () => {
      await store.write(w);
      for (const { entry } of run) tree.add(entry);
      tree.setMain(
        previous,
        run.map((r) => r.entry),
      );
    });
    return { kind: "run", run, previous };
  }

  /**
   * The first block of the branch (above `fork`, oldest first) whose records fail, or undefined; `given`
   * is a verdict already known for a block (not checked again). The exactly-once rule sees the index as of
   * the fork, plus the blocks of the branch before each one. Runs inside the Chain's queue.
   */
  private async verifyBranch(
    fork: ChainEntry,
    branch: ChainEntry[],
    bodies: ReadonlyMap<ChainEntry, Block>,
    ids: ReadonlyMap<ChainEntry, Uint8Array[]>,
    given: (x: ChainEntry) => BlockError | undefined,
  ): Promise<Failure | undefined> {
    const unchecked = branch.filter((x) => x.status !== "valid" && !given(x));
    const earlier = new Map<string, string>();
    const asked = unchecked.flatMap((x) => ids.get(x)!.slice(1));
    const confirmedIn = await this.ctx.records.confirmedView(asked, fork, earlier);
    const check = async (x: ChainEntry): Promise<BlockError | undefined> =>
      given(x) ?? (await this.recordsError(x, bodies.get(x)!, confirmedIn, ids.get(x)!));
    return firstFailure(branch, ids, check, earlier);
  }

  /**
   * The records stage of a block about to join the main chain, in time slices (the queue holds the chain
   * still meanwhile): its BlockError, or undefined when it passes.
   */
  private async recordsError(
    x: ChainEntry,
    body: Block,
    confirmedIn: ConfirmedIn,
    ids: Uint8Array[],
  ): Promise<BlockError | undefined> {
    const { params, tree, stats, signatures } = this.ctx;
    stats.recordChecks++;
    const facts = { hash: x.hashBytes, hashHex: x.hash, size: x.size, ids };
    try {
      await checkBlockSliced(
        body,
        x.hashBytes,
        params,
        { parent: tree.view(x.parent!) },
        { now: this.ctx.now(), from: "records", facts, confirmedIn, signatures },
      );
      return undefined;
    } catch (err) {
      if (!(err instanceof BlockError)) throw err;
      return err;
    }
  }
}
