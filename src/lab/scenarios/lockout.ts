/** lockout: idle sockets from one host to a node's P2P port must not keep an honest peer on another host out. */
import { P2P_PORT, sleep, waitFor } from "../nodes.ts";
import { round, type Scenario } from "./common.ts";

export const lockout: Scenario = {
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
