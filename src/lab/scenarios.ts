/**
 * The lab's scenarios. Each takes a started-empty Lab and its options and returns a summary object (the
 * JSON the lab prints last); it says what it does as it goes through lab.say. Failures of the property a
 * scenario checks are reported in `ok: false` and `problems`, not thrown: the lab still prints them.
 */
import { readFileSync } from "node:fs";
import { exponential } from "../util/random.ts";
import type { Lab } from "./lab.ts";
import { API_PORT, converged, type LabNode, P2P_PORT, sleep, tips, waitFor } from "./nodes.ts";
import { percentile } from "./relay.ts";

export interface ScenarioOptions {
  /** Scenario length in seconds (its own default when absent). */
  seconds?: number;
  /** Mean seconds between blocks (the lab's scheduled mining). */
  blockInterval?: number;
  /** lockout: idle sockets the attacker holds. */
  sockets?: number;
  /** propagation: blocks per delay. */
  blocks?: number;
  /** relay, propagation: one-way delays to run, in ms. */
  delays?: number[];
  /** late-joiner: link bandwidth in Mbit/s. */
  mbit?: number;
  /** late-joiner: data bytes in each block of the chain. */
  recordBytes?: number;
  /** relay, propagation: jitter added to each delay (uniform 0..jitter), in ms. */
  jitter?: number;
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
  run(lab: Lab, o: ScenarioOptions): Promise<ScenarioResult>;
}

const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

/** Waits until every node has at least `min` joined peers. */
async function meshed(nodes: LabNode[], min: number, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    async () => (await Promise.all(nodes.map((n) => n.api.status()))).every((s) => s.peers >= min),
    `every node to have ${min} peer(s)`,
    timeoutMs,
    200,
  );
}

/**
 * Mines blocks at Poisson times (mean `interval` s) on nodes picked at random among `pick()`, until
 * `stop()` is called; returns what was mined.
 */
