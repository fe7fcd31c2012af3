/**
 * partition: the nodes split into their two sites for a while, both halves mining and taking ledger
 * records; then healed. Checks one tip on every node, the reorg depths, and the ledger: every record the
 * losing half confirmed is pending again after the heal and then confirmed exactly once on the winning
 * chain, on every node; no record lost, none twice. docs/lab.md "partition" defines each count.
 */
import type { RecordJson } from "../../mempool/json.ts";
import type { Lab } from "../lab.ts";
import { converged, type LabNode, sleep, waitFor } from "../nodes.ts";
import { meshed, round, type Scenario, type ScenarioResult, scheduleMining, settled } from "./common.ts";
import { auditLedger, type LedgerAudit, LedgerWatch } from "./ledger.ts";

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
    const p = await meshAndWatch(lab);
    const split = await runSplit(p, { seconds, interval, perHalf });
    const halves = await settleHalves(p, split);
    const heal = await healSplit(p, split, halves);
    const again = await reconfirm(p, split, halves, heal, interval);
    return report(p, { seconds, split, halves, heal, again });
  },
};

/** The nodes of a partition run, its two sites, the ledger watch and what went wrong so far. */
interface Run {
  lab: Lab;
  nodes: LabNode[];
  siteA: LabNode[];
  siteB: LabNode[];
  watch: LedgerWatch;
  /** The deepest reorg each node reported once `healing` is set. */
  reorgDepth: Map<string, number>;
  healing: boolean;
  problems: string[];
}

/** What the split left: the records each half took, those both took, blocks mined by the lab. */
interface Split {
  own: { a: string[]; b: string[] };
  inBoth: string[];
  mined: number;
}

/** Each half's tip once it settled, which won, and the records each half confirmed. */
interface Halves {
  tipA: Tip;
  tipB: Tip;
  aWins: boolean;
  winning: LabNode[];
  losing: LabNode[];
  winningOwn: string[];
  confirmedInLosing: string[];
  confirmedInWinning: string[];
  inBothConfirmed: string[];
  heightsA: number[];
  heightsB: number[];
}

/** The heal: how long one tip took, what the losing half's records did. */
interface Heal {
  crossSite: number;
  healedAt: number;
  healSeconds: number;
  final: Tip | undefined;
  pendingAgain: string[];
  announced: string[];
  wronglyUnconfirmed: string[];
}

/** After the heal: the ledger's audit and how the records that went pending again came back. */
interface Again {
  all: string[];
  audit: LedgerAudit;
  reconfirmed: number;
  reconfirmSeconds: number | null;
}

type Tip = { height: number; hash: string };

const recordJson = (lab: Lab, tag: string, i: number): RecordJson => ({
  data: `lab partition seed ${lab.opts.seed} ${tag} ${i}`,
});

/** Starts the mesh (two sites), follows every node's events and mines a common start of three blocks. */
async function meshAndWatch(lab: Lab): Promise<Run> {
  const nodes = await lab.startMesh(2);
  await meshed(nodes, 2);
  const siteA = nodes.filter((n) => n.spec.host.site === "a");
  const siteB = nodes.filter((n) => n.spec.host.site === "b");

  // The reorg depth each node reports after the heal, and each node's record events all along.
  const reorgDepth = new Map<string, number>(nodes.map((n) => [n.name, 0]));
  const p: Run = {
    lab,
    nodes,
    siteA,
    siteB,
    reorgDepth,
    healing: false,
    problems: [],
    watch: new LedgerWatch(nodes, (n, e) => {
      if (!p.healing || e.event !== "reorg") return;
      const d = (e.data as { depth?: number }).depth ?? 0;
      reorgDepth.set(n.name, Math.max(reorgDepth.get(n.name) ?? 0, d));
    }),
  };
  await sleep(300);
  for (let i = 0; i < 3; i++) await lab.mineOn(nodes[i % nodes.length]!);
  const before = await settled(lab, nodes);
  lab.say(`${nodes.length} nodes meshed, common tip ${before.height}`);
  return p;
}

