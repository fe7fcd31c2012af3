/**
 * What blocks nobody asked for cost a victim (issue 17, items 1 and 2; `npm run bench:dos-chain`). The
 * victim is a node in this process (P2PNetwork, Chain, LevelDB), measured alone: every attacker runs in a
 * process of its own (test/helpers/attacker.ts) and publishes raw blocks on the block topic. Sections:
 *
 *   side    300 full 975 KB siblings of block 2 (near genesis, far below the victim's tip of 10) over
 *           gossip, with an observer behind the victim that counts what it relays; then the same 300
 *           handed to processBlock as POST /api/blocks does (decoded, with their bytes). Disk and heap
 *           growth, blocks relayed, whether the spammer was banned.
 *   pools   70 too-new full blocks (4,095 records of 236 bytes) and 40 full orphans from one peer, paced
 *           20 ms apart; then 12 too-new blocks of 199,001 five-byte records (the issue's). Heap growth and
 *           the main-thread time of each block's processBlock call (its queue wait excluded).
 *   queue   200 small too-new blocks from one peer as fast as gossipsub sends: the queue's largest depth
 *           and how many were refused BUSY.
 *   check   the full check (sanity, context, records) of a block of n signed records under n fresh keys
 *           and of n two-byte data records, n = 4,096 (the cap) and as many as 1 MB holds: the measurement
 *           behind the record cap (docs/consensus.md, "Records per block").
 *
 * Run one section with `-- --only=<name>[,<name>]`. Every section runs on older code too (it uses only what
 * main had), so the same script gives the "before" from a checkout of main. The last line is one JSON object.
 */
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { Chain } from "../src/chain/chain.ts";
import { type Block, decodeBlock, encodeBlock } from "../src/consensus/block.ts";
import { headerHashBytes } from "../src/consensus/header.ts";
import { defineNetwork, regtest } from "../src/consensus/params.ts";
import { type BlockRecord, signRecord } from "../src/consensus/records.ts";
import { checkBlockRecords, checkBlockSanity } from "../src/consensus/validate.ts";
import { rawBlockHash } from "../src/net/protocols.ts";
import { useNativeCrypto } from "../src/node/crypto.ts";
import { MemoryStore } from "../src/sim/memory-store.ts";
import { attackBlocks, honestChain, runAttack, startAttacker } from "../test/helpers/attacker.ts";
import { makeChild } from "../test/helpers/blocks.ts";
import { dirBytes, liveHeap, MB } from "../test/helpers/measure.ts";
import { importBlocks, startNode, type TestNode, waitFor } from "../test/helpers/net.ts";
import { median } from "./stats.ts";

useNativeCrypto(); // as the node does
const HONEST = 10;
const honest = honestChain(HONEST + 1);
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;
const log = (s: string): void => void process.stderr.write(`${s}\n`);

/** A victim holding the honest chain up to HONEST. */
async function victim(): Promise<TestNode> {
  const n = await startNode(regtest);
  await importBlocks(n.tc.chain, honest.slice(1, HONEST + 1));
  return n;
}

type Figures = Record<string, number | boolean | string>;

async function side(): Promise<Figures> {
  const v = await victim();
  const observer = await victim();
  try {
    await observer.net.addPeer(v.net.multiaddrs()[0]!);
    const relayed = new Set<string>();
    observer.net.libp2p.services.pubsub.addEventListener("gossipsub:message", (e) => {
      relayed.add(rawBlockHash(e.detail.msg.data));
    });
    await new Promise((r) => setTimeout(r, 1_500)); // the mesh forms within a few heartbeats
    const disk0 = dirBytes(v.tc.dir);
    const plan = { kind: "siblings" as const, count: 300, honest: HONEST, control: true, paceMs: 10 };
    const cost = await runAttack(v, plan);
    await new Promise((r) => setTimeout(r, 1_000));
    const disk = (dirBytes(v.tc.dir) - disk0) / MB;
    const control = rawBlockHash(encodeBlock(honest[HONEST + 1]!));
    const leaked = [...relayed].filter((h) => h !== control).length;
    log(
      `side/gossip: disk +${round(disk)} MB, heap +${round(cost.heapMB)} MB, ${leaked} relayed, ` +
        `${cost.judged} judged in ${round(cost.seconds)} s, banned ${cost.banned}, control relayed ${relayed.has(control)}`,
    );
    const http = await sideHttp();
    return {
      side_spam_disk_MB: round(disk),
      side_spam_heap_MB: round(cost.heapMB),
      side_spam_relayed: leaked,
      side_spam_judged: cost.judged,
      side_spam_banned: cost.banned,
      side_spam_control_relayed: relayed.has(control),
      side_spam_median_ms: round(cost.medianMs, 2),
      side_spam_thread_ms_per_block: round(cost.threadMsPerBlock, 2),
      ...http,
    };
  } finally {
    await observer.stop();
    await v.stop();
  }
}

