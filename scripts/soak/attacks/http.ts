/**
 * The soak's HTTP attackers (issue 17): one client flooding the mempool, heavy readers, cross-site
 * requests and out-of-range inputs. Each runs until its signal and counts what the nodes answered as
 * `<what> <status> <code>`; the soak's summary checks that cross-site requests were all refused and that no
 * input answered 500.
 */
import { Agent } from "node:http";
import fc from "fast-check";
import { asParam, hostile, type JsonSchema, valid } from "../../../test/helpers/schema-arbitrary.ts";
import { call, errorCode, sleep } from "../http.ts";
import type { AttackConfig, Counts, SoakNode } from "./types.ts";

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

/** Data of `size` bytes, distinct per call. */
function payload(tag: string, size: number): Uint8Array {
  const out = new Uint8Array(size).fill(0x61);
  out.set(new TextEncoder().encode(`${tag}:${process.pid}:${Date.now()}:${Math.random()}:`));
  return out;
}

/**
 * One client (127.0.0.1, with the token, over two connections) posting records of 100 B to 60 KB at
 * `floodRps` a second, whatever the answers: it gets its share of the pool and 503 MEMPOOL_FULL after.
 */
export async function floodAttack(cfg: AttackConfig, counts: Counts, signal: AbortSignal): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 2, localAddress: "127.0.0.1" });
  const lane = async (offset: number): Promise<void> => {
    const gap = 2000 / cfg.floodRps;
    for (let i = offset; !signal.aborted; i += 2) {
      const t0 = performance.now();
      const node = cfg.nodes[i % cfg.nodes.length]!;
      const r = await call(node.url, "/api/records", {
        method: "POST",
        agent,
        headers: { "content-type": "application/octet-stream", authorization: `Bearer ${node.token}` },
        body: payload("flood", 100 + Math.floor(Math.random() * 59_900)),
        keep: 2048,
        signal,
      });
      if (signal.aborted) break;
      counts.add(`flood ${r.status} ${r.status === 202 ? "" : (errorCode(r.text) ?? r.error ?? "")}`.trim());
      await sleep(Math.max(0, gap - (performance.now() - t0)), signal);
    }
  };
  await Promise.all([lane(0), lane(1)]);
  agent.destroy();
}

/** The hash of the block with the most records among the newest 50 of `node`'s chain (undefined: none). */
async function largestBlock(node: SoakNode): Promise<string | undefined> {
  const r = await call(node.url, "/api/blocks?limit=50", { keep: 1 << 20, timeoutMs: 30_000 });
  if (r.status !== 200) return undefined;
  const page = JSON.parse(r.text) as { blocks: Array<{ hash: string; recordCount: number }> };
  return page.blocks.reduce<{ hash: string; recordCount: number } | undefined>(
    (best, b) => (best && best.recordCount >= b.recordCount ? best : b),
    undefined,
  )?.hash;
}

/**
 * `readers` clients, each reading in turn the largest recent block's view and the whole `/blockchain.json`,
 * bodies counted and dropped, `readPauseMs` between one client's reads.
 */
export async function readAttack(cfg: AttackConfig, counts: Counts, signal: AbortSignal): Promise<void> {
  const largest = new Map<string, string>();
  const refresh = async (): Promise<void> => {
    for (const node of cfg.nodes) {
      const hash = await largestBlock(node);
      if (hash) largest.set(node.name, hash);
    }
  };
  await refresh();
  const refresher = setInterval(() => void refresh(), 30_000);
  const reader = async (i: number): Promise<void> => {
    for (let n = i; !signal.aborted; n++) {
      const node = cfg.nodes[n % cfg.nodes.length]!;
      const hash = largest.get(node.name);
      const path = n % 2 === 0 && hash ? `/api/blocks/${hash}` : "/blockchain.json";
      const r = await call(node.url, path, { timeoutMs: 120_000, keep: 512, signal });
      if (signal.aborted) break;
      const what = path === "/blockchain.json" ? "read-chain" : "read-block";
      counts.add(
        `${what} ${r.status} ${r.status === 200 ? "" : (errorCode(r.text) ?? r.error ?? "")}`.trim(),
      );
      counts.add(`${what} bytes`, r.bytes);
      await sleep(cfg.readPauseMs, signal);
    }
  };
  await Promise.all(Array.from({ length: cfg.readers }, (_, i) => reader(i)));
  clearInterval(refresher);
}

const EVIL = "http://evil.example";

