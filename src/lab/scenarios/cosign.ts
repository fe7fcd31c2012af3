/**
 * cosign (issue 19): how long a team's checkpoint cosignature round takes across hosts. Three team nodes
 * (one a host, every host by default) run as a team does: the network key, the three node keys as
 * witnesses, a quorum of 2. Links carry a one-way delay (100 ms unless `--delays`), through the relay on
 * the dialing side. The lab mines at a steady pace (one block every `--block-interval` s, on a node picked
 * at random), so rounds never overlap; for each checkpoint (height h, signable once the block at h + k
 * is found) it times, on every node, found → the node holds h cosigned by the quorum, from the nodes'
 * `checkpoint` events (GET /api/events; each stamped by the node as the signature was stored: one
 * clock for all namespaces). docs/lab.md "cosign".
 */

import { join } from "node:path";
import type { CheckpointEvent } from "../../api/backend.ts";
import { writeNewNetworkKeyFile } from "../../net/private.ts";
import type { Helper, Lab } from "../lab.ts";
import { type LabNode, P2P_PORT, sleep, waitFor } from "../nodes.ts";
import { percentile } from "../relay.ts";
import { meshed, RELAY_BASE_PORT, round, type Scenario, settled } from "./common.ts";
import { writeTeamWitnesses } from "./rewrite-attack.ts";

/** k: the depth each node signs at (the node's default). */
const DEPTH = 6;

/** When one node stored signatures of one checkpoint (ms since the epoch, the node's stamp). */
interface NodeMoments {
  /** Its own signature: the block k above reached its tip. */
  own?: number;
  /** The quorum of witnesses' signatures. */
  quorum?: number;
  /** Every team node's signature. */
  all?: number;
}

/** A block the lab mined: the checkpoint it makes signable is `height - DEPTH`. */
interface Mined {
  height: number;
  hash: string;
  foundAt: number;
  on: string;
}

export const cosign: Scenario = {
  name: "cosign",
  defaultNodes: 3,
  minNodes: 3,
  async run(lab, o) {
    const delays = o.delays ?? [100];
    const jitter = o.jitter ?? 0;
    const perDelay = o.blocks ?? 40;
    const interval = o.blockInterval ?? 2;
    const count = lab.hosts.length;
    const quorum = Math.floor(count / 2) + 1;
    const relays = await startTeam(lab, delays[0] ?? 0, jitter, quorum);
    const nodes = lab.nodes;
    await Promise.all(nodes.map((n) => n.start()));
    await meshed(nodes, count - 1);
    const seen = followCheckpoints(nodes);
    await waitFor(() => seen.streams.size === count, "every node's event stream", 10_000, 50);
    lab.say(
      `${count} team nodes (network key, ${count} witnesses, quorum ${quorum}, depth ${DEPTH}), each pair linked once through the dialer's relay; one block every ${interval} s on a random node, ${perDelay} checkpoints per delay`,
    );
    const problems: string[] = [];
    const rows = [];
    let first = true;
    for (const d of delays) {
      await Promise.all(relays.map((r) => r.send({ delayMs: d, jitterMs: jitter })));
      await settled(lab, nodes);
      // The first delay also mines the k blocks below the first checkpoint, at the same pace.
      const mined = await mineSteadily(lab, nodes, perDelay + (first ? DEPTH : 0), interval);
      first = false;
      rows.push(await measure(lab, nodes, seen.moments, mined, { delayMs: d, jitterMs: jitter }, problems));
    }
    seen.abort.abort();
    const top = rows[0]!;
    return {
      scenario: "cosign",
      ok: problems.length === 0,
      problems,
      nodes: count,
      quorum,
      depth: DEPTH,
      blockInterval: interval,
      ...top,
      ...(rows.length > 1 ? { rows } : {}),
    };
  },
};

/**
 * Defines the team: node i dials every node j > i through a relay in its own namespace (one connection a
 * pair, so one relay on each path), all with the team's network key and the witnesses file of their
 * keys. Returns the relays (to change their delay).
 */
