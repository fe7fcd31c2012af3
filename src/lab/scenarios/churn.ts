/** churn: mining nodes SIGKILLed and restarted at random; at the end all converge, every store passes
 * `jbc chain verify`, and no height a node had confirmed is lost. */

import { exponential } from "../../util/random.ts";
import type { Lab } from "../lab.ts";
import { type LabNode, sleep } from "../nodes.ts";
import { meshed, round, type Scenario, scheduleMining, settle } from "./common.ts";

export const churn: Scenario = {
  name: "churn",
  defaultNodes: 5,
  minNodes: 3,
  async run(lab, o) {
    const seconds = o.seconds ?? 300;
    const interval = o.blockInterval ?? 1;
    const nodes = await lab.startMesh(Math.min(3, lab.hosts.length - 1));
    await meshed(nodes, 1);
    lab.say(`${nodes.length} mining nodes; SIGKILL and restart at random for ${seconds} s`);
    const problems: string[] = [];
    const miner = scheduleMining(lab, interval, () => nodes);
    const c = await killAndRestart(lab, nodes, seconds, problems);
    const { mined } = await miner.stop();
    await Promise.all(c.restarts);
    for (const n of nodes) if (!n.running) await n.start();
    const { final, convergeSeconds, tieBreaks } = await converge(lab, nodes, problems);
    for (const [height, hash] of c.confirmed) {
      const b = await nodes[0]!.api.block(height).catch(() => undefined);
      if (b?.hash !== hash)
        problems.push(`confirmed block ${height} ${hash.slice(0, 12)} is not on the final chain`);
    }
    await Promise.all(nodes.map((n) => n.stop()));
    const verified = await Promise.all(nodes.map((n) => n.verify()));
    verified.forEach((v, i) => {
      if (!v.ok) problems.push(`n${i}: chain verify failed: ${v.output}`);
    });
    lab.say(
      `${c.kills} SIGKILLs, ${mined} blocks mined; converged at ${final?.height ?? "-"} in ${round(convergeSeconds)} s` +
        (tieBreaks
          ? ` (${tieBreaks} block${tieBreaks > 1 ? "s" : ""} mined to break a tie of equal work)`
          : ""),
    );
    lab.say(`  chain verify: ${verified.filter((v) => v.ok).length}/${nodes.length} stores ok`);
    lab.say(`  ${c.confirmed.size} confirmed heights checked, ${c.lostOnRestart} heights lost on restart`);
    return {
      scenario: "churn",
      ok: problems.length === 0,
      problems,
      nodes: nodes.length,
      seconds,
      kills: c.kills,
      blocksMined: mined,
      finalHeight: final?.height ?? null,
      convergeSeconds: round(convergeSeconds),
      tieBreaks,
      storesVerified: verified.filter((v) => v.ok).length,
      confirmedChecked: c.confirmed.size,
      lostOnRestart: c.lostOnRestart,
    };
  },
};

/** What the kills left: the blocks seen with 6 confirmations, and the restarts (awaited by the caller). */
interface Churned {
  /** Blocks a node had 6 confirmations on: they must be on every final chain. */
  confirmed: Map<number, string>;
  kills: number;
  /** Restarts that came back lower than the node was; counted as each restart finishes. */
  lostOnRestart: number;
  restarts: Promise<void>[];
}

/**
 * For `seconds`: at random times, notes the block 6 below each live node's tip, then SIGKILLs a random
 * live node (while more than one is up) and restarts it after 1-5 s, checking it kept its height.
 */
async function killAndRestart(
  lab: Lab,
  nodes: LabNode[],
  seconds: number,
  problems: string[],
): Promise<Churned> {
  const c: Churned = { confirmed: new Map(), kills: 0, lostOnRestart: 0, restarts: [] };
  const end = Date.now() + seconds * 1000;
  /** Killed and not yet answering again: not picked as the next victim. */
  const down = new Set<LabNode>();
  while (Date.now() < end) {
    await sleep(Math.min(end - Date.now(), 500 + exponential(lab.random, 4000)));
    if (Date.now() >= end) break;
    const alive = nodes.filter((n) => n.running && !down.has(n));
    for (const n of alive) {
      const s = await n.api.status().catch(() => undefined);
      if (s && s.tip.height > 6) {
        const b = await n.api.block(s.tip.height - 6).catch(() => undefined);
        if (b) {
          const prev = c.confirmed.get(b.height);
          if (prev && prev !== b.hash) problems.push(`two blocks confirmed at height ${b.height}`);
          c.confirmed.set(b.height, b.hash);
        }
      }
    }
    if (alive.length <= 1) continue;
    const victim = alive[Math.floor(lab.random() * alive.length)]!;
    const had = await victim.api.status().then(
      (s) => s.tip.height,
      () => 0,
    );
    down.add(victim);
    await victim.kill();
    c.kills++;
    const downMs = 1000 + lab.random() * 4000;
    c.restarts.push(
      (async () => {
        await sleep(downMs);
        await victim.start();
        down.delete(victim);
        const now = (await victim.api.status()).tip.height;
        if (now < had) {
          c.lostOnRestart++;
          problems.push(`${victim.name} had height ${had} before SIGKILL, ${now} after restart`);
        }
      })().catch((err: Error) => {
        problems.push(`${victim.name} restart: ${err.message.slice(0, 300)}`);
      }),
    );
  }
  return c;
}

/**
 * Waits for one tip on every node (up to 120 s), mining up to three blocks to break a tie of equal work:
 * a node killed just after mining never sent its block, and restarted holds it at a height the others
 * filled with theirs.
 */
async function converge(
  lab: Lab,
  nodes: LabNode[],
  problems: string[],
): Promise<{
  final: { height: number; hash: string } | undefined;
  convergeSeconds: number;
  tieBreaks: number;
}> {
  const t0 = Date.now();
  const s = await settle(lab, nodes, { timeoutMs: 120_000, waitMs: 20_000 });
  if (s.error) problems.push(s.error);
  return { final: s.tip, convergeSeconds: (Date.now() - t0) / 1000, tieBreaks: s.tieBreaks };
}
