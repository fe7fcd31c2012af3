/**
 * partition: the nodes split into their two sites for a while, both halves mining and taking ledger
 * records; then healed. Checks one tip on every node, the reorg depths, and the ledger: every record the
 * losing half confirmed is pending again after the heal and then confirmed exactly once on the winning
 * chain, on every node; no record lost, none twice. docs/lab.md "partition" defines each count.
 */
import type { RecordJson } from "../../mempool/json.ts";
import type { Lab } from "../lab.ts";
import { converged, type LabNode, sleep, waitFor } from "../nodes.ts";
import { meshed, round, type Scenario, scheduleMining } from "./common.ts";
import { auditLedger, LedgerWatch } from "./ledger.ts";

const pick = (lab: Lab, nodes: LabNode[]): LabNode => nodes[Math.floor(lab.random() * nodes.length)]!;

/** Mines blocks with records on `half` until every node of it shows `ids` confirmed (bounded). */
async function drain(lab: Lab, watch: LedgerWatch, half: LabNode[], ids: string[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (watch.missing(half, ids).length > 0 && Date.now() < deadline) {
    await lab.mineOn(pick(lab, half), { records: true }).catch(() => undefined);
    await sleep(500);
  }
}

export const partition: Scenario = {
  name: "partition",
  defaultNodes: 8,
  minNodes: 4,
  async run(lab, o) {
    const seconds = o.seconds ?? 60;
    const interval = o.blockInterval ?? 1;
    const perHalf = o.records ?? Math.max(4, Math.round(seconds / 3));
    const inBothEach = Math.max(2, Math.ceil(perHalf / 4));
    const problems: string[] = [];
    const nodes = await lab.startMesh(2);
    await meshed(nodes, 2);
    const siteA = nodes.filter((n) => n.spec.host.site === "a");
    const siteB = nodes.filter((n) => n.spec.host.site === "b");

    // The reorg depth each node reports after the heal, and each node's record events all along.
    let healing = false;
    const reorgDepth = new Map<string, number>(nodes.map((n) => [n.name, 0]));
    const watch = new LedgerWatch(nodes, (n, e) => {
      if (!healing || e.event !== "reorg") return;
      const d = (e.data as { depth?: number }).depth ?? 0;
      reorgDepth.set(n.name, Math.max(reorgDepth.get(n.name) ?? 0, d));
    });
    await sleep(300);
    for (let i = 0; i < 3; i++) await lab.mineOn(nodes[i % nodes.length]!);
    const before = await converged(nodes);
    lab.say(`${nodes.length} nodes meshed, common tip ${before.height}`);

    const json = (tag: string, i: number): RecordJson => ({
      data: `lab partition seed ${lab.opts.seed} ${tag} ${i}`,
    });
    // Records both halves hold: gossiped to every node before the split, and (below) the same record
    // submitted to a node on each side during it, as a client sending to two nodes would.
    const inBoth = await lab.submitRecords(
      nodes[0]!,
      Array.from({ length: inBothEach }, (_, i) => json("before", i)),
    );
    await waitPendingEverywhere(nodes, inBoth);

    await lab.topo.setTrunk(false);
    lab.say(
      `partition: ${siteA.length} + ${siteB.length}, both halves mining for ${seconds} s; ` +
        `${perHalf} records submitted to each half, ${inBothEach * 2} to both`,
    );
    const miner = scheduleMining(lab, interval, () => nodes, { records: true });
    const own = { a: [] as string[], b: [] as string[] };
    const splitEnd = Date.now() + seconds * 1000;
    const twice = Array.from({ length: inBothEach }, (_, i) => json("both", i));
    inBoth.push(...(await lab.submitRecords(pick(lab, siteA), twice)));
    await lab.submitRecords(pick(lab, siteB), twice);
    // Spread over the first 70 % of the split, so each half has time to confirm its own.
    const spacing = (0.7 * seconds * 1000) / perHalf;
    for (let i = 0; i < perHalf; i++) {
      await sleep(spacing);
      own.a.push(...(await lab.submitRecords(pick(lab, siteA), [json("a", i)])));
      own.b.push(...(await lab.submitRecords(pick(lab, siteB), [json("b", i)])));
    }
    await sleep(Math.max(0, splitEnd - Date.now()));
    const { mined } = await miner.stop();
    // Anything still pending in a half is mined there before the heal: "confirmed there" for all of them.
    await drain(lab, watch, siteA, [...own.a, ...inBoth]);
    await drain(lab, watch, siteB, [...own.b, ...inBoth]);
    let tipA = await converged(siteA, 30_000);
    let tipB = await converged(siteB, 30_000);
    if (tipA.height === tipB.height) {
      // Equal work: each side would keep its own tip after the heal until the next block. One more
      // block on site B decides it, as the next block found would.
      await lab.mineOn(pick(lab, siteB), { records: true });
      tipB = await converged(siteB, 30_000);
    }
    tipA = await converged(siteA, 30_000);
    const aWins = tipA.height > tipB.height;
    const [winning, losing] = aWins ? [siteA, siteB] : [siteB, siteA];
    const losingOwn = aWins ? own.b : own.a;
    const winningOwn = aWins ? own.a : own.b;
    const confirmedInLosing = losingOwn.filter((id) => watch.confirmedOnAll(losing, [id]));
    const confirmedInWinning = winningOwn.filter((id) => watch.confirmedOnAll(winning, [id]));
    const inBothConfirmed = inBoth.filter((id) => watch.confirmedOnAll(nodes, [id]));
    if (confirmedInLosing.length !== losingOwn.length)
      problems.push(
        `only ${confirmedInLosing.length}/${losingOwn.length} losing-half records confirmed there`,
      );
    if (confirmedInWinning.length !== winningOwn.length)
      problems.push(
        `only ${confirmedInWinning.length}/${winningOwn.length} winning-half records confirmed there`,
      );
    if (inBothConfirmed.length !== inBoth.length)
      problems.push(
        `only ${inBothConfirmed.length}/${inBoth.length} records of both halves confirmed on each`,
      );
    const heightsA = (await Promise.all(siteA.map((n) => n.api.status()))).map((s) => s.tip.height);
    const heightsB = (await Promise.all(siteB.map((n) => n.api.status()))).map((s) => s.tip.height);
    lab.say(`  site A tip ${tipA.height}, site B tip ${tipB.height} (${mined} blocks mined)`);
    lab.say(
      `  records confirmed in their half: A ${aWins ? confirmedInWinning.length : confirmedInLosing.length}/${own.a.length}, ` +
        `B ${aWins ? confirmedInLosing.length : confirmedInWinning.length}/${own.b.length}, ` +
        `both halves ${inBothConfirmed.length}/${inBoth.length} (on each side)`,
    );

    // Connections across the trunk still open now would carry what each side queued during the split
    // (TCP retransmits it) instead of a fresh connection. libp2p's connection monitor drops them 5-15 s
    // into a split (a ping every 10 s, given up after 5 s).
    const crossSite = await crossSiteLinks(siteA, siteB);
    healing = true;
    await sleep(300);
    const healedAt = Date.now();
    await lab.topo.setTrunk(true);
    let final: { height: number; hash: string } | undefined;
    try {
      final = await converged(nodes, 120_000);
    } catch (err) {
      problems.push((err as Error).message);
    }
    const healSeconds = (Date.now() - healedAt) / 1000;
    const winTip = aWins ? tipA : tipB;
    if (final && final.hash !== winTip.hash)
      problems.push(
        `final tip ${final.hash.slice(0, 12)} is not the winning half's ${winTip.hash.slice(0, 12)}`,
      );

    // One tip, no block mined since: the losing half's records must be pending on every losing node.
    const pendingAgain: string[] = [];
    for (const id of confirmedInLosing) {
      const answers = await Promise.all(losing.map((n) => n.api.record(id).catch(() => undefined)));
      if (answers.every((r) => r?.status === "pending")) pendingAgain.push(id);
    }
    const announced = confirmedInLosing.filter((id) =>
      losing.every((n) => watch.unconfirmed.get(n.name)?.has(id)),
    );
    if (pendingAgain.length !== confirmedInLosing.length)
      problems.push(
        `only ${pendingAgain.length}/${confirmedInLosing.length} losing-half records pending again`,
      );
    if (announced.length !== confirmedInLosing.length)
      problems.push(`only ${announced.length}/${confirmedInLosing.length} announced as record.unconfirmed`);
    // Records the winning chain holds too never leave the confirmed state.
    const stayed = new Set([...winningOwn, ...inBoth]);
    const wronglyUnconfirmed = [...stayed].filter((id) =>
      nodes.some((n) => watch.unconfirmed.get(n.name)?.has(id)),
    );
    if (wronglyUnconfirmed.length > 0)
      problems.push(
        `${wronglyUnconfirmed.length} records the winning chain holds were announced unconfirmed`,
      );

    // Only the winning half mines now: a record back in a losing node's mempool must reach a miner
    // that never had it.
    const reminer = scheduleMining(lab, interval, () => winning, { records: true });
    const reconfirmDeadline = Date.now() + 60_000;
    while (!watch.confirmedOnAll(nodes, pendingAgain) && Date.now() < reconfirmDeadline) await sleep(100);
    const allBack = watch.confirmedOnAll(nodes, pendingAgain);
    const reconfirmSeconds = allBack ? (watch.lastConfirmedAt(nodes, pendingAgain) - healedAt) / 1000 : null;
    await reminer.stop();
    if (!allBack)
      problems.push(
        `${watch.missing(nodes, pendingAgain).length}/${pendingAgain.length} losing-half records not confirmed again within 60 s of the heal`,
      );
    await converged(nodes, 60_000).catch((err: Error) => problems.push(err.message));
    const all = [...own.a, ...own.b, ...inBoth];
    const audit = await auditLedger(nodes, all);
    watch.close();
    const reconfirmed = pendingAgain.filter((id) => !audit.lost.includes(id)).length;
    if (audit.lost.length > 0) problems.push(`${audit.lost.length} records lost`);
    if (audit.duplicates.length > 0) problems.push(`${audit.duplicates.length} records twice in the chain`);
    if (audit.indexWrong.length > 0)
      problems.push(`record index names the wrong block: ${audit.indexWrong.slice(0, 5).join(", ")}`);

    if (tipA.hash === tipB.hash) problems.push("the halves did not diverge");
    for (const n of losing)
      if ((reorgDepth.get(n.name) ?? 0) === 0) problems.push(`${n.name} (losing half) reported no reorg`);
    const depths = Object.fromEntries(reorgDepth);
    const losingSite = aWins ? "b" : "a";
    lab.say(
      `healed: one tip (${final?.height ?? "-"}) after ${round(healSeconds)} s; site ${losingSite.toUpperCase()} lost`,
    );
    lab.say(`  cross-site connections still open at the heal: ${crossSite}`);
    lab.say(`  reorg depth per node: ${JSON.stringify(depths)}`);
    lab.say(
      `  ledger: ${confirmedInLosing.length} records confirmed in the losing half, ${pendingAgain.length} pending again ` +
        `on all ${losing.length} of its nodes, ${reconfirmed} confirmed again on all ${nodes.length} ` +
        `(${reconfirmSeconds === null ? "-" : round(reconfirmSeconds)} s after the heal); ` +
        `${all.length} records: ${audit.lost.length} lost, ${audit.duplicates.length} twice`,
    );
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
      crossSiteLinksAtHeal: crossSite,
      healSeconds: round(healSeconds),
      reorgDepth: depths,
      ledger: {
        submitted: { a: own.a.length, b: own.b.length, both: inBoth.length },
        losingHalf: losingSite,
        confirmedInLosing: confirmedInLosing.length,
        confirmedInWinning: confirmedInWinning.length,
        confirmedInBoth: inBothConfirmed.length,
        pendingAgain: pendingAgain.length,
        unconfirmedEvents: announced.length,
        wronglyUnconfirmed: wronglyUnconfirmed.length,
        reconfirmed,
        lost: audit.lost.length,
        duplicates: audit.duplicates.length,
        indexWrong: audit.indexWrong.length,
        reconfirmSeconds: reconfirmSeconds === null ? null : round(reconfirmSeconds),
      },
    };
  },
};

/** Waits until every node has every one of `ids` pending (gossip reached them all). */
async function waitPendingEverywhere(nodes: LabNode[], ids: string[]): Promise<void> {
  await waitFor(
    async () => {
      for (const n of nodes)
        for (const id of ids) if ((await n.api.record(id)).status !== "pending") return false;
      return true;
    },
    "the records submitted before the split to reach every node",
    30_000,
    200,
  );
}

/** Connections between a node of site A and a node of site B, as site A's nodes list their peers. */
async function crossSiteLinks(siteA: LabNode[], siteB: LabNode[]): Promise<number> {
  const other = new Set(siteB.map((n) => n.peerId));
  const lists = await Promise.all(siteA.map((n) => n.api.peers().catch(() => ({ peers: [] }))));
  return lists.reduce((sum, l) => sum + l.peers.filter((p) => other.has(p.id)).length, 0);
}