async function startTeam(lab: Lab, delayMs: number, jitter: number, quorum: number): Promise<Helper[]> {
  const dir = lab.topo.tempDir("cosign");
  const key = await writeNewNetworkKeyFile(join(dir, "team.key"));
  const witnesses = join(dir, "team.keys");
  const count = lab.hosts.length;
  const relays: Helper[] = [];
  for (const h of lab.hosts) {
    const routes = [];
    for (let j = h.index + 1; j < count; j++)
      routes.push({
        listen: { host: "127.0.0.1", port: RELAY_BASE_PORT + j },
        target: { host: lab.hosts[j]!.dataIp, port: P2P_PORT },
      });
    if (routes.length > 0)
      relays.push(
        await lab.helper(h, [
          "relay",
          JSON.stringify({ delayMs, jitterMs: jitter, seed: h.index + 1, routes }),
        ]),
      );
    lab.addNode(
      h,
      routes.map((r) => `127.0.0.1:${r.listen.port}`),
      [
        "--network-key",
        key.path,
        "--witnesses",
        witnesses,
        "--quorum",
        String(quorum),
        "--witness-name",
        `n${h.index}`,
        "--checkpoint-depth",
        String(DEPTH),
      ],
    );
  }
  await writeTeamWitnesses(lab.nodes, witnesses);
  return relays;
}

/**
 * Follows every node's `checkpoint` events: per node, per "height:hash", when it stored its own signature,
 * reached the quorum, and held every node's. `streams` holds the nodes whose stream said hello.
 */
function followCheckpoints(nodes: LabNode[]): {
  moments: Map<string, Map<string, NodeMoments>>;
  streams: Set<string>;
  abort: AbortController;
} {
  const moments = new Map<string, Map<string, NodeMoments>>();
  const streams = new Set<string>();
  const abort = new AbortController();
  for (const n of nodes) {
    const mine = new Map<string, NodeMoments>();
    moments.set(n.name, mine);
    void n.api
      .events((e) => {
        if (e.event === "hello") streams.add(n.name);
        if (e.event !== "checkpoint") return;
        const c = e.data as CheckpointEvent;
        const key = `${c.height}:${c.hash}`;
        const m = mine.get(key) ?? {};
        mine.set(key, m);
        if (c.signer === n.name) m.own ??= c.time;
        if (c.quorum) m.quorum ??= c.time;
        if (c.count >= nodes.length) m.all ??= c.time;
      }, abort.signal)
      .catch(() => undefined);
  }
  return { moments, streams, abort };
}

/** Mines `blocks` blocks, one every `interval` s (a fixed schedule, not Poisson), each on a random node. */
async function mineSteadily(lab: Lab, nodes: LabNode[], blocks: number, interval: number): Promise<Mined[]> {
  const mined: Mined[] = [];
  const start = Date.now();
  for (let i = 0; i < blocks; i++) {
    await sleep(Math.max(0, start + i * interval * 1000 - Date.now()));
    const n = nodes[Math.floor(lab.random() * nodes.length)]!;
    const b = await lab.mineOn(n);
    mined.push({ height: b.height, hash: b.hash, foundAt: b.foundAt, on: n.name });
  }
  return mined;
}

/**
 * One delay's row: waits (at most 30 s) for every node to hold every checkpoint the mined blocks made
 * signable cosigned by the quorum, then found → quorum per node and on all of them (p50/p99), with the
 * breakdown: found → the block k above on every node (its own signature) and the rest, the cosignatures.
 */
