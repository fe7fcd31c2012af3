/**
 * Records through the API and the network (issue 9's numbers; docs/benchmarks.md "Records over HTTP and
 * gossip"). Four measurements, one run:
 *
 * (a) HTTP admission: POST /api/records in batches of 1,000 (100-byte unsigned records, and signed ones),
 *     sequentially from one client, against the real API server on a real Chain / LevelStore / Mempool in
 *     this process (so server and client share one core: the figure is a lower bound for the server).
 *     The per-client rate limit is raised for it. Median of 3 runs of 20 (unsigned) / 5 (signed) batches.
 * (b) gossip to a template: two in-process nodes on loopback (devnet: on regtest the miner spends most of
 *     its time waiting for the clock, which hides the template rebuild), C without a miner, A mining one
 *     thread; single records POSTed to C one after another, each timed until A's miner first takes it
 *     into a template (A's `mempool.take` is wrapped to stamp the first time it returns each id). p50/p99.
 * (c) submit → confirmed on all 3 nodes on devnet: three `jbc node --network devnet` processes, two
 *     mining one thread each, records POSTed to the third every 500 ms, each timed until every node's
 *     event stream reported it `record.confirmed`. p50/p99 beside the median block interval of the run.
 * (d) GET /api/records/:id with its proof on a regtest chain of BLOCKS × 100 records (100,000 by
 *     default; --big for 1,000,000), random ids, sequential requests over keep-alive. p50/p99.
 *
 *   npm run bench:records-api              # ~2 minutes on 2 cores
 *   npm run bench:records-api -- --quick   # smaller sizes, to check the script itself
 *   npm run bench:records-api -- --big --lookup-only   # (d) alone on 1,000,000 records
 *
 * The last line printed is one JSON object with the figures, the 1-minute load average and the cores.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { ApiClient, type StreamEvent } from "../src/api/client.ts";
import { RecordsApi } from "../src/api/records.ts";
import { createApiServer } from "../src/api/server.ts";
import { type Block, encodeBlock, recordIds } from "../src/consensus/block.ts";
import { hashToHex } from "../src/consensus/header.ts";
import { devnet, regtest } from "../src/consensus/params.ts";
import { type BlockRecord, signRecord } from "../src/consensus/records.ts";
import { Mempool, recordToJson } from "../src/mempool/index.ts";
import { realServices } from "../src/node/adapters.ts";
import { JbcNode, openChainStore } from "../src/node/node.ts";
import { silentLogger } from "../src/util/logger.ts";
import { recordsBackend } from "../test/helpers/api.ts";
import { makeChild } from "../test/helpers/blocks.ts";
import { killAll, type NodeProcess, spawnNode } from "../test/helpers/spawn.ts";
import { waitFor } from "../test/helpers/wait.ts";
import { median, percentile } from "./stats.ts";

const quick = process.argv.includes("--quick");
const big = process.argv.includes("--big");
/** Only (d): with --big, the 1,000,000-record lookup alone. */
const lookupOnly = process.argv.includes("--lookup-only");
const round = (x: number, d = 2) => Number(x.toFixed(d));
/** A percentile, NaN (null in the JSON) for a part that did not run. */
const pct = (xs: readonly number[], p: number): number => (xs.length ? percentile(xs, p) : Number.NaN);
const utf8 = new TextEncoder();
const dir = mkdtempSync(join(tmpdir(), "jbc-bench-records-api-"));

/** An API server on a fresh chain and mempool, as a node composes them, without P2P or miner. */
async function apiOn(datadir: string, maxBytes = 1 << 30) {
  const { store, chain } = await openChainStore({ params: regtest, datadir, logger: silentLogger });
  const mempool = new Mempool({
    params: regtest,
    isConfirmed: (id) => chain.isRecordConfirmed(id),
    maxBytes,
    maxCount: 10_000_000,
  });
  const backend = recordsBackend(chain, mempool);
  const app = await createApiServer({ backend, records: { ratePerSec: 1e9, burst: 1e9 } });
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  return {
    url,
    backend,
    chain,
    mempool,
    close: async () => {
      await app.close();
      await chain.close();
      await store.close();
    },
  };
}

