/**
 * propagation: one-way delays on every link; found → stored and found → tip on every node (p50/p99) and the
 * stale share beside 1 − e^(−Δ/T). Optionally with blocks carrying `records` records that are pending on
 * every node, links shaped to `mbit`, and one run per block relay mode (`relay`) on fresh nodes with the
 * same seed, so compact and full relay meet the same mining schedule.
 */

import { exponential, seededRandom } from "../../util/random.ts";
import type { Helper, Lab } from "../lab.ts";
import { type LabNode, P2P_PORT, sleep } from "../nodes.ts";
import { percentile } from "../relay.ts";
import { meshed, RELAY_BASE_PORT, round, type Scenario, settled } from "./common.ts";
import { type Feed, postAhead } from "./feed.ts";

/** Blocks mined before each mode's measurement, not counted: the compact relay's high-bandwidth peers form. */
const WARMUP_BLOCKS = 2;

export const propagation: Scenario = {
  name: "propagation",
  defaultNodes: 8,
  minNodes: 3,
  async run(lab, o) {
    const delays = o.delays ?? [0, 50, 100, 200];
    const blocks = o.blocks ?? 50;
    const T = o.blockInterval ?? 5;
    const jitter = o.jitter ?? 0;
    const records = o.records ?? 0;
    const modes = o.relay ?? ["compact"];
    const count = lab.hosts.length;
    const degree = Math.min(2, count - 1);
    if (o.mbit !== undefined) for (const h of lab.hosts) await lab.topo.shape(h, o.mbit);
    const { relays, peers } = await startRing(lab, degree, delays[0] ?? 0, jitter);
    const rows = [];
    const problems: string[] = [];
    for (const relay of modes) {
      const nodes = lab.hosts.map((h) => lab.addNode(h, peers[h.index]!, ["--relay", relay]));
      await Promise.all(nodes.map((n) => n.start()));
      await meshed(nodes, degree);
      lab.say(
        `relay ${relay}: ${count} nodes, each dialing ${degree} ring neighbours through its relay` +
          `${o.mbit !== undefined ? ` over ${o.mbit} Mbit/s links` : ""}; T = ${T} s, ${blocks} blocks per delay` +
          `${records > 0 ? `, ${records} records per block, pending on every node` : ""}`,
      );
      const seen = followBlocks(nodes);
      // The same schedule (when, and on which node) for every relay mode.
      const random = seededRandom(lab.opts.seed);
      // Enough for every block, tie-breaks included (at most 3 per wait for one tip).
      const ahead = records * (WARMUP_BLOCKS + blocks * delays.length + 3 * (delays.length + 1));
      const feed = records > 0 ? await postAhead(lab, nodes, ahead) : undefined;
      if (feed)
        lab.say(
          `  ${ahead} records posted ahead, pending on all ${count} nodes` +
            (feed.filled ? ` (${feed.filled} given directly to nodes gossip had not reached)` : ""),
        );
      await sleep(500);
      const mine = { random, records, feed };
      await Promise.all(relays.map((r) => r.send({ delayMs: delays[0] ?? 0, jitterMs: jitter })));
      for (let i = 0; i < WARMUP_BLOCKS; i++) {
        await sleep(exponential(random, T * 1000));
        await lab.mineOn(nodes[Math.floor(random() * count)]!, { records: records > 0, maxRecords: records });
      }
      for (const d of delays) {
        await Promise.all(relays.map((r) => r.send({ delayMs: d, jitterMs: jitter })));
        await oneTip(lab, nodes, records);
        const row = await measureDelay(lab, nodes, seen, { delayMs: d, blocks, T, ...mine }, problems);
        rows.push({ relay, ...row });
      }
      seen.abort.abort();
      await Promise.all(nodes.map((n) => n.stop()));
    }
    const ratios = compare(rows);
    for (const r of ratios)
      lab.say(`  delay ${r.delayMs} ms, compact / full: found→stored p50 ${r.p50Ratio}x, p99 ${r.p99Ratio}x`);
    return {
      scenario: "propagation",
      ok: problems.length === 0,
      problems,
      nodes: count,
      T,
      ...(o.mbit !== undefined ? { linkMbit: o.mbit } : {}),
      recordsPerBlock: records,
      rows,
      ...(ratios.length ? { compactOverFull: ratios } : {}),
    };
  },
};

/** Per delay run with both relays: compact's found → stored on every node over full's (p50, p99, mean). */
function compare(
  rows: Array<{
    relay: string;
    delayMs: number;
    reachedP50Ms: number;
    reachedP99Ms: number;
    reachedMeanMs: number;
  }>,
) {
  const out = [];
  for (const c of rows.filter((r) => r.relay === "compact")) {
    const f = rows.find((r) => r.relay === "full" && r.delayMs === c.delayMs);
    if (!f) continue;
    out.push({
      delayMs: c.delayMs,
      p50Ratio: round(c.reachedP50Ms / f.reachedP50Ms),
      p99Ratio: round(c.reachedP99Ms / f.reachedP99Ms),
      meanRatio: round(c.reachedMeanMs / f.reachedMeanMs),
    });
  }
  return out;
}