async function measure(
  lab: Lab,
  nodes: LabNode[],
  moments: Map<string, Map<string, NodeMoments>>,
  mined: Mined[],
  o: { delayMs: number; jitterMs: number },
  problems: string[],
) {
  // A tie left by the last two blocks is broken by one more block (not a checkpoint trigger: not in `mined`).
  const tip = await settled(lab, nodes, { timeoutMs: 30_000 });
  // A block is a checkpoint's trigger only if it is on the final main chain (a block mined on a node that
  // had not yet received the one before makes a fork; the steady pace makes that rare).
  const onMain: Mined[] = [];
  for (const m of mined) {
    if (m.height <= DEPTH || m.height > tip.height) continue;
    const b = await nodes[0]!.api.block(m.height, { limit: 1 });
    if (b.hash === m.hash) onMain.push(m);
  }
  const stale = mined.filter((m) => m.height > DEPTH).length - onMain.length;
  const keyOf = async (m: Mined): Promise<string> => {
    const cp = await nodes[0]!.api.block(m.height - DEPTH, { limit: 1 });
    return `${cp.height}:${cp.hash}`;
  };
  const keys = await Promise.all(onMain.map(keyOf));
  const complete = (): boolean =>
    keys.every((k) => nodes.every((n) => moments.get(n.name)?.get(k)?.quorum !== undefined));
  await waitFor(complete, "every checkpoint cosigned by the quorum on every node", 30_000, 100).catch(
    () => undefined,
  );
  await sleep(500); // the last signatures (every node's) after the quorum
  const { perNode, onMiner, onOthers, overall, block, cosignPart, allSigned, missing } = samples(
    nodes,
    moments,
    onMain,
    keys,
  );
  if (onMain.length === 0) problems.push(`delay ${o.delayMs}: no checkpoint to measure`);
  if (missing > 0)
    problems.push(`delay ${o.delayMs}: ${missing}/${onMain.length} checkpoints never cosigned on every node`);
  const ms = (xs: number[], p: number): number | null => (xs.length ? round(percentile(xs, p), 0) : null);
  const avg = (xs: number[]): number | null =>
    xs.length ? round(xs.reduce((a, b) => a + b, 0) / xs.length, 0) : null;
  const row = {
    delayMs: o.delayMs,
    jitterMs: o.jitterMs,
    blocksMined: mined.length,
    checkpoints: onMain.length,
    measured: overall.length,
    missing,
    stale,
    p50Ms: ms(overall, 50),
    p99Ms: ms(overall, 99),
    meanMs: avg(overall),
    blockP50Ms: ms(block, 50),
    blockP99Ms: ms(block, 99),
    cosignP50Ms: ms(cosignPart, 50),
    cosignP99Ms: ms(cosignPart, 99),
    allSignedP50Ms: ms(allSigned, 50),
    allSignedP99Ms: ms(allSigned, 99),
    minerP50Ms: ms(onMiner, 50),
    minerP99Ms: ms(onMiner, 99),
    othersP50Ms: ms(onOthers, 50),
    othersP99Ms: ms(onOthers, 99),
    perNode: Object.fromEntries(
      Object.entries(perNode).map(([name, xs]) => [name, { p50Ms: ms(xs, 50), p99Ms: ms(xs, 99) }]),
    ),
  };
  sayRow(lab, nodes.length, row);
  return row;
}

/** One delay's figures (`measure`), in ms. */
type CosignRow = Awaited<ReturnType<typeof measure>>;

/** The scenario's lines for one delay. */
function sayRow(lab: Lab, count: number, row: CosignRow): void {
  lab.say(
    `  delay ${row.delayMs} ms: found → quorum on all ${count}: p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms (mean ${row.meanMs}; ${row.measured}/${row.checkpoints} checkpoints, ${row.stale} stale)`,
  );
  lab.say(
    `    block k above on all (each node's own signature): p50 ${row.blockP50Ms} ms, p99 ${row.blockP99Ms} ms; then the cosignatures: p50 ${row.cosignP50Ms} ms, p99 ${row.cosignP99Ms} ms`,
  );
  lab.say(
    `    per node: ${Object.entries(row.perNode)
      .map(([name, x]) => `${name} p50 ${x.p50Ms} / p99 ${x.p99Ms} ms`)
      .join(
        ", ",
      )}; on the mining node p50 ${row.minerP50Ms} / p99 ${row.minerP99Ms}, on the others p50 ${row.othersP50Ms} / p99 ${row.othersP99Ms}`,
  );
  lab.say(
    `    every node's signature on every node: p50 ${row.allSignedP50Ms} ms, p99 ${row.allSignedP99Ms} ms`,
  );
}

/** Each checkpoint's times from its block's finding, per node and by part; `missing`: never on every node. */
function samples(
  nodes: LabNode[],
  moments: Map<string, Map<string, NodeMoments>>,
  onMain: Mined[],
  keys: string[],
) {
  const perNode: Record<string, number[]> = Object.fromEntries(nodes.map((n) => [n.name, []]));
  const onMiner: number[] = [];
  const onOthers: number[] = [];
  const overall: number[] = [];
  const block: number[] = [];
  const cosignPart: number[] = [];
  const allSigned: number[] = [];
  let missing = 0;
  onMain.forEach((m, i) => {
    const at = nodes.map((n) => moments.get(n.name)?.get(keys[i]!) ?? {});
    if (at.some((x) => x.quorum === undefined)) {
      missing++;
      return;
    }
    nodes.forEach((n, j) => {
      const t = at[j]!.quorum! - m.foundAt;
      perNode[n.name]!.push(t);
      (n.name === m.on ? onMiner : onOthers).push(t);
    });
    const q = Math.max(...at.map((x) => x.quorum!)) - m.foundAt;
    overall.push(q);
    if (at.every((x) => x.own !== undefined)) {
      const b = Math.max(...at.map((x) => x.own!)) - m.foundAt;
      block.push(b);
      cosignPart.push(q - b);
    }
    if (at.every((x) => x.all !== undefined)) allSigned.push(Math.max(...at.map((x) => x.all!)) - m.foundAt);
  });
  return { perNode, onMiner, onOthers, overall, block, cosignPart, allSigned, missing };
}