async function postBatch(url: string, body: string): Promise<void> {
  const res = await fetch(`${url}/api/records`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  if (res.status !== 202) throw new Error(`POST /api/records answered ${res.status}: ${await res.text()}`);
  await res.arrayBuffer();
}

/** (a) records/s over HTTP in batches of 1,000; median of 3 runs, each on records not seen before. */
async function admission(kind: "unsigned" | "signed", batches: number): Promise<number> {
  const server = await apiOn(join(dir, `admission-${kind}`));
  try {
    const rates: number[] = [];
    const seed = new Uint8Array(32).fill(5);
    for (let run = 0; run < 3; run++) {
      const bodies: string[] = [];
      for (let b = 0; b < batches; b++) {
        const items = [];
        for (let i = 0; i < 1000; i++) {
          const text = `${kind} run ${run} batch ${b} record ${i} `.padEnd(100, "x");
          items.push(
            kind === "unsigned" ? { data: text } : recordToJson(signRecord(utf8.encode(text), seed)),
          );
        }
        bodies.push(JSON.stringify(items));
      }
      await postBatch(server.url, bodies[0]!); // warm-up batch outside the timing
      const t0 = performance.now();
      for (let b = 1; b < bodies.length; b++) await postBatch(server.url, bodies[b]!);
      rates.push(((bodies.length - 1) * 1000) / ((performance.now() - t0) / 1000));
    }
    return median(rates);
  } finally {
    await server.close();
  }
}

/** (b) submit at C → first in a template of A's miner, ms per record. */
async function gossipToTemplate(samples: number): Promise<number[]> {
  const taken = new Map<string, number>();
  const services = realServices();
  const a = await JbcNode.create(
    {
      params: devnet,
      datadir: join(dir, "tpl-a"),
      http: { host: "127.0.0.1", port: 0 },
      p2p: { host: "127.0.0.1", port: 0 },
      mine: true,
      threads: 1,
      minerName: "a",
    },
    {
      ...services,
      miner: (ctx) => {
        const pool = ctx.mempool!;
        const take = pool.take.bind(pool);
        pool.take = (room: number) => {
          const out = take(room);
          const now = performance.now();
          for (const e of out) if (!taken.has(e.id)) taken.set(e.id, now);
          return out;
        };
        return services.miner!(ctx);
      },
    },
  );
  const c = await JbcNode.create(
    {
      params: devnet,
      datadir: join(dir, "tpl-c"),
      http: { host: "127.0.0.1", port: 0 },
      p2p: { host: "127.0.0.1", port: 0, peers: [a.url] },
    },
    { network: services.network! },
  );
  try {
    const api = new ApiClient(c.url);
    await waitFor(async () => (await api.status()).peers >= 1, { what: "C connected to A" });
    await new Promise((r) => setTimeout(r, 1500)); // the records topic's mesh forms on heartbeats
    const out: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t0 = performance.now();
      const { id } = await api.submitRecords({ data: `to a template ${i}` });
      await waitFor(() => taken.has(id), {
        timeoutMs: 10_000,
        intervalMs: 1,
        what: `record ${i} in A's template`,
      });
      out.push(taken.get(id)! - t0);
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 100));
    }
    return out;
  } finally {
    await c.stop();
    await a.stop();
  }
}

/** (c) submit at the non-mining node of a 3-node devnet → confirmed on all three, ms; and block intervals. */
async function devnetConfirm(seconds: number): Promise<{ ms: number[]; interval: number; blocks: number }> {
  const start = (name: string, mine: boolean, peers: string[] = []): Promise<NodeProcess> =>
    spawnNode({ name, datadir: join(dir, `dev-${name}`), network: "devnet", mine, threads: 1, peers });
  const a = await start("a", true);
  const b = await start("b", true, [a.url]);
  const c = await start("c", false, [a.url, b.url]);
  const nodes = [a, b, c];
  const seen = nodes.map(() => new Map<string, number>());
  const ac = new AbortController();
  const streams = nodes.map((n, k) =>
    n.api
      .events((e: StreamEvent) => {
        if (e.event !== "record.confirmed") return;
        const id = (e.data as { id: string }).id;
        if (!seen[k]!.has(id)) seen[k]!.set(id, performance.now());
      }, ac.signal)
      .catch(() => {}),
  );
  try {
    await waitFor(
      async () => (await Promise.all(nodes.map((n) => n.api.status()))).every((s) => s.peers >= 2),
      {
        timeoutMs: 30_000,
        what: "a full devnet mesh",
      },
    );
    await new Promise((r) => setTimeout(r, 1500));
    const h0 = (await c.api.status()).tip.height;
    const sent = new Map<string, number>();
    const until = performance.now() + seconds * 1000;
    for (let i = 0; performance.now() < until; i++) {
      const t = performance.now();
      const { id } = await c.api.submitRecords({ data: `devnet record ${i}` });
      sent.set(id, t);
      await new Promise((r) => setTimeout(r, 500));
    }
    // Wait for the last ones (a block or two more).
    await waitFor(() => [...sent.keys()].every((id) => seen.every((m) => m.has(id))), {
      timeoutMs: 120_000,
      intervalMs: 200,
      what: "every record confirmed on every node",
    });
    const ms = [...sent].map(([id, t]) => Math.max(...seen.map((m) => m.get(id)!)) - t);
    const tip = (await c.api.status()).tip.height;
    const times: number[] = [];
    for (let h = h0; h <= tip; h++) times.push((await c.api.block(h)).header.time);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    return { ms, interval: gaps.length ? median(gaps) : Number.NaN, blocks: tip - h0 };
  } finally {
    ac.abort();
    await Promise.all(streams);
    await killAll();
  }
}

