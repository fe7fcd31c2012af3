import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { encodeBlock } from "../../src/consensus/block.ts";
import { regtest } from "../../src/consensus/params.ts";
import { JbcNode } from "../../src/node/node.ts";
import { makeChain, makeChild, mineHighHash } from "../helpers/blocks.ts";
import { waitFor } from "../helpers/wait.ts";

/**
 * GET /metrics on a real node: the families move with what the node does (blocks posted, a bad block
 * refused, a reorg, requests), and every metric the Grafana dashboard in docs/grafana/jbc.json queries
 * exists in a real scrape.
 */

const dir = mkdtempSync(join(tmpdir(), "jbc-metrics-"));
let node: JbcNode;

before(async () => {
  node = await JbcNode.create({ params: regtest, datadir: dir, http: { port: 0 }, p2p: false }, {});
});

after(async () => {
  await node?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function scrape(): Promise<string> {
  const res = await fetch(`${node.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return res.text();
}

/** The value of one sample, `name{labels}` exactly as exposed (labels in prom-client's order). */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

async function post(bytes: Uint8Array): Promise<number> {
  const res = await fetch(`${node.url}/api/blocks`, {
    method: "POST",
    headers: { "content-type": "application/octet-stream" },
    body: bytes,
  });
  await res.text();
  return res.status;
}

test("metrics move: height, blocks, a refusal by its code, a reorg, request counts", async () => {
  const before = await scrape();
  assert.equal(sample(before, "jbc_chain_height"), 0);
  const main = makeChain(regtest, 5, { spacing: 1 });
  for (let h = 1; h <= 5; h++) assert.equal(await post(encodeBlock(main[h]!)), 200);
  // A bad block: its hash is above the target.
  const high = mineHighHash(makeChild(main[5]!, regtest, { miner: "bad", mine: false }));
  assert.equal(await post(encodeBlock(high)), 422);
  // A side branch off block 3 that overtakes the main chain: a reorg of depth 2.
  const branch = makeChain(regtest, 3, { from: main[3]!, miner: "other", spacing: 2 });
  for (let i = 1; i <= 3; i++) assert.equal(await post(encodeBlock(branch[i]!)), 200);

  const text = await scrape();
  assert.equal(sample(text, "jbc_chain_height"), 6);
  assert.equal(sample(text, 'jbc_chain_blocks_refused_total{code="HIGH_HASH"}'), 1);
  assert.equal(sample(text, "jbc_chain_reorgs_total"), 1);
  assert.equal(sample(text, "jbc_chain_reorg_depth_count"), 1);
  assert.equal(sample(text, 'jbc_chain_reorg_depth_bucket{le="2"}'), 1);
  assert.equal(sample(text, 'jbc_chain_reorg_depth_bucket{le="1"}'), 0);
  assert.ok((sample(text, 'jbc_chain_blocks_total{branch="main"}') ?? 0) >= 6);
  assert.ok((sample(text, 'jbc_chain_blocks_total{branch="side"}') ?? 0) >= 2);
  assert.equal(sample(text, "jbc_chain_process_block_seconds_count"), 9);
  assert.equal(sample(text, 'jbc_http_requests_total{method="POST",route="/api/blocks",status="200"}'), 8);
  assert.equal(sample(text, 'jbc_http_requests_total{method="POST",route="/api/blocks",status="422"}'), 1);
  assert.equal(sample(text, 'jbc_http_requests_total{method="GET",route="/metrics",status="200"}'), 1);
  assert.ok(
    (sample(text, 'jbc_http_request_duration_seconds_count{method="POST",route="/api/blocks"}') ?? 0) >= 9,
  );
  assert.ok((sample(text, "jbc_chain_work") ?? 0) > (sample(before, "jbc_chain_work") ?? 0));
  // What waits inside the chain (each bounded): nothing, once every post has been answered.
  assert.equal(sample(text, "jbc_chain_queue_depth"), 0);
  assert.equal(sample(text, 'jbc_chain_pool_bytes{pool="orphan"}'), 0);
  assert.equal(sample(text, 'jbc_chain_pool_bytes{pool="future"}'), 0);
  assert.equal(sample(text, "jbc_chain_side_headers"), 0);
  assert.equal(sample(text, "jbc_peers"), 0);
  assert.equal(sample(text, "jbc_mining_hashrate"), 0);
  // Node's process metrics, under their standard names.
  for (const name of ["process_cpu_seconds_total", "nodejs_heap_size_used_bytes", "process_open_fds"]) {
    assert.ok(sample(text, name) !== undefined, name);
  }
  assert.match(text, /^nodejs_eventloop_lag_p99_seconds /m);
});

test("every metric the Grafana dashboard queries exists in a scrape, and all follow the naming rules", async () => {
  const text = await scrape();
  // A family exists once declared (a labelled counter has no sample before its first event).
  const exposed = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    exposed.add(m[1]!);
    if (m[2] === "histogram") for (const s of ["_bucket", "_sum", "_count"]) exposed.add(m[1]! + s);
  }
  const dashboard = JSON.parse(
    readFileSync(new URL("../../docs/grafana/jbc.json", import.meta.url), "utf8"),
  ) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
  const queried = new Set<string>();
  for (const panel of dashboard.panels) {
    assert.ok(panel.targets.length > 0, panel.title);
    for (const t of panel.targets) {
      for (const m of t.expr.matchAll(/\b((?:jbc|process|nodejs)_[a-z0-9_]+)/g)) queried.add(m[1]!);
    }
  }
  assert.ok(queried.size >= 15, [...queried].join(", "));
  for (const name of queried)
    assert.ok(exposed.has(name), `the dashboard queries ${name}, which is not exposed`);

  // Conventions: the prefix, _total on counters and only there, base units.
  const types = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(m[1]!, m[2]!);
  for (const [name, type] of types) {
    if (!name.startsWith("jbc_")) continue;
    assert.equal(type === "counter", name.endsWith("_total"), `${name} is a ${type}`);
    assert.doesNotMatch(name, /_(ms|milliseconds|kb|mb)(_|$)/, name);
  }
});

test("mempool metrics move: pending records and bytes, admissions by source, refusals by code", async () => {
  const before = await scrape();
  const pendingBefore = sample(before, "jbc_mempool_records") ?? 0;
  const post = async (body: unknown): Promise<number> => {
    const res = await fetch(`${node.url}/api/records`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    await res.text();
    return res.status;
  };
  assert.equal(await post([{ data: "metrics one" }, { data: "metrics two" }]), 202);
  // A signed record whose signature is all zeros: refused with BAD_SIGNATURE.
  const bad = { data: "forged", publicKey: "11".repeat(32), signature: "00".repeat(64) };
  assert.equal(await post(bad), 422);

  const text = await scrape();
  assert.equal(sample(text, "jbc_mempool_records"), pendingBefore + 2);
  assert.ok((sample(text, "jbc_mempool_bytes") ?? 0) > 0);
  assert.equal(sample(text, 'jbc_mempool_admitted_total{source="api"}'), 2);
  assert.equal(sample(text, 'jbc_mempool_refused_total{code="BAD_SIGNATURE",source="api"}'), 1);
  assert.ok((sample(text, "jbc_mempool_oldest_age_seconds") ?? -1) >= 0);
});

test("gossip and template metrics move: a miner's templates and published blocks, its peer's judged messages", async () => {
  const base = mkdtempSync(join(tmpdir(), "jbc-metrics-p2p-"));
  const miner = await JbcNode.create({
    params: regtest,
    datadir: join(base, "miner"),
    http: { port: 0 },
    p2p: { port: 0 },
    threads: 1,
  });
  const peer = await JbcNode.create({
    params: regtest,
    datadir: join(base, "peer"),
    http: { port: 0 },
    p2p: { port: 0, peers: [miner.url] },
  });
  const scrapeOf = async (n: JbcNode): Promise<string> => (await fetch(`${n.url}/metrics`)).text();
  try {
    await waitFor(async () => (await (await fetch(`${peer.url}/api/ready`)).status) === 200, {
      timeoutMs: 20_000,
      what: "the peer to join the miner",
    });
    const client = { "x-jbc-client": "test" };
    assert.equal(
      (await fetch(`${miner.url}/api/mining/start`, { method: "POST", headers: client })).status,
      200,
    );
    await waitFor(() => peer.chain.height >= 3, { timeoutMs: 30_000, what: "3 gossiped blocks at the peer" });
    await fetch(`${miner.url}/api/mining/stop`, { method: "POST", headers: client });
    const m = await scrapeOf(miner);
    const p = await scrapeOf(peer);
    assert.ok((sample(m, "jbc_mining_templates_total") ?? 0) >= 3, "a template per tip at least");
    // Two jbc nodes relay blocks as compact blocks (docs/protocol.md), counted under topic "cmpct".
    assert.ok((sample(m, 'jbc_gossip_messages_total{topic="cmpct",direction="out",verdict=""}') ?? 0) >= 3);
    assert.ok(
      (sample(p, 'jbc_gossip_messages_total{topic="cmpct",direction="in",verdict="accept"}') ?? 0) >= 1,
    );
    assert.equal(sample(p, "jbc_mining_templates_total"), 0);
  } finally {
    await peer.stop();
    await miner.stop();
    rmSync(base, { recursive: true, force: true });
  }
});
