import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { encodeBlock } from "../../src/consensus/block.ts";
import { regtest } from "../../src/consensus/params.ts";
import { JbcNode } from "../../src/node/node.ts";
import { junkMaxBlocks } from "../helpers/dos.ts";

/**
 * HTTP edge cases against a real node on 127.0.0.1 (no P2P, no miner, a small built explorer): each gets
 * its documented status and code, and every status and code answered here is in docs/api.md's table.
 */

const dir = mkdtempSync(join(tmpdir(), "jbc-api-edge-"));
let node: JbcNode;
/** Every (status, code) this file saw, checked against docs/api.md at the end. */
const seen = new Set<string>();

before(async () => {
  const web = join(dir, "web");
  mkdirSync(join(web, "assets"), { recursive: true });
  writeFileSync(join(web, "index.html"), "<!doctype html><title>x</title>");
  writeFileSync(join(web, "assets", "app.js"), "1");
  writeFileSync(join(dir, "secret"), "secret");
  node = await JbcNode.create(
    { params: regtest, datadir: join(dir, "node"), http: { port: 0 }, p2p: false, webRoot: web },
    {},
  );
});

after(async () => {
  await node?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function call(path: string, init: RequestInit = {}): Promise<{ status: number; code?: string }> {
  const res = await fetch(`${node.url}${path}`, init);
  const text = await res.text();
  let code: string | undefined;
  try {
    code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
  } catch {
    // Not JSON.
  }
  if (code) seen.add(`${res.status} ${code}`);
  return { status: res.status, ...(code ? { code } : {}) };
}

test("a 5 MB upload from fetch (no Expect: 100-continue) always gets its 413", async () => {
  const body = new Uint8Array(5 * 1024 * 1024);
  for (let i = 0; i < 20; i++) {
    const r = await call("/api/blocks", {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body,
    });
    assert.deepEqual(r, { status: 413, code: "PAYLOAD_TOO_LARGE" }, `try ${i}`);
  }
  const json = await call("/api/peers", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ addr: "x".repeat(5 * 1024 * 1024) }),
  });
  assert.deepEqual(json, { status: 413, code: "PAYLOAD_TOO_LARGE" });
});

test("a client that writes its whole oversized body before reading reads the 413", async () => {
  const { port } = new URL(node.url);
  const size = 5 * 1024 * 1024;
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), "127.0.0.1");
    let out = "";
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => {
      out += d;
    });
    socket.on("error", reject);
    socket.on("end", () => resolve(out));
    socket.write(
      `POST /api/blocks HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n`,
    );
    const chunk = Buffer.alloc(64 * 1024);
    let sent = 0;
    const pump = (): void => {
      while (sent < size) {
        sent += chunk.length;
        if (!socket.write(chunk)) {
          socket.once("drain", pump);
          return;
        }
      }
    };
    pump();
  });
  assert.match(answer, /^HTTP\/1\.1 413 /);
  assert.match(answer, /"PAYLOAD_TOO_LARGE"/);
});

test("HEAD of the event stream and of /blockchain.json answers at once, with headers only", async () => {
  for (const [path, type] of [
    ["/api/events", "text/event-stream"],
    ["/blockchain.json", "application/json"],
  ] as const) {
    const res = await fetch(`${node.url}${path}`, { method: "HEAD", signal: AbortSignal.timeout(3000) });
    assert.equal(res.status, 200, path);
    assert.ok(
      res.headers.get("content-type")?.startsWith(type),
      `${path}: ${res.headers.get("content-type")}`,
    );
    assert.equal(await res.text(), "");
  }
  // The stream itself still streams.
  const res = await fetch(`${node.url}/api/events`);
  const reader = res.body!.getReader();
  assert.match(new TextDecoder().decode((await reader.read()).value), /retry: /);
  await reader.cancel();
});