/**
 * Cuts the trunk and lets both halves mine for `seconds`, submitting `perHalf` records to each half and
 * some to both; then mines each half's pending records there, so all of them are confirmed in their half.
 */
async function runSplit(p: Run, o: { seconds: number; interval: number; perHalf: number }): Promise<Split> {
  const { lab, nodes, siteA, siteB, watch } = p;
  const { seconds, perHalf } = o;
  const inBothEach = Math.max(2, Math.ceil(perHalf / 4));
  // Records both halves hold: gossiped to every node before the split, and (below) the same record
  // submitted to a node on each side during it, as a client sending to two nodes would.
  const inBoth = await lab.submitRecords(
    nodes[0]!,
    Array.from({ length: inBothEach }, (_, i) => recordJson(lab, "before", i)),
  );
  await waitPendingEverywhere(nodes, inBoth);

  await lab.topo.setTrunk(false);
  lab.say(
    `partition: ${siteA.length} + ${siteB.length}, both halves mining for ${seconds} s; ` +
      `${perHalf} records submitted to each half, ${inBothEach * 2} to both`,
  );
  const miner = scheduleMining(lab, o.interval, () => nodes, { records: true });
  const own = { a: [] as string[], b: [] as string[] };
  const splitEnd = Date.now() + seconds * 1000;
  const twice = Array.from({ length: inBothEach }, (_, i) => recordJson(lab, "both", i));
  inBoth.push(...(await lab.submitRecords(pick(lab, siteA), twice)));
  await lab.submitRecords(pick(lab, siteB), twice);
  // Spread over the first 70 % of the split, so each half has time to confirm its own.
  const spacing = (0.7 * seconds * 1000) / perHalf;
  for (let i = 0; i < perHalf; i++) {
    await sleep(spacing);
    own.a.push(...(await lab.submitRecords(pick(lab, siteA), [recordJson(lab, "a", i)])));
    own.b.push(...(await lab.submitRecords(pick(lab, siteB), [recordJson(lab, "b", i)])));
  }
  await sleep(Math.max(0, splitEnd - Date.now()));
  const { mined } = await miner.stop();
  // Anything still pending in a half is mined there before the heal: "confirmed there" for all of them.
  await drain(lab, watch, siteA, [...own.a, ...inBoth]);
  await drain(lab, watch, siteB, [...own.b, ...inBoth]);
  return { own, inBoth, mined };
}

/**
 * Waits for each half to agree on its tip (one more block on site B when the two are at equal height, so
 * the heal has a winner) and checks that every half confirmed its own records.
 */
async function settleHalves(p: Run, split: Split): Promise<Halves> {
  const { lab, nodes, siteA, siteB, watch, problems } = p;
  const { own, inBoth } = split;
  // Two miners of one half can each find a block at one height: a tie inside the half is broken there.
  let tipA = await settled(lab, siteA, { timeoutMs: 30_000 });
  let tipB = await settled(lab, siteB, { timeoutMs: 30_000 });
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
    problems.push(`only ${confirmedInLosing.length}/${losingOwn.length} losing-half records confirmed there`);
  if (confirmedInWinning.length !== winningOwn.length)
    problems.push(
      `only ${confirmedInWinning.length}/${winningOwn.length} winning-half records confirmed there`,
    );
  if (inBothConfirmed.length !== inBoth.length)
    problems.push(`only ${inBothConfirmed.length}/${inBoth.length} records of both halves confirmed on each`);
  const heightsA = (await Promise.all(siteA.map((n) => n.api.status()))).map((s) => s.tip.height);
  const heightsB = (await Promise.all(siteB.map((n) => n.api.status()))).map((s) => s.tip.height);
  lab.say(`  site A tip ${tipA.height}, site B tip ${tipB.height} (${split.mined} blocks mined)`);
  lab.say(
    `  records confirmed in their half: A ${aWins ? confirmedInWinning.length : confirmedInLosing.length}/${own.a.length}, ` +
      `B ${aWins ? confirmedInLosing.length : confirmedInWinning.length}/${own.b.length}, ` +
      `both halves ${inBothConfirmed.length}/${inBoth.length} (on each side)`,
  );
  return {
    tipA,
    tipB,
    aWins,
    winning,
    losing,
    winningOwn,
    confirmedInLosing,
    confirmedInWinning,
    inBothConfirmed,
    heightsA,
    heightsB,
  };
}

