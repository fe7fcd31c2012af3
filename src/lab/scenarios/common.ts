/**
 * What every scenario shares: the option and result types, and the few helpers (rounding, waiting for a
 * mesh, the lab's Poisson mining). Failures of the property a scenario checks are reported in `ok: false`
 * and `problems`, not thrown: the lab still prints them.
 */
import { exponential } from "../../util/random.ts";
import type { Lab } from "../lab.ts";
import { converged, type LabNode, sleep, tips, waitFor } from "../nodes.ts";

export interface ScenarioOptions {
  /** Scenario length in seconds (its own default when absent). */
  seconds?: number;
  /** Mean seconds between blocks (the lab's scheduled mining). */
  blockInterval?: number;
  /** lockout: idle sockets the attacker holds. */
  sockets?: number;
  /** propagation: blocks per delay; cosign: checkpoints per delay. */
  blocks?: number;
  /** relay, propagation, cosign: one-way delays to run, in ms. */
  delays?: number[];
  /** late-joiner, propagation: link bandwidth in Mbit/s. */
  mbit?: number;
  /** late-joiner: data bytes in each block of the chain. */
  recordBytes?: number;
  /** relay, propagation, cosign: jitter added to each delay (uniform 0..jitter), in ms. */
  jitter?: number;
  /** partition: ledger records submitted to each half during the split; propagation: records per block. */
  records?: number;
  /** propagation: block relay modes to run, one after the other on fresh nodes (jbc node --relay). */
  relay?: ("compact" | "full")[];
  /** late-joiner: peers the joiner syncs from, each behind its own shaped link. */
  peers?: number;
}

export interface ScenarioResult {
  scenario: string;
  ok: boolean;
  problems: string[];
  [key: string]: unknown;
}

export interface Scenario {
  name: string;
  /** Hosts the scenario needs by default, and at least. */
  defaultNodes: number;
  minNodes: number;
  /** Hosts the given options need (late-joiner --peers), when that is more than defaultNodes. */
  nodesFor?(o: ScenarioOptions): number;
  run(lab: Lab, o: ScenarioOptions): Promise<ScenarioResult>;
}

export const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

/** Waits until every node has at least `min` joined peers. */
export async function meshed(nodes: LabNode[], min: number, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    async () => (await Promise.all(nodes.map((n) => n.api.status()))).every((s) => s.peers >= min),
    `every node to have ${min} peer(s)`,
    timeoutMs,
    200,
  );
}

/**
 * Mines blocks at Poisson times (mean `interval` s) on nodes picked at random among `pick()`, until
 * `stop()` is called; returns what was mined. With `records`, each block takes its node's pending records.
 */
export function scheduleMining(
  lab: Lab,
  interval: number,
  pick: () => LabNode[],
  opts: { records?: boolean } = {},
): { stop(): Promise<{ mined: number; failed: number }> } {
  let running = true;
  let mined = 0;
  let failed = 0;
  const loop = (async () => {
    while (running) {
      await sleep(exponential(lab.random, interval * 1000));
      if (!running) break;
      const candidates = pick().filter((n) => n.running);
      const n = candidates[Math.floor(lab.random() * candidates.length)];
      if (!n) continue;
      try {
        await lab.mineOn(n, opts);
        mined++;
      } catch {
        failed++; // the node was killed between the pick and the submit
      }
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { mined, failed };
    },
  };
}

/** Relays listen on 127.0.0.1:<RELAY_BASE_PORT + j> in the dialer's namespace for a route to host j. */
export const RELAY_BASE_PORT = 9000;

export interface SettleOptions {
  /** In all (default 60 s). */
  timeoutMs?: number;
  /** Blocks mined to break ties, at most (default 3). */
  tieBreaks?: number;
  /** One wait for one tip before looking for a tie (default 10 s). */
  waitMs?: number;
  /** How a tie-breaking block is mined (default: an empty block on the first node). */
  mine?: () => Promise<unknown>;
}

/**
 * Waits for the one tip every node agrees on, mining a block to break a tie of equal work (at most
 * `tieBreaks` of them); after `timeoutMs`, `tip` is absent and `error` names each node's tip.
 *
 * Two blocks found at one height before either reached the other miner split the nodes between them, and
 * each node keeps the block it saw first (as Bitcoin Core) until the next block decides: with the lab's
 * mining stopped, nothing would. Tips at different heights are a node catching up, which only waits.
 */
export async function settle(
  lab: Lab,
  nodes: LabNode[],
  o: SettleOptions = {},
): Promise<{ tip?: { height: number; hash: string }; tieBreaks: number; error?: string }> {
  const deadline = Date.now() + (o.timeoutMs ?? 60_000);
  let tieBreaks = 0;
  for (;;) {
    const left = deadline - Date.now();
    try {
      const tip = await converged(nodes, Math.max(0, Math.min(o.waitMs ?? 10_000, left)));
      return { tip, tieBreaks };
    } catch (err) {
      if (Date.now() >= deadline) return { tieBreaks, error: (err as Error).message };
    }
    const t = await tips(nodes);
    const heights = new Set(t.map((x) => x?.height));
    if (heights.size === 1 && !heights.has(undefined) && tieBreaks < (o.tieBreaks ?? 3)) {
      tieBreaks++;
      lab.say("    tips differ at one height: one more block mined to break the tie");
      await (o.mine ? o.mine() : lab.mineOn(nodes[0]!));
    }
  }
}

/** `settle`, throwing its error: for the steps a scenario cannot go on without. */
export async function settled(
  lab: Lab,
  nodes: LabNode[],
  o: SettleOptions = {},
): Promise<{ height: number; hash: string }> {
  const s = await settle(lab, nodes, o);
  if (!s.tip) throw new Error(s.error);
  return s.tip;
}