function scheduleMining(
  lab: Lab,
  interval: number,
  pick: () => LabNode[],
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
        await lab.mineOn(n);
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

// ------------------------------------------------------------------------------------------ remote-api

const remoteApi: Scenario = {
  name: "remote-api",
  defaultNodes: 2,
  minNodes: 2,
  async run(lab) {
    const [serverHost, clientHost] = lab.hosts as [(typeof lab.hosts)[0], (typeof lab.hosts)[0]];
    const node = lab.addNode(serverHost, []);
    await node.start();
    const base = `http://${serverHost.dataIp}:${API_PORT}`;
    lab.say(`node n0 at ${base}; requests from host n1 (${clientHost.dataIp}), another namespace`);
    const ask = async (path: string, method: string, token?: string): Promise<number> => {
      const h = await lab.helper(clientHost, ["fetch", `${base}${path}`, method, ...(token ? [token] : [])]);
      return Number(h.ready.status);
    };
    const checks = {
      readWithoutToken: await ask("/api/status", "GET"),
      stopMiningWithoutToken: await ask("/api/mining/stop", "POST"),
      stopMiningWrongToken: await ask("/api/mining/stop", "POST", "0".repeat(32)),
      stopMiningWithToken: await ask("/api/mining/stop", "POST", lab.token),
      addPeerWithoutToken: await ask("/api/peers", "POST"),
    };
    const problems: string[] = [];
    if (checks.readWithoutToken !== 200) problems.push(`GET /api/status answered ${checks.readWithoutToken}`);
    for (const k of ["stopMiningWithoutToken", "stopMiningWrongToken", "addPeerWithoutToken"] as const)
      if (checks[k] !== 401 && checks[k] !== 403) problems.push(`${k} answered ${checks[k]}, not 401/403`);
    if (checks.stopMiningWithToken !== 200) problems.push(`with the token: ${checks.stopMiningWithToken}`);
    for (const [k, v] of Object.entries(checks)) lab.say(`  ${k.padEnd(24)} HTTP ${v}`);
    return { scenario: "remote-api", ok: problems.length === 0, problems, ...checks };
  },
};

// ------------------------------------------------------------------------------------------- partition

const partition: Scenario = {
  name: "partition",
  defaultNodes: 8,
  minNodes: 4,
  async run(lab, o) {
    const seconds = o.seconds ?? 60;
    const interval = o.blockInterval ?? 1;
    const nodes = await lab.startMesh(2);
    await meshed(nodes, 2);
    for (let i = 0; i < 3; i++) await lab.mineOn(nodes[i % nodes.length]!);
    const before = await converged(nodes);
    lab.say(`${nodes.length} nodes meshed, common tip ${before.height}`);
    const siteA = nodes.filter((n) => n.spec.host.site === "a");
    const siteB = nodes.filter((n) => n.spec.host.site === "b");

    await lab.topo.setTrunk(false);
    lab.say(`partition: ${siteA.length} + ${siteB.length}, both halves mining for ${seconds} s`);
    const miner = scheduleMining(lab, interval, () => nodes);
    await sleep(seconds * 1000);
    const { mined } = await miner.stop();
    const split = await tips(nodes);
    const heightsA = split.slice(0, siteA.length).map((t) => t?.height ?? 0);
    const heightsB = split.slice(siteA.length).map((t) => t?.height ?? 0);
    const tipA = await converged(siteA, 30_000);
    const tipB = await converged(siteB, 30_000);
    lab.say(`  site A tip ${tipA.height}, site B tip ${tipB.height} (${mined} blocks mined)`);

    const reorgDepth = new Map<string, number>();
    const abort = new AbortController();
    for (const n of nodes) {
      reorgDepth.set(n.name, 0);
      void n.api
        .events((e) => {
          if (e.event !== "reorg") return;
          const d = (e.data as { depth?: number }).depth ?? 0;
          reorgDepth.set(n.name, Math.max(reorgDepth.get(n.name) ?? 0, d));
        }, abort.signal)
        .catch(() => undefined);
    }
    await sleep(300);
    const healedAt = Date.now();
    await lab.topo.setTrunk(true);
    const problems: string[] = [];
    let final: { height: number; hash: string } | undefined;
    try {
      final = await converged(nodes, 120_000);
    } catch (err) {
      problems.push((err as Error).message);
    }
    const healSeconds = (Date.now() - healedAt) / 1000;
    await sleep(500);
    abort.abort();
    if (tipA.hash === tipB.hash) problems.push("the halves did not diverge");
    const best = Math.max(tipA.height, tipB.height);
    if (final && final.height < best)
      problems.push(`final tip ${final.height} is below the best half's ${best}`);
    const losing = tipA.hash === final?.hash ? siteB : siteA;
    for (const n of losing)
      if ((reorgDepth.get(n.name) ?? 0) === 0) problems.push(`${n.name} (losing half) reported no reorg`);
    const depths = Object.fromEntries(reorgDepth);
    lab.say(`healed: one tip (${final?.height ?? "-"}) after ${round(healSeconds)} s`);
    lab.say(`  reorg depth per node: ${JSON.stringify(depths)}`);
    lab.say("  (ledger records confirmed in the losing half: not checked, the ledger does not exist yet)");
    return {
      scenario: "partition",
      ok: problems.length === 0,
      problems,
      nodes: nodes.length,
      partitionSeconds: seconds,
      blocksMined: mined,
      heightsA,
      heightsB,
      finalHeight: final?.height ?? null,
      healSeconds: round(healSeconds),
      reorgDepth: depths,
      ledger: "not checked: the ledger does not exist yet",
    };
  },
};

// ----------------------------------------------------------------------------------------------- churn

const churn: Scenario = {
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
    /** Blocks a node had 6 confirmations on: they must be on every final chain. */
    const confirmed = new Map<number, string>();
    let kills = 0;
    let lostOnRestart = 0;
    const miner = scheduleMining(lab, interval, () => nodes);
    const end = Date.now() + seconds * 1000;
    const restarts: Promise<void>[] = [];
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
            const prev = confirmed.get(b.height);
            if (prev && prev !== b.hash) problems.push(`two blocks confirmed at height ${b.height}`);
            confirmed.set(b.height, b.hash);
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
      kills++;
      const downMs = 1000 + lab.random() * 4000;
      restarts.push(
        (async () => {
          await sleep(downMs);
          await victim.start();
          down.delete(victim);
          const now = (await victim.api.status()).tip.height;
          if (now < had) {
            lostOnRestart++;
            problems.push(`${victim.name} had height ${had} before SIGKILL, ${now} after restart`);
          }
        })().catch((err: Error) => {
          problems.push(`${victim.name} restart: ${err.message.slice(0, 300)}`);
        }),
      );
    }
    const { mined } = await miner.stop();
    await Promise.all(restarts);
    for (const n of nodes) if (!n.running) await n.start();
    let final: { height: number; hash: string } | undefined;
    const t0 = Date.now();
    try {
      final = await converged(nodes, 120_000);
    } catch (err) {
      problems.push((err as Error).message);
    }
    const convergeSeconds = (Date.now() - t0) / 1000;
    for (const [height, hash] of confirmed) {
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
      `${kills} SIGKILLs, ${mined} blocks mined; converged at ${final?.height ?? "-"} in ${round(convergeSeconds)} s`,
    );
    lab.say(`  chain verify: ${verified.filter((v) => v.ok).length}/${nodes.length} stores ok`);
    lab.say(`  ${confirmed.size} confirmed heights checked, ${lostOnRestart} heights lost on restart`);
    return {
      scenario: "churn",
      ok: problems.length === 0,
      problems,
      nodes: nodes.length,
      seconds,
      kills,
      blocksMined: mined,
      finalHeight: final?.height ?? null,
      convergeSeconds: round(convergeSeconds),
      storesVerified: verified.filter((v) => v.ok).length,
      confirmedChecked: confirmed.size,
      lostOnRestart,
    };
  },
};

