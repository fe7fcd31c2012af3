/** bad-peer: a peer gossiping invalid blocks and garbage is banned by id and by address, and stays out. */
import { readFileSync } from "node:fs";
import { P2P_PORT, sleep } from "../nodes.ts";
import { meshed, type Scenario } from "./common.ts";

export const badPeer: Scenario = {
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
