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

    // When each block joined each node's main chain (from the nodes' "tip" events).
    const joinedAt = new Map<string, Map<string, number>>();
    const abort = new AbortController();
    for (const n of nodes) {
      void n.api
        .events((e) => {
          if (e.event !== "tip") return;
          const now = Date.now();
          for (const h of (e.data as { joined?: string[] }).joined ?? []) {
            const m = joinedAt.get(h) ?? new Map<string, number>();
            joinedAt.set(h, m);
            if (!m.has(n.name)) m.set(n.name, now);
          }
        }, abort.signal)
        .catch(() => undefined);
    }
    await sleep(500);
    const rows = [];
    const problems: string[] = [];
    for (const d of delays) {
      await Promise.all(relays.map((r) => r.send({ delayMs: d, jitterMs: jitter })));
      await converged(nodes);
      const found: { hash: string; at: number }[] = [];
      for (let i = 0; i < blocks; i++) {
        await sleep(exponential(lab.random, T * 1000));
        const n = nodes[Math.floor(lab.random() * nodes.length)]!;
        const at = Date.now();
        const b = await lab.mineOn(n);
        found.push({ hash: b.hash, at });
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
      const times = found
        .filter((f) => main.has(f.hash))
        .map((f) => {
          const m = joinedAt.get(f.hash);
          return m && m.size === nodes.length ? Math.max(...m.values()) - f.at : Number.NaN;
        })
        .filter((t) => Number.isFinite(t));
      const stale = found.length - main.size;
      const mean = times.reduce((x, y) => x + y, 0) / Math.max(1, times.length);
      const row = {
        delayMs: d,
        blocks: found.length,
        measured: times.length,
        p50Ms: round(percentile(times, 50), 0),
        p99Ms: round(percentile(times, 99), 0),
        meanMs: round(mean, 0),
        stale,
        staleShare: round(stale / found.length, 3),
        expectedStaleShare: round(1 - Math.exp(-mean / 1000 / T), 3),
      };
      rows.push(row);
      lab.say(
        `  delay ${String(d).padStart(3)} ms: found→tip on all ${count}: p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms; ` +
          `stale ${stale}/${found.length} = ${row.staleShare} (1-e^(-Δ/T) with Δ = mean ${row.meanMs} ms: ${row.expectedStaleShare})`,
      );
      if (times.length < found.length - stale)
        problems.push(`delay ${d}: some main blocks did not reach every node`);
    }
    abort.abort();
    return { scenario: "propagation", ok: problems.length === 0, problems, nodes: count, T, rows };
  },
};