/** The same 300 siblings handed to processBlock the way POST /api/blocks does (decoded, with their bytes). */
async function sideHttp(): Promise<Figures> {
  const v = await victim();
  try {
    const raws = attackBlocks({ kind: "siblings", count: 300, honest: HONEST });
    const disk0 = dirBytes(v.tc.dir);
    const heap0 = liveHeap();
    const statuses: Record<string, number> = {};
    const t0 = performance.now();
    for (const raw of raws) {
      const s = await v.tc.chain.processBlock(decodeBlock(raw), raw).then(
        (r) => r.status,
        (e: unknown) => String((e as { code?: string }).code),
      );
      statuses[s] = (statuses[s] ?? 0) + 1;
    }
    const ms = (performance.now() - t0) / raws.length;
    const disk = (dirBytes(v.tc.dir) - disk0) / MB;
    const heap = (liveHeap() - heap0) / MB;
    log(
      `side/http: disk +${round(disk)} MB, heap +${round(heap)} MB, ${round(ms)} ms a block, ${JSON.stringify(statuses)}`,
    );
    return {
      side_spam_http_disk_MB: round(disk),
      side_spam_http_heap_MB: round(heap),
      side_spam_http_ms_per_block: round(ms, 2),
    };
  } finally {
    await v.stop();
  }
}

async function pools(): Promise<Figures> {
  const out: Figures = {};
  const full = { records: 4_095, recordBytes: 236, paceMs: 20 };
  for (const [name, plan] of [
    ["future", { kind: "future" as const, count: 70, honest: HONEST, ...full }],
    ["orphan", { kind: "orphans" as const, count: 40, honest: HONEST, ...full }],
    [
      "overcap",
      { kind: "future" as const, count: 12, honest: HONEST, records: 199_000, recordBytes: 3, paceMs: 20 },
    ],
  ] as const) {
    const v = await victim();
    try {
      const cost = await runAttack(v, plan);
      log(
        `pools/${name}: heap +${round(cost.heapMB)} MB, median ${round(cost.medianMs, 2)} ms, max ${round(cost.maxMs, 1)} ms ` +
          `(main thread ${round(cost.threadMsPerBlock, 2)} ms) ` +
          `a block, loop max ${round(cost.loopMaxMs)} ms, ${cost.judged} judged, banned ${cost.banned}`,
      );
      Object.assign(out, {
        [`pool_${name}_heap_MB`]: round(cost.heapMB),
        [`pool_${name}_ms_per_block`]: round(cost.medianMs, 2),
        [`pool_${name}_max_ms`]: round(cost.maxMs, 1),
        [`pool_${name}_loop_max_ms`]: round(cost.loopMaxMs),
        [`pool_${name}_thread_ms_per_block`]: round(cost.threadMsPerBlock, 2),
        [`pool_${name}_judged`]: cost.judged,
        [`pool_${name}_banned`]: cost.banned,
      });
    } finally {
      await v.stop();
    }
  }
  return out;
}