/**
 * Heals the trunk and waits for one tip (the winning half's); then checks that the losing half's records
 * are pending again on every losing node and were announced so, and that no record the winning chain
 * holds was announced unconfirmed.
 */
async function healSplit(p: Run, split: Split, h: Halves): Promise<Heal> {
  const { lab, nodes, siteA, siteB, watch, problems } = p;
  // Connections across the trunk still open now would carry what each side queued during the split
  // (TCP retransmits it) instead of a fresh connection. libp2p's connection monitor drops them 5-15 s
  // into a split (a ping every 10 s, given up after 5 s).
  const crossSite = await crossSiteLinks(siteA, siteB);
  p.healing = true;
  await sleep(300);
  const healedAt = Date.now();
  await lab.topo.setTrunk(true);
  let final: Tip | undefined;
  try {
    final = await converged(nodes, 120_000);
  } catch (err) {
    problems.push((err as Error).message);
  }
  const healSeconds = (Date.now() - healedAt) / 1000;
  const winTip = h.aWins ? h.tipA : h.tipB;
  if (final && final.hash !== winTip.hash)
    problems.push(
      `final tip ${final.hash.slice(0, 12)} is not the winning half's ${winTip.hash.slice(0, 12)}`,
    );

  // One tip, no block mined since: the losing half's records must be pending on every losing node.
  const pendingAgain: string[] = [];
  for (const id of h.confirmedInLosing) {
    const answers = await Promise.all(h.losing.map((n) => n.api.record(id).catch(() => undefined)));
    if (answers.every((r) => r?.status === "pending")) pendingAgain.push(id);
  }
  const announced = h.confirmedInLosing.filter((id) =>
    h.losing.every((n) => watch.unconfirmed.get(n.name)?.has(id)),
  );
  if (pendingAgain.length !== h.confirmedInLosing.length)
    problems.push(
      `only ${pendingAgain.length}/${h.confirmedInLosing.length} losing-half records pending again`,
    );
  if (announced.length !== h.confirmedInLosing.length)
    problems.push(`only ${announced.length}/${h.confirmedInLosing.length} announced as record.unconfirmed`);
  // Records the winning chain holds too never leave the confirmed state.
  const stayed = new Set([...h.winningOwn, ...split.inBoth]);
  const wronglyUnconfirmed = [...stayed].filter((id) =>
    nodes.some((n) => watch.unconfirmed.get(n.name)?.has(id)),
  );
  if (wronglyUnconfirmed.length > 0)
    problems.push(`${wronglyUnconfirmed.length} records the winning chain holds were announced unconfirmed`);
  return { crossSite, healedAt, healSeconds, final, pendingAgain, announced, wronglyUnconfirmed };
}

/**
 * Mines on the winning half only until every node shows the records that went pending again confirmed
 * (at most 60 s); then audits the whole ledger on every node: none lost, none twice, the index right.
 */
