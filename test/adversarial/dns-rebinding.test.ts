/**
 * Attack: DNS rebinding (docs/security.md, "A web page driving a local node"). A page on a name the
 * attacker controls (`rebind.example`) has its name re-pointed at 127.0.0.1 after it loaded; the browser
 * then treats the node's answers as the page's own origin, so the page reads the API (every block, the
 * mempool, the peers) and, sending anything a same-origin page may send, changes the node. The node
 * answered whatever `Host` it was sent. Now it answers only IP addresses, `localhost` and the names the
 * operator lists (`--api-hosts`, a config file's `api-hosts`, `JBC_API_HOSTS`): 403 HOST_NOT_ALLOWED on
 * every route, files and 404s included, before anything is read.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { encodeBlock } from "../../src/consensus/block.ts";
import { regtest } from "../../src/consensus/params.ts";
import { makeChain } from "../helpers/blocks.ts";
import { tempDir } from "../helpers/chain.ts";
import { rawRequest } from "../helpers/http.ts";
import { killAll, type NodeProcess, spawnNode } from "../helpers/spawn.ts";
import { waitFor } from "../helpers/wait.ts";
import { ensureExplorerBuilt, launchBrowser } from "../web/harness.ts";

const run = promisify(execFile);
const BIN = new URL("../../bin/jbc.mjs", import.meta.url).pathname;
const tmp = tempDir("jbc-rebinding-");
const chain = makeChain(regtest, 3).slice(1);
let node: NodeProcess;
let port: string;

before(async () => {
  ensureExplorerBuilt();
  node = await spawnNode({ name: "victim", datadir: join(tmp, "node"), args: ["--no-p2p"] });
  port = new URL(node.url).port;
  for (const b of chain) await node.api.submitBlock(encodeBlock(b));
});

after(async () => {
  await node?.stop();
  await killAll();
  rmSync(tmp, { recursive: true, force: true });
});

const mining = async (n: NodeProcess): Promise<boolean> => (await n.api.status()).mining.running;
const AUTHOR = "ab".repeat(32);

/** Every kind of thing the node serves: API reads, streams, files, the reference, metrics, a 404. */
const READS = [
  "/api/status",
  "/api/blocks",
  `/api/records?author=${AUTHOR}`,
  "/api/mempool",
  "/api/events",
  "/blockchain.json",
  "/metrics",
  "/api/docs",
  "/api/openapi.json",
  "/",
  "/no/such/page.txt",
];

