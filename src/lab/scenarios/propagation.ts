/** propagation: one-way delays on every link; found → tip on every node (p50/p99) and the stale share
 * beside 1 − e^(−Δ/T). */

import { exponential } from "../../util/random.ts";
import type { Helper, Lab } from "../lab.ts";
import { type LabNode, P2P_PORT, sleep } from "../nodes.ts";
import { percentile } from "../relay.ts";
import { meshed, RELAY_BASE_PORT, round, type Scenario, settled } from "./common.ts";

export const propagation: Scenario = {
  name: "propagation",
  defaultNodes: 8,
  minNodes: 3,
  async run(lab, o) {
    const delays = o.delays ?? [0, 50, 100, 200];
    const blocks = o.blocks ?? 50;
    const T = o.blockInterval ?? 5;
    const jitter = o.jitter ?? 0;
    const count = lab.hosts.length;
    const degree = Math.min(2, count - 1);
    const relays = await startRing(lab, degree, delays[0] ?? 0, jitter);
    const nodes = lab.nodes;
    await Promise.all(nodes.map((n) => n.start()));
    await meshed(nodes, degree);
    lab.say(
      `${count} nodes, each dialing ${degree} ring neighbours through its relay; T = ${T} s, ${blocks} blocks per delay`,
    );
    const seen = followBlocks(nodes);
    await sleep(500);
    const rows = [];
    const problems: string[] = [];
    for (const d of delays) {
      await Promise.all(relays.map((r) => r.send({ delayMs: d, jitterMs: jitter })));
      await settled(lab, nodes);
      rows.push(await measureDelay(lab, nodes, seen, { delayMs: d, blocks, T }, problems));
    }
    seen.abort.abort();
    return { scenario: "propagation", ok: problems.length === 0, problems, nodes: count, T, rows };
  },
};

/** When each block reached each node (stored, main or side) and joined its main chain, per block hash. */
interface Seen {
  joinedAt: Map<string, Map<string, number>>;
  reachedAt: Map<string, Map<string, number>>;
  abort: AbortController;
}

/** A block the lab mined: when, at what height, on which node. */
interface Found {
  hash: string;
  at: number;
  height: number;
  on: string;
}

/**
 * Adds a node on every host that dials its `degree` ring successors through a relay in its own namespace
 * (first delay `delayMs`); returns the relays, to change their delay.
 */
async function startRing(lab: Lab, degree: number, delayMs: number, jitter: number): Promise<Helper[]> {
  const count = lab.hosts.length;
  const relays = [];
  for (const h of lab.hosts) {
    const routes = [];
    const peers: string[] = [];
    for (let d = 1; d <= degree; d++) {
      const j = (h.index + d) % count;
      routes.push({
        listen: { host: "127.0.0.1", port: RELAY_BASE_PORT + j },
        target: { host: lab.hosts[j]!.dataIp, port: P2P_PORT },
      });
      peers.push(`127.0.0.1:${RELAY_BASE_PORT + j}`);
    }
    relays.push(
      await lab.helper(h, [
        "relay",
        JSON.stringify({ delayMs, jitterMs: jitter, seed: h.index + 1, routes }),
      ]),
    );
    lab.addNode(h, peers);
  }
  return relays;
}

/**
 * Follows every node's "block" events (one per block connected, reorgs and batched syncs included): the
 * first time each block reached each node and joined its main chain, until `abort`.
 */
function followBlocks(nodes: LabNode[]): Seen {
  const seen: Seen = { joinedAt: new Map(), reachedAt: new Map(), abort: new AbortController() };
  const note = (at: Map<string, Map<string, number>>, hash: string, node: string, now: number): void => {
    const m = at.get(hash) ?? new Map<string, number>();
    at.set(hash, m);
    if (!m.has(node)) m.set(node, now);
  };
  for (const n of nodes) {
    void n.api
      .events((e) => {
        if (e.event !== "block") return;
        const now = Date.now();
        const b = e.data as { hash: string; main: boolean };
        note(seen.reachedAt, b.hash, n.name, now);
        if (b.main) note(seen.joinedAt, b.hash, n.name, now);
      }, seen.abort.signal)
      .catch(() => undefined);
  }
  return seen;
}

/**
 * Mines `blocks` blocks at Poisson times (mean T s) on random nodes under one delay, waits for one tip,
 * and returns the delay's row: found → tip and found → stored on every node, the stale share beside
 * 1 − e^(−Δ/T), the slowest main blocks node by node.
 */