/** (d) GET /api/records/:id with proof on a chain of blocks × perBlock records: latencies in ms. */
async function lookup(
  blocks: number,
  perBlock: number,
  samples: number,
): Promise<{ ms: number[]; handlerMs: number[]; records: number }> {
  const server = await apiOn(join(dir, "lookup"));
  try {
    const ids: string[] = [];
    let parent: Block = regtest.genesis;
    const t0 = Math.floor(Date.now() / 1000) - blocks - 60;
    let batch: Array<{ block: Block; raw: Uint8Array }> = [];
    for (let h = 1; h <= blocks; h++) {
      const records: BlockRecord[] = [];
      for (let i = 0; i < perBlock; i++) {
        const data = new Uint8Array(100);
        const v = new DataView(data.buffer);
        v.setUint32(0, h, true);
        v.setUint32(4, i, true);
        records.push({ type: "data", data });
      }
      parent = makeChild(parent, regtest, {
        time: Math.max(t0 + h, regtest.genesis.header.time + h),
        records,
      });
      const rid = recordIds(parent);
      ids.push(hashToHex(rid[1 + ((h * 7) % perBlock)]!));
      batch.push({ block: parent, raw: encodeBlock(parent) });
      if (batch.length === 500 || h === blocks) {
        await server.chain.processBlocks(batch);
        batch = [];
      }
    }
    const api = new ApiClient(server.url);
    for (let i = 0; i < 200; i++) await api.record(ids[i % ids.length]!); // warm-up
    const ms: number[] = [];
    for (let i = 0; i < samples; i++) {
      const id = ids[Math.floor(Math.random() * ids.length)]!;
      const t = performance.now();
      const r = await api.record(id);
      ms.push(performance.now() - t);
      if (!r.proof) throw new Error("no proof");
    }
    // The same lookups without HTTP: the route's handler (index, block read, proof) alone.
    const handler = new RecordsApi(server.backend);
    const handlerMs: number[] = [];
    for (let i = 0; i < samples; i++) {
      const id = ids[Math.floor(Math.random() * ids.length)]!;
      const t = performance.now();
      await handler.get(id);
      handlerMs.push(performance.now() - t);
    }
    return { ms, handlerMs, records: blocks * (perBlock + 1) };
  } finally {
    await server.close();
  }
}

try {
  let unsigned = Number.NaN;
  let signed = Number.NaN;
  let tpl: number[] = [];
  let dev: { ms: number[]; interval: number; blocks: number } = { ms: [], interval: Number.NaN, blocks: 0 };
  if (!lookupOnly) {
    console.log("(a) HTTP admission in batches of 1,000...");
    unsigned = await admission("unsigned", quick ? 4 : 20);
    signed = await admission("signed", quick ? 3 : 6);
    console.log(
      `  unsigned ${Math.round(unsigned)} records/s (target 20,000), signed ${Math.round(signed)} records/s (target 5,000)`,
    );

    console.log("(b) submit at a non-mining node → in a miner's template on another node...");
    tpl = await gossipToTemplate(quick ? 20 : 200);
    console.log(
      `  p50 ${round(percentile(tpl, 50))} ms, p99 ${round(percentile(tpl, 99))} ms (target p99 < 500 ms), n=${tpl.length}`,
    );

    console.log("(c) submit → confirmed on all 3 devnet nodes...");
    dev = await devnetConfirm(quick ? 15 : 60);
    console.log(
      `  p50 ${round(percentile(dev.ms, 50) / 1000)} s, p99 ${round(percentile(dev.ms, 99) / 1000)} s over ${dev.ms.length} records; ${dev.blocks} blocks, median interval ${dev.interval} s`,
    );
  }
  const blocks = big ? 10_000 : quick ? 100 : 1_000;
  console.log(`(d) GET /api/records/:id with proof on a chain of ${blocks} blocks × 100 records...`);
  const look = await lookup(blocks, 100, quick ? 300 : 3_000);
  console.log(
    `  p50 ${round(percentile(look.ms, 50), 3)} ms, p99 ${round(percentile(look.ms, 99), 3)} ms (target p99 < 5 ms), ${look.records} records in the chain`,
  );
  console.log(
    `  the handler alone (no HTTP): p50 ${round(percentile(look.handlerMs, 50), 3)} ms, p99 ${round(percentile(look.handlerMs, 99), 3)} ms`,
  );

  console.log(
    JSON.stringify({
      httpAdmitUnsignedPerSec: Math.round(unsigned),
      httpAdmitSignedPerSec: Math.round(signed),
      unsignedVsTarget: round(unsigned / 20_000),
      signedVsTarget: round(signed / 5_000),
      gossipToTemplateP50Ms: round(pct(tpl, 50)),
      gossipToTemplateP99Ms: round(pct(tpl, 99)),
      devnetConfirmAllP50Ms: Math.round(pct(dev.ms, 50)),
      devnetConfirmAllP99Ms: Math.round(pct(dev.ms, 99)),
      devnetBlockIntervalMedianS: dev.interval,
      devnetRecords: dev.ms.length,
      getRecordProofP50Ms: round(pct(look.ms, 50), 3),
      getRecordProofP99Ms: round(pct(look.ms, 99), 3),
      getRecordHandlerP50Ms: round(pct(look.handlerMs, 50), 3),
      getRecordHandlerP99Ms: round(pct(look.handlerMs, 99), 3),
      lookupChainRecords: look.records,
      quick,
      loadavg1: round(loadavg()[0]!),
      cores: availableParallelism(),
    }),
  );
} finally {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
}