async function queue(): Promise<Figures> {
  const v = await victim();
  try {
    const attacker = await startAttacker(v.net.multiaddrs()[0]!, {
      kind: "future",
      count: 200,
      honest: HONEST,
      records: 1,
      recordBytes: 8,
    });
    // The depth is read as each call settles (the calls behind it are still queued then).
    let depth = 0;
    const backlog = (v.tc.chain as unknown as { backlog?: { queued: number } }).backlog;
    v.tc.chain.on("processed", () => {
      const q = (v.tc.chain as unknown as { backlog?: { queued: number } }).backlog?.queued;
      if (q !== undefined) depth = Math.max(depth, q);
    });
    let settled = 0;
    const outcomes: Record<string, number> = {};
    v.net.on("gossip", (e) => {
      if (e.direction !== "in") return;
      settled++;
      const k = e.verdict ?? "";
      outcomes[k] = (outcomes[k] ?? 0) + 1;
    });
    let busy = 0;
    v.tc.chain.on("processed", (e) => {
      if (e.outcome === "error") busy++;
    });
    await attacker.publish();
    await waitFor(() => settled >= 200, 60_000, "every message judged");
    attacker.stop();
    log(
      `queue: largest depth ${backlog ? depth : "(not measured: no backlog)"}, ${busy} refused BUSY, ${JSON.stringify(outcomes)}`,
    );
    return { queue_max_depth: backlog ? depth : -1, queue_busy_refused: busy };
  } finally {
    await v.stop();
  }
}

/** regtest without the record cap: what checking the blocks it now refuses would cost. */
const uncapped = defineNetwork({ ...regtest, maxBlockRecords: 1_000_000 });

/** Decoding and the full check of `block` (sanity, then the records; the context is a few lookups). */
function checkMs(block: Block): number {
  const raw = encodeBlock(block);
  const t0 = performance.now();
  const decoded = decodeBlock(raw);
  checkBlockSanity(decoded, headerHashBytes(decoded.header), uncapped, Number.MAX_SAFE_INTEGER, raw.length);
  checkBlockRecords(decoded, "");
  return performance.now() - t0;
}

async function check(): Promise<Figures> {
  const parent = honest[1]!;
  const signed = (n: number): BlockRecord[] =>
    Array.from({ length: n }, (_, i) => signRecord(Uint8Array.of(i & 0xff, i >> 8), randomBytes(32)));
  const tiny = (n: number): BlockRecord[] =>
    Array.from({ length: n }, (_, i) => ({
      type: "data" as const,
      data: Uint8Array.of(i & 0xff, (i >> 8) & 0xff, i >> 16),
    }));
  const out: Figures = {};
  // 9,899 signed records of 2 bytes (100 bytes each) and 199,000 of 5 fill 1 MB: the worst cases without a
  // cap. Every run checks a block built afresh, so its keys are new to node:crypto's key cache (4,096 keys,
  // src/node/crypto.ts): the worst case. Median of 3 runs at the cap, 1 run at 1 MB.
  for (const [name, n, make, runs] of [
    ["signed_4096", 4_095, signed, 3],
    ["tiny_4096", 4_095, tiny, 3],
    ["signed_1mb", 9_899, signed, 1],
    ["tiny_1mb", 199_000, tiny, 1],
  ] as const) {
    const times: number[] = [];
    for (let r = 0; r < runs; r++)
      times.push(checkMs(makeChild(parent, regtest, { miner: `${name} ${r}`, records: make(n) })));
    const ms = median(times);
    log(`check/${name}: ${n + 1} records, ${round(ms)} ms (${round((ms * 1000) / (n + 1), 1)} µs a record)`);
    out[`check_${name}_ms`] = round(ms);
    out[`check_${name}_us_per_record`] = round((ms * 1000) / (n + 1), 1);
  }
  // The cap's whole effect on one chain: the time processBlock takes for the worst block it now accepts.
  const chain = await Chain.open({ params: regtest, store: new MemoryStore() });
  try {
    await chain.processBlock(parent);
    const worst = makeChild(parent, regtest, { miner: "worst", records: signed(4_095) });
    const t0 = performance.now();
    await chain.processBlock(worst);
    out.check_worst_accepted_ms = round(performance.now() - t0);
    log(
      `check/worst accepted block (4,096 records, 4,095 signed under fresh keys): ${out.check_worst_accepted_ms} ms`,
    );
  } finally {
    await chain.close();
  }
  return out;
}

const SECTIONS: Record<string, () => Promise<Figures>> = { side, pools, queue, check };
const only = process.argv
  .find((a) => a.startsWith("--only="))
  ?.slice(7)
  .split(",");
const figures: Figures = {};
for (const [name, run] of Object.entries(SECTIONS)) {
  if (only && !only.includes(name)) continue;
  log(`--- ${name}`);
  Object.assign(figures, await run());
}
figures.loadAverage = round(loadavg()[0]!, 2);
console.log(JSON.stringify(figures));
process.exit(0);
