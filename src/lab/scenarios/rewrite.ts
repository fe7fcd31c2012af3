/**
 * rewrite (issue 19 item 5): three team nodes mine slowly and confirm records; an attacker with ten times
 * their hash power, never connected to them, mines a private branch from a block before their
 * checkpoints, then dials them and releases it. Run twice on fresh chains: without witnesses the team
 * reorganises onto the attacker's branch (the depth, and the confirmed records it drops, are reported);
 * with the team's three node keys as witnesses and a quorum of 2 the team refuses the branch, keeps every
 * record and reports the refused fork in GET /api/checkpoint (alertSeconds: release to the last report).
 * docs/lab.md "rewrite".
 */
import { join } from "node:path";
import type { Lab } from "../lab.ts";
import { converged, type LabNode, P2P_PORT, sleep, waitFor } from "../nodes.ts";
import { meshed, round, type Scenario, scheduleMining } from "./common.ts";
import { LedgerWatch } from "./ledger.ts";
import { copyChain, minePrivately, writeTeamWitnesses } from "./rewrite-attack.ts";

/** Depth of the block each node signs: small, so checkpoints become final within seconds. */
const DEPTH = 2;
/** Blocks the team and the attacker share before the attacker goes private. */
const FORK_HEIGHT = 3;
/** The attacker's hash power over the team's. */
const ADVANTAGE = 10;

/** What one run (with or without witnesses) saw. */
interface Outcome {
  witnesses: boolean;
  teamHeight: number;
  attackerHeight: number;
  recordsConfirmed: number;
  lost: number;
  reorgDepth: number;
  refusedOn: number;
  alertSeconds: number | null;
  teamTipKept: boolean;
}

export const rewrite: Scenario = {
  name: "rewrite",
  defaultNodes: 4,
  minNodes: 4,
  async run(lab, o) {
    const seconds = o.seconds ?? 10;
    const interval = o.blockInterval ?? 1;
    const records = o.records ?? 8;
    const problems: string[] = [];
    const without = await attackRun(lab, { witnesses: false, seconds, interval, records }, problems);
    const withW = await attackRun(lab, { witnesses: true, seconds, interval, records }, problems);
    if (without.reorgDepth <= DEPTH)
      problems.push(`without witnesses the reorg was ${without.reorgDepth} deep, not below the checkpoint`);
    if (without.lost === 0) problems.push("without witnesses no confirmed record was lost");
    if (withW.lost !== 0) problems.push(`with witnesses ${withW.lost} confirmed records were lost`);
    if (withW.reorgDepth !== 0)
      problems.push(`with witnesses a team node reorganised ${withW.reorgDepth} deep`);
    if (!withW.teamTipKept) problems.push("with witnesses a team node left the team's chain");
    if (withW.refusedOn !== 3)
      problems.push(`only ${withW.refusedOn}/3 team nodes reported the refused fork`);
    return {
      scenario: "rewrite",
      ok: problems.length === 0,
      problems,
      checkpointDepth: DEPTH,
      forkHeight: FORK_HEIGHT,
      advantage: ADVANTAGE,
      lostWithoutWitnesses: without.lost,
      lostWithWitnesses: withW.lost,
      reorgDepthWithout: without.reorgDepth,
      alertSeconds: withW.alertSeconds,
      without,
      with: withW,
    };
  },
};

/**
 * One run on fresh datadirs: the team (hosts 0-2, each dialing the others) and the attacker (host 3,
 * dialing no one); a common start, then both mine for `seconds` while records go to the team; then the
 * release. Stops its nodes before returning.
 */
async function attackRun(
  lab: Lab,
  o: { witnesses: boolean; seconds: number; interval: number; records: number },
  problems: string[],
): Promise<Outcome> {
  const tag = o.witnesses ? "with witnesses" : "without witnesses";
  const addr = (i: number): string => `${lab.hosts[i]!.dataIp}:${P2P_PORT}`;
  const keys = join(lab.topo.tempDir(`rewrite-${o.witnesses ? "w" : "n"}`), "team.keys");
  const common = ["--checkpoint-depth", String(DEPTH)];
  const team = [0, 1, 2].map((i) =>
    lab.addNode(lab.hosts[i]!, [0, 1, 2].filter((j) => j !== i).map(addr), [
      ...common,
      "--witness-name",
      `n${i}`,
      ...(o.witnesses ? ["--witnesses", keys, "--quorum", "2"] : []),
    ]),
  );
  const attacker = lab.addNode(lab.hosts[3]!, [], common);
  await writeTeamWitnesses(team, keys);
  await Promise.all([...team, attacker].map((n) => n.start()));
  try {
    await meshed(team, 2);
    for (let i = 0; i < FORK_HEIGHT; i++) await lab.mineOn(team[0]!);
    const fork = await converged(team);
    const times = await copyChain(team[0]!, attacker, FORK_HEIGHT);
    lab.say(`${tag}: team of 3 and an attacker share ${fork.height} blocks; the attacker goes private`);
    return await mineAndRelease(lab, team, attacker, times, o, problems);
  } finally {
    await Promise.all([...team, attacker].map((n) => n.stop(5_000).catch(() => n.kill())));
  }
}

