/**
 * Attack: out-of-range inputs (docs/security.md, "Inputs that answer 500"). A client sends values its
 * route's schema let through but the node cannot hold: `GET /api/records?author=…&before=9999999999:0`
 * overflowed the u32 height of the author index's key (500, a stack in the log), and `POST /mined` with
 * `"version": -1` was stored as `ffffffff`, a block other than the one sent. Every route's inputs are now
 * bounded by their schema (u32 where the store holds a u32), and a fuzzer sends schema-derived and
 * out-of-range values to every route of the OpenAPI document of a real `jbc node`: no 500, no stack.
 */
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { legacyBlock } from "../../src/api/legacy.ts";
import { encodeBlock } from "../../src/consensus/block.ts";
import { headerHash } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import { makeChain, makeChild } from "../helpers/blocks.ts";
import { tempDir } from "../helpers/chain.ts";
import { asParam, hostile, type JsonSchema, valid } from "../helpers/schema-arbitrary.ts";
import { killAll, type NodeProcess, spawnNode } from "../helpers/spawn.ts";

const tmp = tempDir("jbc-out-of-range-");
const base = makeChain(regtest, 3);
let node: NodeProcess;

before(async () => {
  // No P2P: POST /api/peers must not dial what the fuzzer makes up.
  node = await spawnNode({ name: "target", datadir: join(tmp, "node"), args: ["--no-p2p"] });
  for (const b of base.slice(1)) await node.api.submitBlock(encodeBlock(b));
});

after(async () => {
  await node?.stop();
  await killAll();
  rmSync(tmp, { recursive: true, force: true });
});

const CLIENT = { "x-jbc-client": "fuzz" };

async function get(path: string): Promise<{ status: number; body: { error?: { code: string } } }> {
  const res = await fetch(`${node.url}${path}`, { headers: CLIENT });
  return { status: res.status, body: (await res.json()) as { error?: { code: string } } };
}