test("POST /api/peers with an address that does not parse is the caller's 400 BAD_ADDRESS", async () => {
  for (const addr of ["x", "http://[::1", "/ip4/1.2.3.4/tcp/notaport", "host:0", "a b:80", "h:80/path"]) {
    const r = await call("/api/peers", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ addr }),
    });
    assert.deepEqual(r, { status: 400, code: "BAD_ADDRESS" }, addr);
  }
  // A well-formed address reaches the node, which has no P2P here.
  for (const addr of ["127.0.0.1:6001", "http://127.0.0.1:5001", "/ip4/127.0.0.1/tcp/6001", "[::1]:6001"]) {
    const r = await call("/api/peers", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ addr }),
    });
    assert.deepEqual(r, { status: 503, code: "P2P_DISABLED" }, addr);
  }
});

test("a path that leaves the explorer's directory is 403 FORBIDDEN and reads nothing", async () => {
  for (const path of ["/assets/..%2f..%2fsecret", "/assets/%2e%2e%2f%2e%2e%2fsecret", "/..%2f..%2fsecret"]) {
    const res = await fetch(`${node.url}${path}`);
    const text = await res.text();
    assert.ok(!text.includes("secret"), path);
    assert.ok(res.status === 403 || res.status === 404, `${path}: ${res.status}`);
    if (res.status === 403)
      assert.equal((JSON.parse(text) as { error: { code: string } }).error.code, "FORBIDDEN");
    seen.add(`${res.status} ${(JSON.parse(text) as { error: { code: string } }).error.code}`);
  }
  assert.ok(seen.has("403 FORBIDDEN"), "at least one traversal reaches the file server's 403");
  assert.equal((await fetch(`${node.url}/assets/app.js`)).status, 200);
});

test("long path parameters and non-decimal numbers are 400 BAD_REQUEST", async () => {
  assert.deepEqual(await call(`/api/blocks/${"1".repeat(200)}`), { status: 400, code: "BAD_REQUEST" });
  assert.deepEqual(await call(`/api/blocks/${"a".repeat(5000)}/raw`), { status: 400, code: "BAD_REQUEST" });
  for (const q of ["0x10", "%2B5", "1e3", "1e1", "%205", "5.0", "-1", "05", "0"]) {
    assert.deepEqual(await call(`/api/blocks?limit=${q}`), { status: 400, code: "BAD_REQUEST" }, q);
    assert.deepEqual(await call(`/api/tree?depth=${q}`), { status: 400, code: "BAD_REQUEST" }, q);
  }
  assert.equal((await call("/api/blocks?limit=5&before=1")).status, 200);
  assert.equal((await call("/api/tree?depth=10")).status, 200);
  assert.equal((await call("/api/blocks/0")).status, 200);
});

test("maximum-size block submissions past 4 at once are 503 BUSY with Retry-After", async () => {
  // Junk a sender makes for nothing (docs/security.md, test/adversarial/block-submit-flood.test.ts).
  const bodies = junkMaxBlocks(regtest, 10).map((b) => encodeBlock(b));
  const answers = await Promise.all(
    bodies.map(async (body) => {
      const init = { method: "POST", headers: { "content-type": "application/octet-stream" }, body };
      return call("/api/blocks", init);
    }),
  );
  assert.ok(
    answers.some((a) => a.status === 503 && a.code === "BUSY"),
    JSON.stringify(answers),
  );
  for (const a of answers) assert.ok(a.code === "BUSY" || a.code === "HIGH_HASH", JSON.stringify(a));
});

test("every status and code answered above is in docs/api.md's error table", () => {
  const doc = readFileSync(new URL("../../docs/api.md", import.meta.url), "utf8");
  const rows = doc.split("\n").filter((l) => /^\| \d{3} \|/.test(l));
  for (const entry of seen) {
    const [status, code] = entry.split(" ");
    assert.ok(
      rows.some((r) => r.startsWith(`| ${status} |`) && r.includes(`\`${code}\``)),
      `docs/api.md has no row for ${status} ${code}`,
    );
  }
  assert.ok(seen.size >= 5, [...seen].join(", "));
});
