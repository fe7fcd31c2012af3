/**
 * late-joiner: a node syncs a long chain over slow, delayed links; blocks/s and MB/s beside the links.
 * With `peers` > 1 the same chain is synced twice by fresh joiners in one lab: from one peer, then from
 * `peers` peers, each serving peer behind its own link (its host shaped to `mbit`, its own delay relay in
 * the joiner's namespace), so the two rates meet the same chain, links and machine load.
 */
import { readFileSync } from "node:fs";
import type { Helper, Lab } from "../lab.ts";
import type { Host } from "../netns.ts";
import { type LabNode, P2P_PORT, waitFor } from "../nodes.ts";
import { RELAY_BASE_PORT, round, type Scenario } from "./common.ts";

/** One sync's figures. */
interface SyncRun {
  peers: number;
  seconds: number;
  blocksPerSec: number;
  MBps: number;
  /** What the serving peers' links carry together, MB/s, and the share of it the blocks took. */
  linksMBps: number;
  linkShare: number;
  /** The joiner's own account (its `sync done` log lines): blocks per serving peer, time waiting for peers. */
  served?: Record<string, number>;
  waitSeconds?: number;
  /** Seconds of body download (the joiner's `sync done` ms); the rest of `seconds` is the dial, handshake and headers. */
  downloadSeconds?: number;
}

export const lateJoiner: Scenario = {
  name: "late-joiner",
  defaultNodes: 2,
  minNodes: 2,
  nodesFor: (o) => (o.peers ?? 1) + 1,
  async run(lab, o) {
    const count = o.blocks ?? 10_000;
    const delay = o.delays?.[0] ?? 100;
    const mbit = o.mbit ?? 10;
    const recordBytes = o.recordBytes ?? 1000;
    const peers = o.peers ?? 1;
    const seeds = await seedChain(lab, peers, count, recordBytes);
    const { bytes } = seeds;
    // Each serving peer's link: its host's data veth, both ways. The joiner's own link is not shaped, so
    // the serving links are the only limit, one each.
    for (const s of seeds.nodes) await lab.topo.shape(s.spec.host, mbit);
    const joinerHost = lab.hosts[peers]!;
    const relays: Helper[] = [];
    for (const s of seeds.nodes) relays.push(await relayTo(lab, joinerHost, s, delay));
    const problems: string[] = [];
    const linkMBps = (mbit * 1e6) / 8 / 1e6;
    const runs: SyncRun[] = [];
    for (const n of peers > 1 ? [1, peers] : [1]) {
      runs.push(await syncOnce(lab, { n, seeds, joinerHost, delay, mbit, count }, problems));
    }
    for (const r of relays) lab.killHelper(r);
    const single = runs[0]!;
    const last = runs[runs.length - 1]!;
    const head = {
      blocks: count,
      chainMB: round(bytes / 1e6),
      oneWayDelayMs: delay,
      linkMbit: mbit,
      // The single-peer figures at the top level, as before --peers.
      seconds: single.seconds,
      blocksPerSec: single.blocksPerSec,
      MBps: single.MBps,
      linkMBps: round(linkMBps),
      linkShare: single.linkShare,
    };
    if (peers === 1) return { scenario: "late-joiner", ok: problems.length === 0, problems, ...head, single };
    const speedup = round(last.blocksPerSec / single.blocksPerSec);
    lab.say(
      `  ${peers} peers against 1: ${speedup}x the blocks/s; ${Math.round(last.linkShare * 100)} % of the ${peers} links`,
    );
    return {
      scenario: "late-joiner",
      ok: problems.length === 0,
      problems,
      ...head,
      peers,
      single,
      multi: last,
      speedup,
    };
  },
};

/**
 * Builds the chain on n0 and copies it to n1..n(peers-1) over their unshaped links (each dials n0 and
 * syncs); resolves with the serving nodes, the chain's bytes and its tip.
 */
async function seedChain(
  lab: Lab,
  peers: number,
  count: number,
  recordBytes: number,
): Promise<{ nodes: LabNode[]; bytes: number; tip: { hash: string; height: number } }> {
  const first = lab.addNode(lab.hosts[0]!, []);
  await first.start();
  const t0 = Date.now();
  const bytes = await lab.buildChain(first, count, recordBytes);
  const tip = (await first.api.status()).tip;
  lab.say(
    `seed n0: ${count} blocks (${round(bytes / 1e6)} MB) built in ${round((Date.now() - t0) / 1000, 1)} s`,
  );
  const nodes = [first];
  for (let j = 1; j < peers; j++) nodes.push(lab.addNode(lab.hosts[j]!, [first.p2pAddr]));
  await Promise.all(nodes.slice(1).map((n) => n.start()));
  if (peers > 1) {
    const t1 = Date.now();
    await waitFor(
      async () => (await Promise.all(nodes.map((n) => n.api.status()))).every((s) => s.tip.hash === tip.hash),
      "the serving peers to copy the chain",
      600_000,
      250,
    );
    lab.say(`  n1..n${peers - 1} copied it from n0 in ${round((Date.now() - t1) / 1000, 1)} s (unshaped)`);
  }
  return { nodes, bytes, tip };
}

