import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { regtest } from "../../src/consensus/params.ts";
import { JbcNode } from "../../src/node/node.ts";
import { waitFor } from "../helpers/wait.ts";

/** GET /api/health and GET /api/ready on real nodes, one alone and two with real libp2p between them. */

const dir = mkdtempSync(join(tmpdir(), "jbc-health-"));
const nodes: JbcNode[] = [];
after(async () => {
  for (const n of nodes) await n.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function get(node: JbcNode, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${node.url}${path}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

test("a node without P2P is alive and ready at once", async () => {
  const node = await JbcNode.create(
    { params: regtest, datadir: join(dir, "solo"), http: { port: 0 }, p2p: false },
    {},
  );
  nodes.push(node);
  const health = await get(node, "/api/health");
  assert.equal(health.status, 200);
  assert.equal(health.body["status"], "ok");
  const ready = await get(node, "/api/ready");
  assert.equal(ready.status, 200);
  assert.deepEqual(ready.body, {
    ready: true,
    checks: { store: true, p2p: true, synced: true, peers: true },
  });
});

test("a node whose configured peer is not connected is alive but not ready, until it connects", {
  timeout: 60_000,
}, async () => {
  const a = await JbcNode.create({
    params: regtest,
    datadir: join(dir, "a"),
    http: { port: 0 },
    p2p: { port: 0 },
  });
  nodes.push(a);
  // b is told about a peer that is not there: alive, not ready.
  const lonely = await JbcNode.create({
    params: regtest,
    datadir: join(dir, "lonely"),
    http: { port: 0 },
    p2p: { port: 0, peers: ["127.0.0.1:1"] },
  });
  nodes.push(lonely);
  assert.equal((await get(lonely, "/api/health")).status, 200);
  const notReady = await get(lonely, "/api/ready");
  assert.equal(notReady.status, 503);
  const error = notReady.body["error"] as { code: string; details: { checks: Record<string, boolean> } };
  assert.equal(error.code, "NOT_READY");
  assert.equal(error.details.checks["peers"], false);
  assert.equal(error.details.checks["store"], true);

  const b = await JbcNode.create({
    params: regtest,
    datadir: join(dir, "b"),
    http: { port: 0 },
    p2p: { port: 0, peers: [a.url] },
  });
  nodes.push(b);
  await waitFor(async () => (await get(b, "/api/ready")).status === 200, {
    timeoutMs: 30_000,
    what: "b to be ready",
  });
  // a had no peers configured: ready all along.
  assert.equal((await get(a, "/api/ready")).status, 200);
});