async function reconfirm(p: Run, split: Split, h: Halves, heal: Heal, interval: number): Promise<Again> {
  const { lab, nodes, watch, problems } = p;
  const { pendingAgain } = heal;
  // Only the winning half mines now: a record back in a losing node's mempool must reach a miner
  // that never had it.
  const reminer = scheduleMining(lab, interval, () => h.winning, { records: true });
  const reconfirmDeadline = Date.now() + 60_000;
  while (!watch.confirmedOnAll(nodes, pendingAgain) && Date.now() < reconfirmDeadline) await sleep(100);
  const allBack = watch.confirmedOnAll(nodes, pendingAgain);
  const reconfirmSeconds = allBack
    ? (watch.lastConfirmedAt(nodes, pendingAgain) - heal.healedAt) / 1000
    : null;
  await reminer.stop();
  if (!allBack)
    problems.push(
      `${watch.missing(nodes, pendingAgain).length}/${pendingAgain.length} losing-half records not confirmed again within 60 s of the heal`,
    );
  // The winning half's two miners can leave a tie when the lab stops mining: broken by one more block.
  await settled(lab, nodes, { timeoutMs: 60_000 }).catch((err: Error) => problems.push(err.message));
  const all = [...split.own.a, ...split.own.b, ...split.inBoth];
  const audit = await auditLedger(nodes, all);
  watch.close();
  const reconfirmed = pendingAgain.filter((id) => !audit.lost.includes(id)).length;
  if (audit.lost.length > 0) problems.push(`${audit.lost.length} records lost`);
  if (audit.duplicates.length > 0) problems.push(`${audit.duplicates.length} records twice in the chain`);
  if (audit.indexWrong.length > 0)
    problems.push(`record index names the wrong block: ${audit.indexWrong.slice(0, 5).join(", ")}`);
  return { all, audit, reconfirmed, reconfirmSeconds };
}
/** The last checks (the halves diverged, every losing node reorganised), the summary and the result. */
function report(
  p: Run,
  r: {
    seconds: number;
    split: Split;
    halves: Halves;
    heal: Heal;
    again: Again;
  },
): ScenarioResult {
  const { lab, nodes, reorgDepth, problems } = p;
  const { split, halves: h, heal, again } = r;
  const { audit } = again;
  if (h.tipA.hash === h.tipB.hash) problems.push("the halves did not diverge");
  for (const n of h.losing)
    if ((reorgDepth.get(n.name) ?? 0) === 0) problems.push(`${n.name} (losing half) reported no reorg`);
  const depths = Object.fromEntries(reorgDepth);
  const losingSite = h.aWins ? "b" : "a";
  lab.say(
    `healed: one tip (${heal.final?.height ?? "-"}) after ${round(heal.healSeconds)} s; site ${losingSite.toUpperCase()} lost`,
  );
  lab.say(`  cross-site connections still open at the heal: ${heal.crossSite}`);
  lab.say(`  reorg depth per node: ${JSON.stringify(depths)}`);
  lab.say(
    `  ledger: ${h.confirmedInLosing.length} records confirmed in the losing half, ${heal.pendingAgain.length} pending again ` +
      `on all ${h.losing.length} of its nodes, ${again.reconfirmed} confirmed again on all ${nodes.length} ` +
      `(${again.reconfirmSeconds === null ? "-" : round(again.reconfirmSeconds)} s after the heal); ` +
      `${again.all.length} records: ${audit.lost.length} lost, ${audit.duplicates.length} twice`,
  );
  return {
    scenario: "partition",
    ok: problems.length === 0,
    problems,
    nodes: nodes.length,
    partitionSeconds: r.seconds,
    blocksMined: split.mined,
    heightsA: h.heightsA,
    heightsB: h.heightsB,
    finalHeight: heal.final?.height ?? null,
    crossSiteLinksAtHeal: heal.crossSite,
    healSeconds: round(heal.healSeconds),
    reorgDepth: depths,
    ledger: {
      submitted: { a: split.own.a.length, b: split.own.b.length, both: split.inBoth.length },
      losingHalf: losingSite,
      confirmedInLosing: h.confirmedInLosing.length,
      confirmedInWinning: h.confirmedInWinning.length,
      confirmedInBoth: h.inBothConfirmed.length,
      pendingAgain: heal.pendingAgain.length,
      unconfirmedEvents: heal.announced.length,
      wronglyUnconfirmed: heal.wronglyUnconfirmed.length,
      reconfirmed: again.reconfirmed,
      lost: audit.lost.length,
      duplicates: audit.duplicates.length,
      indexWrong: audit.indexWrong.length,
      reconfirmSeconds: again.reconfirmSeconds === null ? null : round(again.reconfirmSeconds),
    },
  };
}

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