/** A delay relay in the joiner's namespace towards one serving node (its own process: its own link). */
function relayTo(lab: Lab, joinerHost: Lab["hosts"][number], to: LabNode, delayMs: number): Promise<Helper> {
  const j = to.spec.host.index;
  return lab.helper(joinerHost, [
    "relay",
    JSON.stringify({
      delayMs,
      seed: 3 + j,
      routes: [
        {
          listen: { host: "127.0.0.1", port: RELAY_BASE_PORT + j },
          target: { host: to.spec.host.dataIp, port: P2P_PORT },
        },
      ],
    }),
  ]);
}

/**
 * The joiner's `sync done` log lines: blocks per serving node (peer ids mapped to n0, n1, …) and the time
 * the sync waited for peers, summed over the syncs it ran. Empty when the log has none.
 */
function syncLog(
  joiner: LabNode,
  seeds: LabNode[],
): { served?: Record<string, number>; waitSeconds?: number; downloadSeconds?: number } {
  let text = "";
  try {
    text = readFileSync(joiner.logFile, "utf8");
  } catch {
    return {};
  }
  const names = new Map(seeds.map((s) => [s.peerId, s.name]));
  const served: Record<string, number> = {};
  let wait = 0;
  let ms = 0;
  let any = false;
  for (const line of text.split("\n")) {
    if (!line.includes('"sync done"')) continue;
    try {
      const l = JSON.parse(line) as { peers?: Record<string, number>; waitMs?: number; ms?: number };
      any = true;
      wait += l.waitMs ?? 0;
      ms += l.ms ?? 0;
      for (const [id, n] of Object.entries(l.peers ?? {})) {
        const name = names.get(id) ?? id.slice(-8);
        served[name] = (served[name] ?? 0) + n;
      }
    } catch {
      // not a JSON line
    }
  }
  return any ? { served, waitSeconds: round(wait / 1000), downloadSeconds: round(ms / 1000) } : {};
}

/** One sync of the whole chain by a fresh joiner dialing the first `n` serving peers through their relays. */
async function syncOnce(
  lab: Lab,
  o: {
    n: number;
    seeds: Awaited<ReturnType<typeof seedChain>>;
    joinerHost: Host;
    delay: number;
    mbit: number;
    count: number;
  },
  problems: string[],
): Promise<SyncRun> {
  const { n, seeds, joinerHost, delay, mbit, count } = o;
  const { bytes, tip } = seeds;
  const linkMBps = (mbit * 1e6) / 8 / 1e6;
  const addrs = seeds.nodes.slice(0, n).map((_, j) => `127.0.0.1:${RELAY_BASE_PORT + j}`);
  const joiner = lab.addNode(joinerHost, addrs);
  await joiner.start();
  const t1 = Date.now();
  lab.say(
    `joiner ${joiner.name} up, dialing ${n === 1 ? "n0" : `n0..n${n - 1}`} over ${delay} ms one-way, ` +
      `${mbit} Mbit/s each`,
  );
  try {
    await waitFor(
      async () => (await joiner.api.status()).tip.hash === tip.hash,
      "the joiner to sync",
      600_000,
      250,
    );
  } catch (err) {
    problems.push(`${n} peer(s): ${(err as Error).message}`);
  }
  const secs = (Date.now() - t1) / 1000;
  await joiner.stop();
  const run: SyncRun = {
    peers: n,
    seconds: round(secs),
    blocksPerSec: round(count / secs, 0),
    MBps: round(bytes / 1e6 / secs),
    linksMBps: round(linkMBps * n),
    linkShare: round(bytes / 1e6 / secs / (linkMBps * n)),
    ...syncLog(joiner, seeds.nodes),
  };
  lab.say(
    `  synced ${count} blocks from ${n} peer(s) in ${run.seconds} s: ${run.blocksPerSec} blocks/s, ` +
      `${run.MBps} MB/s (links ${run.linksMBps} MB/s: ${Math.round(run.linkShare * 100)} % of them)` +
      (run.served
        ? `; bodies ${run.downloadSeconds} s (${run.waitSeconds} s of it waiting for peers), ` +
          `served ${JSON.stringify(run.served)}`
        : ""),
  );
  return run;
}