async function postJson(path: string, body: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(`${node.url}${path}`, {
    method: "POST",
    headers: { ...CLIENT, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

/** Log entries of the node at error level or carrying a stack (what a 500 leaves behind). */
function logProblems(): string[] {
  return readFileSync(node.logFile, "utf8")
    .split("\n")
    .filter((line) => line.includes('"stack"') || /"level":(?:50|60)\b/.test(line))
    .map((line) => line.slice(0, 400));
}

describe("attack: out-of-range inputs", () => {
  it("a cursor past u32 is 400, not 500 with a stack in the log", async () => {
    const author = "ab".repeat(32);
    for (const cursor of ["9999999999:0", "0:9999999999", "4294967296:0"]) {
      const r = await get(`/api/records?author=${author}&before=${cursor}`);
      assert.equal(r.status, 400, `before=${cursor}`);
      assert.equal(r.body.error?.code, "BAD_REQUEST");
    }
    // The largest u32 place is a cursor like any other: the page before it.
    const top = await get(`/api/records?author=${author}&before=4294967295:4294967295`);
    assert.equal(top.status, 200);
    assert.deepEqual(logProblems(), []);
  });

  it("a height past u32 is 400; the largest u32 height is 404 (no such block)", async () => {
    assert.equal((await get("/api/blocks/4294967296")).status, 400);
    assert.equal((await get("/api/blocks/9999999999")).status, 400);
    const top = await get("/api/blocks/4294967295");
    assert.equal(top.status, 404);
    assert.equal(top.body.error?.code, "BLOCK_NOT_FOUND");
  });

  it('POST /mined with "version": -1 is refused and nothing is stored (it was stored as ffffffff)', async () => {
    const tipBefore = (await node.api.status()).tip;
    // A real block whose header version is 0xffffffff: sent as -1, it used to hash (and be stored) as that.
    const parent = base.at(-1)!;
    const block = makeChild(parent, regtest, { miner: "wraps", version: 0xffffffff });
    const hash = headerHash(block.header);
    const json = { ...legacyBlock(4, hash, block), version: -1 };
    const r = await postJson("/mined", json);
    assert.equal(r.status, 400, r.text);
    assert.match(r.text, /BAD_REQUEST/);
    assert.deepEqual((await node.api.status()).tip, tipBefore);
    assert.equal((await get(`/api/blocks/${hash}`)).status, 404, "the block is not stored");
    // Out-of-range header fields and record fields are refused by the schema too.
    for (const [field, value] of [
      ["version", 2 ** 32],
      ["nonce", "4294967296"],
      ["timestamp", -5],
      ["index", 2 ** 53],
    ] as const) {
      const bad = await postJson("/mined", { ...legacyBlock(4, hash, block), [field]: value });
      assert.equal(bad.status, 400, `${field} = ${value}: ${bad.text}`);
    }
    const records = legacyBlock(4, hash, block).records;
    const miner = { ...records[0]!, extraNonce: "18446744073709551616" };
    assert.equal(
      (await postJson("/mined", { ...legacyBlock(4, hash, block), records: [miner] })).status,
      400,
    );
    assert.deepEqual((await node.api.status()).tip, tipBefore);
    assert.deepEqual(logProblems(), []);
  });

  it("every route of the OpenAPI document, fuzzed with schema-derived and out-of-range values: no 500, no stack", async (t) => {
    const doc = (await (await fetch(`${node.url}/api/openapi.json`)).json()) as {
      paths: Record<string, Record<string, Operation>>;
    };
    const ops = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({ path, method: method.toUpperCase(), op })),
    );
    assert.ok(ops.length >= 20, `the document lists ${ops.length} operations`);
    const seen = new Map<string, Set<number>>();
    const failures: string[] = [];
    for (const { path, method, op } of ops) {
      const statuses = new Set<number>();
      seen.set(`${method} ${path}`, statuses);
      const inputs = (op.parameters?.length ?? 0) + (op.requestBody ? 1 : 0);
      // Every route is fuzzed even when one fails, so a failure lists them all.
      const result = await fc.check(
        fc.asyncProperty(requestFor(path, method, op), async (req) => {
          const { status, text } = await send(req);
          statuses.add(status);
          assert.ok(
            status < 500 || (status === 503 && EXPECTED_503.test(text)),
            `${req.method} ${req.url} ${req.body === undefined ? "" : describeBody(req.body)}\n→ ${status} ${text.slice(0, 300)}`,
          );
        }),
        // Routes without inputs need few runs; with inputs, enough to reach the edges of each.
        { numRuns: inputs ? RUNS : 5, endOnFailure: true },
      );
      if (result.failed) failures.push(`${method} ${path}: ${fc.defaultReportMessage(result)}`);
    }
    for (const [route, statuses] of seen) t.diagnostic(`${route}: ${[...statuses].sort().join(", ")}`);
    assert.deepEqual(failures, []);
    // The miner may have been started by the fuzzer: stop it before the node is stopped.
    await node.api.stopMining();
    const health = await fetch(`${node.url}/api/health`);
    assert.equal(health.status, 200, "the node still serves");
    assert.deepEqual(logProblems(), []);
    // The fuzzer reached past the schemas (refusals) and through them (answers) on the routes with inputs.
    for (const key of ["GET /api/blocks", "GET /api/records", "GET /api/mempool", "POST /mined"]) {
      const s = [...(seen.get(key) ?? [])];
      assert.ok(s.includes(400), `${key}: a refusal among ${s}`);
    }
  });
});

/** Requests per route with inputs (JBC_FUZZ_RUNS to hunt longer). */
const RUNS = Number(process.env["JBC_FUZZ_RUNS"] ?? 80);

/** Refusals a busy or partial node gives by design (docs/api.md, "Errors"). */
const EXPECTED_503 =
  /P2P_DISABLED|MINING_UNAVAILABLE|P2P_STARTING|MEMPOOL_FULL|TOO_MANY_DOWNLOADS|TOO_MANY_STREAMS|BUSY|NOT_READY|RECORDS_UNAVAILABLE|WITNESS_UNAVAILABLE/;

interface Operation {
  parameters?: Array<{ name: string; in: "path" | "query"; required?: boolean; schema: JsonSchema }>;
  requestBody?: { content: Record<string, { schema: JsonSchema }> };
}

interface FuzzRequest {
  method: string;
  url: string;
  contentType?: string;
  body?: string | Uint8Array;
}

function describeBody(body: string | Uint8Array): string {
  return typeof body === "string" ? body.slice(0, 300) : `<${body.length} bytes>`;
}

/** A request to one operation: each parameter and the body valid or hostile, optional ones sometimes absent. */
function requestFor(path: string, method: string, op: Operation): fc.Arbitrary<FuzzRequest> {
  const value = (s: JsonSchema) => fc.oneof(valid(s), hostile(s)).map(asParam);
  const pathParams: Record<string, fc.Arbitrary<string>> = {};
  const queryParams: Record<string, fc.Arbitrary<string | null>> = {};
  // Raw escapes no encoder would write: a URL that does not decode, a NUL, a lone surrogate's bytes.
  const rawEscape = fc.constantFrom("%ff", "%", "%E0%A4%A", "%ED%A0%80", "%00", "..%2f..%2f");
  for (const p of op.parameters ?? []) {
    if (p.in === "path")
      pathParams[p.name] = fc.oneof(
        { arbitrary: value(p.schema).map((v) => encodeURIComponent(v.toWellFormed())), weight: 9 },
        { arbitrary: rawEscape, weight: 1 },
      );
    else queryParams[p.name] = p.required ? value(p.schema) : fc.option(value(p.schema));
  }
  const bodies: Array<fc.Arbitrary<{ contentType: string; body: string | Uint8Array }>> = [];
  for (const [type, { schema }] of Object.entries(op.requestBody?.content ?? {})) {
    if (type === "application/json") {
      bodies.push(
        fc
          .oneof(valid(schema), hostile(schema))
          .map((v) => ({ contentType: type, body: JSON.stringify(v) ?? "" })),
        fc.string({ maxLength: 40 }).map((s) => ({ contentType: type, body: s })),
      );
    } else {
      bodies.push(fc.uint8Array({ maxLength: 2048 }).map((b) => ({ contentType: type, body: b })));
    }
  }
  // Routes without a body schema still get one sometimes: a body they did not ask for must not hurt.
  if (method === "POST" && bodies.length === 0)
    bodies.push(
      fc
        .jsonValue({ maxDepth: 2 })
        .map((v) => ({ contentType: "application/json", body: JSON.stringify(v) })),
    );
  const body = bodies.length
    ? fc.option(fc.oneof(...bodies), { freq: method === "POST" ? 8 : 2 })
    : fc.constant(null);
  return fc.record({ path: fc.record(pathParams), query: fc.record(queryParams), body }).map((r) => {
    let url = path.replace(/\{(\w+)\}/g, (_, name: string) => r.path[name] ?? "");
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(r.query)) if (v !== null) q.set(k, v);
    if ([...q].length) url += `?${q}`;
    return {
      method,
      url,
      ...(r.body ? { contentType: r.body.contentType, body: r.body.body } : {}),
    };
  });
}

async function send(req: FuzzRequest): Promise<{ status: number; text: string }> {
  const res = await fetch(`${node.url}${req.url}`, {
    method: req.method,
    headers: { ...CLIENT, ...(req.contentType ? { "content-type": req.contentType } : {}) },
    ...(req.body !== undefined && req.method !== "GET" ? { body: req.body } : {}),
    signal: AbortSignal.timeout(20_000),
  });
  // Streams (events, the chain dump) answer 200 and go on: their status is all that is needed.
  if (
    res.ok &&
    /event-stream|json/.test(res.headers.get("content-type") ?? "") &&
    /events|blockchain/.test(req.url)
  ) {
    await res.body?.cancel();
    return { status: res.status, text: "" };
  }
  return { status: res.status, text: await res.text() };
}