async function measureDelay(
  lab: Lab,
  nodes: LabNode[],
  seen: Seen,
  o: { delayMs: number; blocks: number; T: number },
  problems: string[],
) {
  const { delayMs: d, T } = o;
  const count = nodes.length;
  const found: Found[] = [];
  for (let i = 0; i < o.blocks; i++) {
    await sleep(exponential(lab.random, T * 1000));
    const n = nodes[Math.floor(lab.random() * nodes.length)]!;
    const at = Date.now();
    const b = await lab.mineOn(n);
    found.push({ hash: b.hash, at, height: b.height, on: n.name });
  }
  // A tie left by the last two blocks would never resolve with mining stopped: one more block breaks it.
  const final = await settled(lab, nodes, { timeoutMs: 60_000 });
  await sleep(200);
  const main = new Set<string>();
  for (const f of found) {
    const blk = await nodes[0]!.api.block(f.hash).catch(() => undefined);
    if (blk && (blk as { main?: boolean }).main !== false && blk.height <= final.height) {
      const atHeight = await nodes[0]!.api.block(blk.height);
      if (atHeight.hash === f.hash) main.add(f.hash);
    }
  }
  const latest = (at: Map<string, Map<string, number>>, f: { hash: string; at: number }): number => {
    const m = at.get(f.hash);
    return m && m.size === nodes.length ? Math.max(...m.values()) - f.at : Number.NaN;
  };
  const onMain = found.filter((f) => main.has(f.hash));
  const times = onMain.map((f) => latest(seen.joinedAt, f)).filter((t) => Number.isFinite(t));
  // Propagation alone: the block stored on every node, whether or not it is already their tip there
  // (a node holding the other block of a race switches only when the next block decides it).
  const reached = found.map((f) => latest(seen.reachedAt, f)).filter((t) => Number.isFinite(t));
  const slowest = slowestMain(found, main, seen.joinedAt, nodes.length);
  const stale = found.length - main.size;
  const avg = (xs: number[]): number => xs.reduce((x, y) => x + y, 0) / Math.max(1, xs.length);
  const mean = avg(times);
  // Δ of the model is how long a block takes to reach the other miners: found → stored everywhere.
  const delta = avg(reached);
  const row = {
    delayMs: d,
    blocks: found.length,
    measured: times.length,
    p50Ms: round(percentile(times, 50), 0),
    p99Ms: round(percentile(times, 99), 0),
    meanMs: round(mean, 0),
    reachedP50Ms: round(percentile(reached, 50), 0),
    reachedP99Ms: round(percentile(reached, 99), 0),
    stale,
    staleShare: round(stale / found.length, 3),
    reachedMeanMs: round(delta, 0),
    expectedStaleShare: round(1 - Math.exp(-delta / 1000 / T), 3),
    staleBlocks: found.filter((f) => !main.has(f.hash)).map((f) => ({ height: f.height, minedOn: f.on })),
    slowest,
  };
  lab.say(
    `  delay ${String(d).padStart(3)} ms: found→tip on all ${count}: p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms; ` +
      `stale ${stale}/${found.length} = ${row.staleShare} (1-e^(-Δ/T) with Δ = mean found→stored ${row.reachedMeanMs} ms: ${row.expectedStaleShare})`,
  );
  lab.say(
    `    found→stored on all ${count} (main or side): p50 ${row.reachedP50Ms} ms, p99 ${row.reachedP99Ms} ms`,
  );
  for (const b of slowest)
    lab.say(
      `    slowest: height ${b.height} mined on ${b.minedOn}, ${b.ms} ms: ${JSON.stringify(b.perNode)}`,
    );
  if (times.length < found.length - stale)
    problems.push(`delay ${d}: some main blocks did not reach every node`);
  return row;
}

/** The three slowest main blocks, node by node: where a tail comes from (which node, how late). */
function slowestMain(
  found: Found[],
  main: Set<string>,
  joinedAt: Map<string, Map<string, number>>,
  nodeCount: number,
) {
  return found
    .filter((f) => main.has(f.hash) && joinedAt.get(f.hash)?.size === nodeCount)
    .map((f) => {
      const perNode = Object.fromEntries(
        [...joinedAt.get(f.hash)!].map(([name, t]) => [name, t - f.at] as const).sort(),
      );
      return { height: f.height, minedOn: f.on, ms: Math.max(...Object.values(perNode)), perNode };
    })
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 3);
}
