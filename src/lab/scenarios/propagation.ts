/** propagation: one-way delays on every link; found → tip on every node (p50/p99) and the stale share
 * beside 1 − e^(−Δ/T). */
import { exponential } from "../../util/random.ts";
import { converged, P2P_PORT, sleep } from "../nodes.ts";
import { percentile } from "../relay.ts";
import { meshed, RELAY_BASE_PORT, round, type Scenario } from "./common.ts";

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
    // Every node dials its `degree` ring successors through a relay in its own namespace.
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
          JSON.stringify({ delayMs: delays[0] ?? 0, jitterMs: jitter, seed: h.index + 1, routes }),
        ]),
      );
      lab.addNode(h, peers);
    }
    const nodes = lab.nodes;
    await Promise.all(nodes.map((n) => n.start()));
    await meshed(nodes, degree);
    lab.say(
      `${count} nodes, each dialing ${degree} ring neighbours through its relay; T = ${T} s, ${blocks} blocks per delay`,
    );

    // When each block reached each node (stored, main or side) and joined its main chain, from the nodes'
    // "block" events (one per block connected, reorgs and batched syncs included).
    const joinedAt = new Map<string, Map<string, number>>();
    const reachedAt = new Map<string, Map<string, number>>();
    const note = (at: Map<string, Map<string, number>>, hash: string, node: string, now: number): void => {
      const m = at.get(hash) ?? new Map<string, number>();
      at.set(hash, m);
      if (!m.has(node)) m.set(node, now);
    };
    const abort = new AbortController();
    for (const n of nodes) {
      void n.api
        .events((e) => {
          if (e.event !== "block") return;
          const now = Date.now();
          const b = e.data as { hash: string; main: boolean };
          note(reachedAt, b.hash, n.name, now);
          if (b.main) note(joinedAt, b.hash, n.name, now);
        }, abort.signal)
        .catch(() => undefined);
    }
    await sleep(500);
    const rows = [];
    const problems: string[] = [];
    for (const d of delays) {
      await Promise.all(relays.map((r) => r.send({ delayMs: d, jitterMs: jitter })));
      await converged(nodes);
      const found: { hash: string; at: number; height: number; on: string }[] = [];
      for (let i = 0; i < blocks; i++) {
        await sleep(exponential(lab.random, T * 1000));
        const n = nodes[Math.floor(lab.random() * nodes.length)]!;
        const at = Date.now();
        const b = await lab.mineOn(n);
        found.push({ hash: b.hash, at, height: b.height, on: n.name });
      }
      const final = await converged(nodes, 60_000);
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
      const times = onMain.map((f) => latest(joinedAt, f)).filter((t) => Number.isFinite(t));
      // Propagation alone: the block stored on every node, whether or not it is already their tip there
      // (a node holding the other block of a race switches only when the next block decides it).
      const reached = found.map((f) => latest(reachedAt, f)).filter((t) => Number.isFinite(t));
      // The slowest main blocks, node by node: where a tail comes from (which node, how late).
      const slowest = found
        .filter((f) => main.has(f.hash) && joinedAt.get(f.hash)?.size === nodes.length)
        .map((f) => {
          const perNode = Object.fromEntries(
            [...joinedAt.get(f.hash)!].map(([name, t]) => [name, t - f.at] as const).sort(),
          );
          return { height: f.height, minedOn: f.on, ms: Math.max(...Object.values(perNode)), perNode };
        })
        .sort((a, b) => b.ms - a.ms)
        .slice(0, 3);
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
      rows.push(row);
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
    }
    abort.abort();
    return { scenario: "propagation", ok: problems.length === 0, problems, nodes: count, T, rows };
  },
};
