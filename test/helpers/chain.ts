/**
 * Chain fixtures: a real Chain on a real LevelStore in a temp dir, with a clock the test controls, and a
 * named-block scenario builder in the style of btcd's fullblocktests ("b1", "b2a", … with fork diagrams).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Chain, type ChainOptions } from "../../src/chain/chain.ts";
import type { Block } from "../../src/consensus/block.ts";
import type { NetworkParams } from "../../src/consensus/params.ts";
import { LevelStore } from "../../src/store/level.ts";
import { blockHash, type ChildOptions, makeChild } from "./blocks.ts";

export interface Harness {
  chain: Chain;
  store: LevelStore;
  dir: string;
  /** The clock the chain reads, in seconds; tests move it. */
  clock: { now: number };
  /** Closes and reopens chain and store on the same directory (a clean restart). */
  restart(): Promise<void>;
  /** Closes everything and deletes the directory. */
  dispose(): Promise<void>;
}

export function tempDir(prefix = "jbc-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Opens a chain in a fresh temp dir. The clock starts a day after genesis so block times are in the past. */
export async function openHarness(
  params: NetworkParams,
  opts: Omit<ChainOptions, "params" | "store" | "now"> = {},
): Promise<Harness> {
  const dir = tempDir();
  const clock = { now: params.genesis.header.time + 86_400 };
  const open = async (): Promise<{ chain: Chain; store: LevelStore }> => {
    const store = await LevelStore.open(dir, params);
    const chain = await Chain.open({ ...opts, params, store, now: () => clock.now });
    return { chain, store };
  };
  const h: Harness = {
    ...(await open()),
    dir,
    clock,
    async restart() {
      await h.chain.close();
      await h.store.close();
      Object.assign(h, await open());
    },
    async dispose() {
      await h.chain.close();
      await h.store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}

/** Named blocks: `s.add("b2", "b1")` mines a child of b1 called b2 (its miner name is its block name). */
export class Scenario {
  readonly blocks = new Map<string, Block>();

  constructor(readonly params: NetworkParams) {
    this.blocks.set("genesis", params.genesis);
  }

  get(name: string): Block {
    const b = this.blocks.get(name);
    if (!b) throw new Error(`no block named ${name}`);
    return b;
  }

  hash(name: string): string {
    return blockHash(this.get(name));
  }

  /** Mines `name` on top of `parent`. */
  add(name: string, parent: string, opts: ChildOptions = {}): Block {
    const b = makeChild(this.get(parent), this.params, { miner: name, ...opts });
    this.blocks.set(name, b);
    return b;
  }

  /** Stores an arbitrary (possibly invalid) block under a name. */
  set(name: string, block: Block): Block {
    this.blocks.set(name, block);
    return block;
  }

  /** Mines a branch `${prefix}${i}` for i in [from, to] on top of `parent`. Returns the last name. */
  branch(prefix: string, parent: string, from: number, to: number, opts: ChildOptions = {}): string {
    let p = parent;
    for (let i = from; i <= to; i++) {
      this.add(`${prefix}${i}`, p, opts);
      p = `${prefix}${i}`;
    }
    return p;
  }
}