// --------------------------------------------------------------------------------------------- lockout

const lockout: Scenario = {
  name: "lockout",
  defaultNodes: 3,
  minNodes: 3,
  async run(lab, o) {
    const sockets = o.sockets ?? 50;
    const [victimHost, attackerHost, honestHost] = lab.hosts as [
      (typeof lab.hosts)[0],
      (typeof lab.hosts)[0],
      (typeof lab.hosts)[0],
    ];
    const victim = lab.addNode(victimHost, []);
    // The honest peer dials the victim with its own dialer (a configured peer), as a user's node would.
    const honest = lab.addNode(honestHost, [victim.p2pAddr]);
    await victim.start();
    const problems: string[] = [];
    const attack = await lab.helper(attackerHost, [
      "sockets",
      victimHost.dataIp,
      String(P2P_PORT),
      String(sockets),
    ]);
    lab.say(`host n1 holds ${sockets} idle TCP sockets to n0's P2P port, reopening any n0 closes`);
    // The attacker gets past libp2p's per-host rate limit (5 a second) within a few seconds.
    await sleep(4000);
    await honest.start();
    const t0 = Date.now();
    let joinSeconds = Number.NaN;
    try {
      await waitFor(
        async () => (await honest.api.status()).peers >= 1,
        "the honest peer to join",
        120_000,
        100,
      );
      joinSeconds = (Date.now() - t0) / 1000;
    } catch (err) {
      problems.push((err as Error).message);
    }
    lab.killHelper(attack);
    lab.say(`honest peer n2 (up and dialing) joined n0 after ${round(joinSeconds)} s with the sockets held`);
    if (!(joinSeconds <= 5)) problems.push(`the honest peer needed ${round(joinSeconds)} s (limit 5 s)`);
    return {
      scenario: "lockout",
      ok: problems.length === 0,
      problems,
      sockets,
      joinSeconds: round(joinSeconds),
    };
  },
};

// ----------------------------------------------------------------------------------------------- relay

const RELAY_BASE_PORT = 9000;

