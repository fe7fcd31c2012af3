/**
 * closed: a team's closed network (docs/operations.md). n0 and n1 run with the team's network key and
 * dial each other; n2, an outsider without the key, and n3 (with 4 hosts), one with another key, each in
 * its own namespace, dial both team nodes and mine a longer chain. The team's nodes must connect and
 * share their blocks; no outsider may ever connect, and the team's chain must stay the team's.
 */
import { join } from "node:path";
import { writeNewNetworkKeyFile } from "../../net/private.ts";
import { P2P_PORT, sleep, waitFor } from "../nodes.ts";
import type { Scenario } from "./common.ts";

const TEAM_BLOCKS = 3;
const OUTSIDER_BLOCKS = 6;

export const closedNetwork: Scenario = {
  name: "closed",
  defaultNodes: 4,
  minNodes: 3,
  async run(lab, o) {
    const dir = lab.topo.tempDir("keys");
    const team = await writeNewNetworkKeyFile(join(dir, "team.key"));
    const other = await writeNewNetworkKeyFile(join(dir, "other.key"));
    const [h0, h1, ...rest] = lab.hosts;
    const addr = (i: number): string => `${lab.hosts[i]!.dataIp}:${P2P_PORT}`;
    const keyArgs = ["--network-key", team.path];
    const n0 = lab.addNode(h0!, [addr(1)], keyArgs);
    const n1 = lab.addNode(h1!, [addr(0)], keyArgs);
    // Outsiders dial both team nodes; the team nodes do not know them (an inbound attempt is refused too:
    // n0 is also told to dial n2 below).
    const outsiders = rest.slice(0, 2).map((h, i) => {
      const args = i === 1 ? ["--network-key", other.path] : [];
      return lab.addNode(h, [addr(0), addr(1)], args);
    });
    lab.say(
      `team key ${team.fingerprint} on n0, n1; n2 has no key${outsiders[1] ? `; n3 has key ${other.fingerprint}` : ""}`,
    );
    await Promise.all([n0, n1, ...outsiders].map((n) => n.start()));
    await n0.api.addPeer(addr(2)).catch(() => undefined);

    for (let i = 0; i < TEAM_BLOCKS; i++) await lab.mineOn(n0);
    for (const out of outsiders) for (let i = 0; i < OUTSIDER_BLOCKS; i++) await lab.mineOn(out);
    const teamTip = (await n0.api.status()).tip;
    const joined = await waitFor(
      async () => (await n1.api.status()).tip.hash === teamTip.hash,
      "n1 to have the team's blocks",
      30_000,
      200,
    ).then(
      () => true,
      () => false,
    );
    // Give the outsiders time for several redials (the dialer retries from 0.5 s, doubling).
    await sleep((o.seconds ?? 8) * 1000);

    const s = await Promise.all([n0, n1, ...outsiders].map((n) => n.api.status()));
    const problems: string[] = [];
    if (!joined) problems.push("n1 never received the team's blocks from n0");
    if (s[0]!.peers !== 1 || s[1]!.peers !== 1)
      problems.push(`team nodes have ${s[0]!.peers} and ${s[1]!.peers} peers, expected 1 each (each other)`);
    outsiders.forEach((out, i) => {
      const st = s[2 + i]!;
      if (st.peers !== 0) problems.push(`${out.name} (outsider) has ${st.peers} peer(s)`);
      if (st.tip.height !== OUTSIDER_BLOCKS) problems.push(`${out.name} is at ${st.tip.height}`);
    });
    for (const st of s.slice(0, 2))
      if (st.tip.hash !== teamTip.hash) problems.push(`a team node left the team's chain (${st.tip.hash})`);
    lab.say(`  team peers: n0 ${s[0]!.peers}, n1 ${s[1]!.peers}; team tip ${teamTip.height}`);
    for (const [i, out] of outsiders.entries())
      lab.say(`  ${out.name} peers ${s[2 + i]!.peers}, tip ${s[2 + i]!.tip.height}`);
    return {
      scenario: "closed",
      ok: problems.length === 0,
      problems,
      teamPeers: [s[0]!.peers, s[1]!.peers],
      outsiderPeers: s.slice(2).map((x) => x.peers),
      teamHeight: teamTip.height,
      outsiderHeights: s.slice(2).map((x) => x.tip.height),
    };
  },
};
