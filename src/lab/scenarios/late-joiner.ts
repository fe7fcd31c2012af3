/** late-joiner: a node syncs a long chain over a slow, delayed link; blocks/s and MB/s beside the link. */
import { P2P_PORT, waitFor } from "../nodes.ts";
import { RELAY_BASE_PORT, round, type Scenario } from "./common.ts";

export const lateJoiner: Scenario = {
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