const relayCheck: Scenario = {
  name: "relay",
  defaultNodes: 2,
  minNodes: 2,
  async run(lab, o) {
    const delays = o.delays ?? [0, 50, 100, 200];
    const jitter = o.jitter ?? 0;
    const rounds = o.blocks ?? 100;
    const [a, b] = lab.hosts as [(typeof lab.hosts)[0], (typeof lab.hosts)[0]];
    const echo = await lab.helper(b, ["echo", b.dataIp, "9100"]);
    const relay = await lab.helper(a, [
      "relay",
      JSON.stringify({
        delayMs: 0,
        seed: 7,
        routes: [
          { listen: { host: "127.0.0.1", port: RELAY_BASE_PORT }, target: { host: b.dataIp, port: 9100 } },
        ],
      }),
    ]);
    lab.say(`ping-pong from n0 through its relay to an echo server on n1, ${rounds} round trips per delay`);
    const rows: { delayMs: number; jitterMs: number; p50: number; p99: number; min: number }[] = [];
    const problems: string[] = [];
    for (const d of delays) {
      await relay.send({ delayMs: d, jitterMs: jitter });
      const pp = await lab.helper(
        a,
        ["pingpong", "127.0.0.1", String(RELAY_BASE_PORT), String(rounds)],
        120_000,
      );
      const t = pp.ready.oneWayMs as number[];
      const row = {
        delayMs: d,
        jitterMs: jitter,
        p50: round(percentile(t, 50)),
        p99: round(percentile(t, 99)),
        min: round(Math.min(...t)),
      };
      rows.push(row);
      lab.say(
        `  configured ${d} ms (+0..${jitter}): one-way p50 ${row.p50} ms, p99 ${row.p99} ms, min ${row.min} ms`,
      );
      if (row.min < d) problems.push(`one-way ${row.min} ms is below the configured ${d} ms`);
    }
    lab.killHelper(relay);
    lab.killHelper(echo);
    return { scenario: "relay", ok: problems.length === 0, problems, rounds, rows };
  },
};

// ----------------------------------------------------------------------------------------- propagation