/** Both sides mine, the team confirms records; then the attacker releases its branch. */
async function mineAndRelease(
  lab: Lab,
  team: LabNode[],
  attacker: LabNode,
  times: number[],
  o: { witnesses: boolean; seconds: number; interval: number; records: number },
  problems: string[],
): Promise<Outcome> {
  const tag = o.witnesses ? "with" : "without";
  let reorgDepth = 0;
  const watch = new LedgerWatch(team, (_n, e) => {
    if (e.event === "reorg") reorgDepth = Math.max(reorgDepth, (e.data as { depth?: number }).depth ?? 0);
  });
  const teamMiner = scheduleMining(lab, o.interval, () => team, { records: true });
  const attackMiner = minePrivately(lab, attacker, o.interval / ADVANTAGE, times);
  const ids: string[] = [];
  const spacing = (0.7 * o.seconds * 1000) / o.records;
  const end = Date.now() + o.seconds * 1000;
  for (let i = 0; i < o.records; i++) {
    await sleep(spacing);
    const to = team[i % 3]!;
    ids.push(...(await lab.submitRecords(to, [{ data: `lab rewrite ${tag} ${lab.opts.seed} ${i}` }])));
  }
  await sleep(Math.max(0, end - Date.now()));
  await teamMiner.stop();
  // Every record confirmed on every team node, and DEPTH blocks over the last one (the quorum signs it).
  const deadline = Date.now() + 30_000;
  while (watch.missing(team, ids).length > 0 && Date.now() < deadline) {
    await lab.mineOn(team[0]!, { records: true });
    await sleep(300);
  }
  for (let i = 0; i < DEPTH + 1; i++) await lab.mineOn(team[0]!);
  const attacked = await attackMiner.stop();
  const teamTip = await converged(team, 30_000);
  const confirmed = ids.filter((id) => watch.confirmedOnAll(team, [id]));
  if (confirmed.length !== ids.length)
    problems.push(
      `${tag} witnesses: only ${confirmed.length}/${ids.length} records confirmed before the attack`,
    );
  const attackerHeight = (await attacker.api.status()).tip.height;
  if (attackerHeight - FORK_HEIGHT < (ADVANTAGE / 2) * (teamTip.height - FORK_HEIGHT))
    problems.push(
      `${tag} witnesses: the attacker mined only ${attacked} blocks to the team's ${teamTip.height}`,
    );
  if (o.witnesses) await finalAbove(team, FORK_HEIGHT);
  lab.say(
    `  team tip ${teamTip.height} with ${confirmed.length} records confirmed; attacker's branch ${attackerHeight} (${attacked} private blocks)`,
  );
  const releasedAt = Date.now();
  for (const n of team) await attacker.api.addPeer(n.p2pAddr);
  const after = o.witnesses
    ? await watchRefusal(team, releasedAt)
    : { refusedOn: 0, alertSeconds: null as number | null };
  if (!o.witnesses)
    await converged([...team, attacker], 60_000).catch((err: Error) => problems.push(err.message));
  else await sleep(2_000); // time for a wrong reorg to show
  const lost = await lostRecords(team, confirmed);
  const tips = await Promise.all(team.map((n) => n.api.status()));
  const teamTipKept = tips.every((s) => s.tip.hash === teamTip.hash);
  watch.close();
  lab.say(
    `  released: reorg depth ${reorgDepth}, ${lost}/${confirmed.length} confirmed records lost` +
      (o.witnesses ? `, refused on ${after.refusedOn}/3 after ${after.alertSeconds ?? "-"} s` : ""),
  );
  return {
    witnesses: o.witnesses,
    teamHeight: teamTip.height,
    attackerHeight,
    recordsConfirmed: confirmed.length,
    lost,
    reorgDepth,
    ...after,
    teamTipKept,
  };
}

/** Waits until every team node holds a final checkpoint above `height` (the fork point). */
async function finalAbove(team: LabNode[], height: number): Promise<void> {
  await waitFor(
    async () =>
      (await Promise.all(team.map((n) => n.api.call("getCheckpoint")))).every(
        (c) => (c.final?.height ?? 0) > height,
      ),
    `a final checkpoint above ${height} on every team node`,
    30_000,
    200,
  );
}

/** Polls GET /api/checkpoint until every team node lists a refused fork (at most 30 s). */
async function watchRefusal(
  team: LabNode[],
  releasedAt: number,
): Promise<{ refusedOn: number; alertSeconds: number | null }> {
  const seen = new Map<string, number>();
  const deadline = releasedAt + 30_000;
  while (seen.size < team.length && Date.now() < deadline) {
    for (const n of team) {
      if (seen.has(n.name)) continue;
      const c = await n.api.call("getCheckpoint").catch(() => undefined);
      if (c && c.refusedForks.length > 0) seen.set(n.name, Date.now());
    }
    await sleep(100);
  }
  const last = Math.max(...seen.values());
  return { refusedOn: seen.size, alertSeconds: seen.size ? round((last - releasedAt) / 1000) : null };
}

/** How many of `ids` some team node no longer answers as confirmed (not on its main chain). */
async function lostRecords(team: LabNode[], ids: string[]): Promise<number> {
  let lost = 0;
  for (const id of ids) {
    const answers = await Promise.all(team.map((n) => n.api.record(id).catch(() => undefined)));
    if (answers.some((r) => r?.status !== "confirmed")) lost++;
  }
  return lost;
}