describe("attack: DNS rebinding", () => {
  it("a rebound name reads nothing and changes nothing: every route answers 403 HOST_NOT_ALLOWED", async () => {
    for (const host of [
      `rebind.example:${port}`,
      "rebind.example",
      `REBIND.Example:${port}`,
      `rebind.example.:${port}`,
      `127.0.0.1.rebind.example:${port}`,
      `localhost.rebind.example:${port}`,
      `127.0.0.1@rebind.example:${port}`,
      `rebind.example:${port}/x`,
    ]) {
      for (const path of READS) {
        const r = await rawRequest(node.url, "GET", path, { host });
        assert.equal(r.status, 403, `Host ${host}, GET ${path}: ${r.status} ${r.text.slice(0, 200)}`);
        assert.equal(r.code, "HOST_NOT_ALLOWED");
        assert.doesNotMatch(r.text, /"tip"|"blocks"|jbc_/, "nothing of the node's state in the refusal");
      }
    }
    // What a same-origin page may send (the client header included, no preflight needed) changes nothing.
    const host = `rebind.example:${port}`;
    const origin = `http://${host}`;
    for (const path of ["/api/mining/start", "/api/records", "/api/peers"]) {
      const r = await rawRequest(
        node.url,
        "POST",
        path,
        { host, origin, "x-jbc-client": "page", "content-type": "application/json" },
        '{"data":"rebound","addr":"127.0.0.1:1"}',
      );
      assert.equal(r.status, 403, `POST ${path}: ${r.text}`);
      assert.equal(r.code, "HOST_NOT_ALLOWED");
    }
    assert.equal(await mining(node), false);
    assert.equal((await node.api.mempool()).count, 0);
  });

  it("IP addresses and localhost are answered (jbc, curl and the explorer by address keep working)", async () => {
    for (const host of [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      "localhost",
      `[::1]:${port}`,
      `node.localhost:${port}`,
    ]) {
      const r = await rawRequest(node.url, "GET", "/api/status", { host });
      assert.equal(r.status, 200, `Host ${host}: ${r.text}`);
    }
    // A client that sends no Host at all (HTTP/1.0) is no page: a browser always sends one.
    const r = await rawRequest(node.url, "GET", "/api/health", {});
    assert.equal(r.status, 200);
    const status = await run(process.execPath, [BIN, "status", "--url", `http://localhost:${port}`], {
      timeout: 30_000,
    });
    assert.match(status.stdout, /3/);
  });

  it("--api-hosts, from a flag, a config file or the environment, adds names; others are still refused", async () => {
    const config = join(tmp, "node.toml");
    writeFileSync(config, 'api-hosts = ["node.example", "*.lan"]\n');
    const printed = await run(process.execPath, [BIN, "config", "print", "--config", config], {
      timeout: 30_000,
    });
    assert.match(printed.stdout, /api-hosts\s+node\.example,\*\.lan\s+file/);
    const fromEnv = await run(process.execPath, [BIN, "config", "print"], {
      timeout: 30_000,
      env: { ...process.env, JBC_API_HOSTS: "a.example,b.example" },
    });
    assert.match(fromEnv.stdout, /api-hosts\s+a\.example,b\.example\s+env/);
    await assert.rejects(
      run(process.execPath, [BIN, "config", "print", "--api-hosts", "not a host!"], { timeout: 30_000 }),
      (err: { code?: number; stderr?: string }) => err.code === 2 && /not a host name/.test(err.stderr ?? ""),
    );

    const named = await spawnNode({
      name: "named",
      datadir: join(tmp, "named"),
      args: ["--no-p2p", "--config", config],
    });
    try {
      const p = new URL(named.url).port;
      for (const [host, status] of [
        [`node.example:${p}`, 200],
        [`NODE.example.:${p}`, 200],
        [`box.lan:${p}`, 200],
        [`a.b.lan:${p}`, 200],
        [`lan:${p}`, 403],
        [`rebind.example:${p}`, 403],
        [`node.example.rebind.example:${p}`, 403],
      ] as const) {
        const r = await rawRequest(named.url, "GET", "/api/status", { host });
        assert.equal(r.status, status, `Host ${host}: ${r.text}`);
      }
    } finally {
      await named.stop();
    }
  });

  it("in Chromium: a page whose name rebinds to the node can neither read it nor start mining", async () => {
    // rebind.example leads to the attacker's server (on this machine, so that Chromium's checks of
    // requests from public to local addresses, which not every browser makes, stay out of the way). Its
    // first answer is the attack page; then the name "rebinds": every later request of the page goes to the
    // node as the browser sent it, Host, Origin and Sec-Fetch-* untouched, as after a real DNS rebinding.
    let rebound = false;
    const rebinder = createServer((req, res) => {
      if (!rebound) {
        rebound = true;
        res.writeHead(200, { "content-type": "text/html", "cache-control": "no-store", connection: "close" });
        res.end(rebindingPage());
        return;
      }
      const upstream = request(
        { host: "127.0.0.1", port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on("error", () => res.destroy());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => rebinder.listen(0, "127.0.0.1", resolve));
    const browser = await launchBrowser(undefined, ["--host-resolver-rules=MAP rebind.example 127.0.0.1"]);
    try {
      const page = await browser.context.newPage();
      await page.goto(`http://rebind.example:${(rebinder.address() as AddressInfo).port}/`);
      const found = (await (
        await page.waitForFunction("window.results", undefined, { timeout: 15_000 })
      ).jsonValue()) as Record<string, string>;
      assert.match(found["status"]!, /^403 .*HOST_NOT_ALLOWED/, `read: ${found["status"]}`);
      assert.match(found["chain"]!, /^403 /, `read: ${found["chain"]}`);
      assert.match(found["mine"]!, /^403 .*HOST_NOT_ALLOWED/, `mining: ${found["mine"]}`);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await mining(node), false);
    } finally {
      await browser.close();
      rebinder.close();
    }
  });

  it("in Chromium: the explorer reached by a listed name works", async () => {
    const named = await spawnNode({
      name: "named-explorer",
      datadir: join(tmp, "named-explorer"),
      args: ["--no-p2p", "--api-hosts", "node.example"],
    });
    const browser = await launchBrowser(undefined, ["--host-resolver-rules=MAP node.example 127.0.0.1"]);
    try {
      for (const b of chain) await named.api.submitBlock(encodeBlock(b));
      const page = await browser.context.newPage();
      await page.goto(`http://node.example:${new URL(named.url).port}/`);
      await page.waitForSelector("[data-testid=connection][data-state=live]", { timeout: 15_000 });
      await waitFor(
        async () => /\b3\b/.test((await page.textContent("[data-testid=tile-height] .tile-value")) ?? ""),
        { timeoutMs: 15_000, what: "the explorer by name to show height 3" },
      );
    } finally {
      await browser.close();
      await named.stop();
    }
  });
});

/** The rebinding page: after the name points at the node, same-origin requests reach it. */
function rebindingPage(): string {
  return `<!doctype html><title>cute cats</title><p>cats</p>
<script>
async function ask(path, init) {
  try {
    const r = await fetch(path, init);
    return r.status + " " + (await r.text()).slice(0, 300);
  } catch (err) { return "failed: " + err; }
}
(async () => {
  const out = {};
  out.status = await ask("/api/status");
  out.chain = await ask("/blockchain.json");
  // Same origin for the browser: the client header needs no preflight here. Only Host can tell.
  out.mine = await ask("/api/mining/start", { method: "POST", headers: { "X-JBC-Client": "page" } });
  window.results = out;
})();
</script>`;
}