const propagation: Scenario = {
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

// ----------------------------------------------------------------------------------------- late-joiner

const lateJoiner: Scenario = {
  name: "late-joiner",
  defaultNodes: 2,
  minNodes: 2,
  async run(lab, o) {
    const count = o.blocks ?? 10_000;
    const delay = o.delays?.[0] ?? 100;
    const mbit = o.mbit ?? 10;
    const recordBytes = o.recordBytes ?? 1000;
    const [seedHost, joinerHost] = lab.hosts as [(typeof lab.hosts)[0], (typeof lab.hosts)[0]];
    const seed = lab.addNode(seedHost, []);
    await seed.start();
    const t0 = Date.now();
    const bytes = await lab.buildChain(seed, count, recordBytes);
    const tip = (await seed.api.status()).tip;
    lab.say(
      `seed n0: ${count} blocks (${round(bytes / 1e6)} MB) built in ${round((Date.now() - t0) / 1000, 1)} s`,
    );
    await lab.topo.shape(joinerHost, mbit);
    const relay = await lab.helper(joinerHost, [
      "relay",
      JSON.stringify({
        delayMs: delay,
        seed: 3,
        routes: [
          {
            listen: { host: "127.0.0.1", port: RELAY_BASE_PORT },
            target: { host: seedHost.dataIp, port: P2P_PORT },
          },
        ],
      }),
    ]);
    const joiner = lab.addNode(joinerHost, [`127.0.0.1:${RELAY_BASE_PORT}`]);
    await joiner.start();
    const t1 = Date.now();
    lab.say(`joiner n1 up, dialing n0 over ${delay} ms one-way and ${mbit} Mbit/s both ways`);
    const problems: string[] = [];
    try {
      await waitFor(
        async () => (await joiner.api.status()).tip.hash === tip.hash,
        "the joiner to sync",
        600_000,
        250,
      );
    } catch (err) {
      problems.push((err as Error).message);
    }
    const secs = (Date.now() - t1) / 1000;
    lab.killHelper(relay);
    const linkMBps = (mbit * 1e6) / 8 / 1e6;
    const row = {
      blocks: count,
      chainMB: round(bytes / 1e6),
      oneWayDelayMs: delay,
      linkMbit: mbit,
      seconds: round(secs),
      blocksPerSec: round(count / secs, 0),
      MBps: round(bytes / 1e6 / secs),
      linkMBps: round(linkMBps),
      linkShare: round(bytes / 1e6 / secs / linkMBps),
    };
    lab.say(
      `synced ${count} blocks in ${row.seconds} s: ${row.blocksPerSec} blocks/s, ${row.MBps} MB/s ` +
        `(link ${row.linkMBps} MB/s: ${Math.round(row.linkShare * 100)} % of it)`,
    );
    return { scenario: "late-joiner", ok: problems.length === 0, problems, ...row };
  },
};

// -------------------------------------------------------------------------------------------- bad-peer

const badPeer: Scenario = {
  name: "bad-peer",
  defaultNodes: 4,
  minNodes: 3,
  async run(lab, o) {
    const honestHosts = lab.hosts.slice(0, -1);
    const badHost = lab.hosts.at(-1)!;
    for (const h of honestHosts) {
      const next = honestHosts[(h.index + 1) % honestHosts.length]!;
      lab.addNode(h, next === h ? [] : [`${next.dataIp}:${P2P_PORT}`]);
    }
    const honest = lab.nodes.filter(Boolean);
    await Promise.all(honest.map((n) => n.start()));
    await meshed(honest, 1);
    const dir = lab.topo.tempDir("bad");
    const targets = honest.map((n) => n.p2pAddr);
    const cfg = (newIdentity: boolean): string => JSON.stringify({ dir, targets, newIdentity });
    const problems: string[] = [];

    const bad = await lab.helper(badHost, ["badpeer", cfg(false)], 60_000);
    const badId = String(bad.ready.peerId);
    const joined = Object.values(bad.ready.dialed as Record<string, string>).filter((v) => v === "joined");
    lab.say(
      `bad peer ${badId.slice(-8)} on ${badHost.dataIp} joined ${joined.length}/${honest.length} honest nodes`,
    );
    if (joined.length !== honest.length) problems.push(`the bad peer joined only ${joined.length} nodes`);
    const limit = o.blocks ?? 10;
    let messages = 0;
    let connected = joined.length;
    while (connected > 0 && messages < limit) {
      connected = Number((await bad.send({ send: true })).connected);
      messages++;
    }
    lab.killHelper(bad);
    lab.say(`  after ${messages} invalid message(s) it is connected to ${connected} honest nodes`);
    if (connected > 0) problems.push(`still connected to ${connected} nodes after ${messages} messages`);
    await sleep(500);
    const bannedBy = honest.filter((n) => {
      const lines = readFileSync(n.logFile, "utf8").split("\n");
      return lines.some(
        (l) => l.includes('"peer banned"') && l.includes(badId) && l.includes(badHost.dataIp),
      );
    });
    lab.say(
      `  banned by peer id and by address ${badHost.dataIp} on ${bannedBy.length}/${honest.length} nodes`,
    );
    if (bannedBy.length !== honest.length) problems.push(`banned on only ${bannedBy.length} nodes`);

    const retry = async (newIdentity: boolean): Promise<number> => {
      const h = await lab.helper(badHost, ["badpeer", cfg(newIdentity)], 60_000);
      lab.killHelper(h);
      const dialed = Object.values(h.ready.dialed as Record<string, string>);
      return dialed.filter((v) => v === "joined").length;
    };
    const sameIdentity = await retry(false);
    const newIdentity = await retry(true);
    lab.say(
      `  reconnects: same identity joined ${sameIdentity}, a new identity from the same host joined ${newIdentity}`,
    );
    if (sameIdentity > 0) problems.push(`the banned identity reconnected to ${sameIdentity} nodes`);
    if (newIdentity > 0) problems.push(`a new identity from the banned address joined ${newIdentity} nodes`);
    const stillMeshed = (await Promise.all(honest.map((n) => n.api.status()))).every((s) => s.peers >= 1);
    if (!stillMeshed) problems.push("honest nodes lost each other");
    return {
      scenario: "bad-peer",
      ok: problems.length === 0,
      problems,
      honestNodes: honest.length,
      messagesUntilBanned: messages,
      bannedBy: bannedBy.length,
      reconnectSameIdentity: sameIdentity,
      reconnectNewIdentity: newIdentity,
    };
  },
};

export const scenarios: Record<string, Scenario> = {
  "bad-peer": badPeer,
  "late-joiner": lateJoiner,
  relay: relayCheck,
  propagation,
  "remote-api": remoteApi,
  partition,
  churn,
  lockout,
};