/**
 * Waits for one tip, breaking a tie with a block like the others (from n0, not from the schedule's random,
 * so the schedule stays the same).
 */
function oneTip(lab: Lab, nodes: LabNode[], records: number): Promise<{ height: number; hash: string }> {
  const mine = () => lab.mineOn(nodes[0]!, { records: records > 0, maxRecords: records });
  return settled(lab, nodes, { waitMs: 15_000, mine });
}

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
 * Starts a relay on every host towards its `degree` ring successors (first delay `delayMs`); returns the
 * relays, to change their delay, and per host the peer addresses its node dials (through its relay).
 */
async function startRing(
  lab: Lab,
  degree: number,
  delayMs: number,
  jitter: number,
): Promise<{ relays: Helper[]; peers: string[][] }> {
  const count = lab.hosts.length;
  const relays = [];
  const all: string[][] = [];
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
    all[h.index] = peers;
  }
  return { relays, peers: all };
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
  o: {
    delayMs: number;
    blocks: number;
    T: number;
    random: () => number;
    records: number;
    feed?: Feed | undefined;
  },
  problems: string[],
) {
  const { delayMs: d, T, random } = o;
  const count = nodes.length;
  const found: Found[] = [];
  const carried: number[] = [];
  const youngest: number[] = [];
  for (let i = 0; i < o.blocks; i++) {
    await sleep(exponential(random, T * 1000));
    const n = nodes[Math.floor(random() * nodes.length)]!;
    const b = await lab.mineOn(n, { records: o.records > 0, maxRecords: o.records });
    // Found: the moment the block exists and goes to its node (the lab's reads of tip and pool before it
    // take longer for a block of 1,000 records, and are not propagation).
    found.push({ hash: b.hash, at: b.foundAt, height: b.height, on: n.name });
    if (o.feed) {
      carried.push(b.records.length);
      const newest = Math.max(0, ...b.records.map((id) => o.feed!.submittedAt.get(id) ?? 0));
      if (newest > 0) youngest.push(b.foundAt - newest);
    }
  }
  const final = await oneTip(lab, nodes, o.records);
  await sleep(200);
  const main = await onMainChain(nodes[0]!, found, final.height);
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
    ...(o.feed
      ? {
          // Records per block (min, mean) and the youngest record a block carried, seconds after it was
          // posted: past the records' own propagation, it was pending on every node.
          recordsMin: Math.min(...carried),
          recordsMean: round(avg(carried), 0),
          youngestRecordS: round(Math.min(...youngest) / 1000, 1),
          backlogFilled: o.feed.filled,
        }
      : {}),
    slowest,
  };
  sayDelay(lab, count, row);
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

const avg = (xs: number[]): number => xs.reduce((x, y) => x + y, 0) / Math.max(1, xs.length);

/** The found blocks that are on `node`'s main chain up to `height`. */
async function onMainChain(node: LabNode, found: Found[], height: number): Promise<Set<string>> {
  const main = new Set<string>();
  for (const f of found) {
    const blk = await node.api.block(f.hash).catch(() => undefined);
    if (blk && (blk as { main?: boolean }).main !== false && blk.height <= height) {
      const atHeight = await node.api.block(blk.height);
      if (atHeight.hash === f.hash) main.add(f.hash);
    }
  }
  return main;
}

/** One delay's figures (`measureDelay`). */
type DelayRow = Awaited<ReturnType<typeof measureDelay>>;

/** The scenario's lines for one delay. */
function sayDelay(lab: Lab, count: number, row: DelayRow): void {
  lab.say(
    `  delay ${String(row.delayMs).padStart(3)} ms: found→tip on all ${count}: p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms; ` +
      `stale ${row.stale}/${row.blocks} = ${row.staleShare} (1-e^(-Δ/T) with Δ = mean found→stored ${row.reachedMeanMs} ms: ${row.expectedStaleShare})`,
  );
  lab.say(
    `    found→stored on all ${count} (main or side): p50 ${row.reachedP50Ms} ms, p99 ${row.reachedP99Ms} ms`,
  );
  if (row.recordsMin !== undefined)
    lab.say(
      `    records per block: min ${row.recordsMin}, mean ${row.recordsMean}; youngest record carried ${row.youngestRecordS} s old`,
    );
  for (const b of row.slowest)
    lab.say(
      `    slowest: height ${b.height} mined on ${b.minedOn}, ${b.ms} ms: ${JSON.stringify(b.perNode)}`,
    );
}