/** What a page on another site can make a browser send (docs/security.md): each must be refused. */
function crossSiteCases(node: SoakNode): Array<[string, string, string, Record<string, string>, string]> {
  const host = new URL(node.url).host;
  const simple = {
    host,
    origin: EVIL,
    "content-type": "text/plain;charset=UTF-8",
    "sec-fetch-site": "cross-site",
  };
  return [
    ["mining-start", "POST", "/api/mining/start", simple, ""],
    ["mining-stop", "POST", "/api/mining/stop", simple, ""],
    ["record-text", "POST", "/api/records", simple, "Alice owes Mallory"],
    ["record-no-origin", "POST", "/api/records", { host, "content-type": "text/plain" }, "Mallory was here"],
    [
      "peer-form",
      "POST",
      "/api/peers",
      { host, origin: EVIL, "content-type": "application/x-www-form-urlencoded" },
      "addr=http%3A%2F%2Fevil.example%3A1",
    ],
    ["rebinding-read", "GET", "/api/status", { host: "evil.example" }, ""],
  ];
}

/** Cross-site requests without token or client header, five a second: counted refused (403) or not. */
export async function crossSiteAttack(cfg: AttackConfig, counts: Counts, signal: AbortSignal): Promise<void> {
  for (let n = 0; !signal.aborted; n++) {
    const node = cfg.nodes[n % cfg.nodes.length]!;
    const [name, method, path, headers, body] = pick(crossSiteCases(node));
    const r = await call(node.url, path, { method, headers, ...(body ? { body } : {}), keep: 2048 });
    const verdict = r.status === 403 ? "refused" : r.status === 0 ? "no-answer" : "ACCEPTED";
    counts.add(`cross-site ${verdict}`);
    counts.add(`cross-site ${name} ${r.status} ${errorCode(r.text) ?? r.error ?? ""}`.trim());
    await sleep(200, signal);
  }
}

interface Operation {
  parameters?: Array<{ name: string; in: "path" | "query"; required?: boolean; schema: JsonSchema }>;
}

/** A GET with each parameter drawn valid or just outside its schema (test/helpers/schema-arbitrary.ts). */
function fuzzedGet(path: string, op: Operation): string {
  const draw = (s: JsonSchema): string => asParam(fc.sample(fc.oneof(valid(s), hostile(s)), 1)[0]);
  let url = path;
  const q = new URLSearchParams();
  for (const p of op.parameters ?? []) {
    if (p.in === "path") url = url.replace(`{${p.name}}`, encodeURIComponent(draw(p.schema).toWellFormed()));
    else if (p.required || Math.random() < 0.7) q.set(p.name, draw(p.schema));
  }
  return [...q].length ? `${url}?${q}` : url;
}

/** Refusals a busy node gives by design (docs/api.md, "Errors"): not a failure of input checks. */
const EXPECTED_503 = /MEMPOOL_FULL|TOO_MANY|NOT_READY|BUSY|RECORDS_UNAVAILABLE|P2P_STARTING/;

/** Inputs the issue found answering 500, and others past their bounds, that change nothing if refused. */
const FIXED: Array<[string, string, string?, string?]> = [
  ["GET", `/api/records?author=${"ab".repeat(32)}&before=9999999999:0`],
  ["GET", `/api/records?author=${"ab".repeat(32)}&before=0:4294967296`],
  ["GET", "/api/blocks/4294967296"],
  ["GET", "/api/blocks?limit=0&before=-1"],
  ["POST", "/mined", "application/json", JSON.stringify({ index: 1, version: -1, nonce: 0, records: [] })],
  ["POST", "/api/blocks", "application/octet-stream", "\u0001garbage, not a block"],
  ["POST", "/api/records", "application/json", JSON.stringify({ type: "data", data: 2 ** 53 })],
];

/**
 * Out-of-range inputs, five a second: the fixed cases above and schema-derived hostile values on every
 * parameterised GET route of the OpenAPI document (streams and the chain dump left to the readers).
 */
export async function inputAttack(cfg: AttackConfig, counts: Counts, signal: AbortSignal): Promise<void> {
  const doc = await call(cfg.nodes[0]!.url, "/api/openapi.json", { keep: 4 << 20 });
  const paths = (JSON.parse(doc.text) as { paths: Record<string, Record<string, Operation>> }).paths;
  const gets = Object.entries(paths)
    .filter(([p, m]) => m.get?.parameters?.length && !/events|blockchain/.test(p))
    .map(([p, m]) => [p, m.get!] as const);
  for (let n = 0; !signal.aborted; n++) {
    const node = cfg.nodes[n % cfg.nodes.length]!;
    const fixed = n % 2 === 0 ? pick(FIXED) : undefined;
    const [method, path, type, body] = fixed ?? ["GET", fuzzedGet(...pick(gets))];
    const r = await call(node.url, path, {
      method,
      headers: { "x-jbc-client": "soak-inputs", ...(type ? { "content-type": type } : {}) },
      ...(body !== undefined ? { body } : {}),
      keep: 2048,
      timeoutMs: 20_000,
    });
    const busy = r.status === 503 && EXPECTED_503.test(r.text);
    counts.add(`inputs ${(r.status >= 500 && !busy) || r.status === 0 ? "FAILED" : "answered"}`);
    counts.add(`inputs ${r.status} ${r.status < 300 ? "" : (errorCode(r.text) ?? r.error ?? "")}`.trim());
    await sleep(200, signal);
  }
}
