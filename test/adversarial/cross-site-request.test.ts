/**
 * Attack: a cross-site request (docs/security.md, "A web page driving a local node"). Any page the node's
 * owner opens can make the browser send requests to 127.0.0.1: a `text/plain` POST, a form, an image. The
 * API exempted loopback from its token and checked neither `Origin` nor anything else, so a page on
 * `http://evil.example` started and stopped mining (200). Now a request from another origin's page is
 * refused (403 CROSS_ORIGIN), and a POST must carry the token, the `X-JBC-Client` header or a JSON /
 * octet-stream body, none of which a page can send across sites without a preflight the API never grants.
 * jbc's own clients, curl with the header and the node's own explorer keep working.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { rmSync } from "node:fs";
import { createServer } from "node:http";
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
const tmp = tempDir("jbc-cross-site-");
const EVIL = "http://evil.example";
let node: NodeProcess;
let host: string;

before(async () => {
  ensureExplorerBuilt();
  node = await spawnNode({ name: "victim", datadir: join(tmp, "node"), args: ["--no-p2p"] });
  host = new URL(node.url).host;
  for (const b of makeChain(regtest, 3).slice(1)) await node.api.submitBlock(encodeBlock(b));
});

after(async () => {
  await node?.stop();
  await killAll();
  rmSync(tmp, { recursive: true, force: true });
});

/**
 * The attacker's page: what it can try from another origin, its findings in `window.results`, and a form
 * POST (`submitForm()`) that navigates to whatever the node answers.
 */
function attackPage(nodeUrl: string): string {
  return `<!doctype html><title>cute cats</title><p>cats</p>
<script>
const node = ${JSON.stringify(nodeUrl)};
async function attempt(f) {
  try { return await f(); } catch (err) { return "blocked: " + err; }
}
(async () => {
  const out = {};
  // A simple request: no preflight; the answer is opaque, but the request reaches the node.
  out.simple = await attempt(async () =>
    (await fetch(node + "/api/mining/start", { method: "POST", mode: "no-cors", body: "" })).type);
  // The client header needs a preflight, which the node never grants.
  out.withHeader = await attempt(async () =>
    String((await fetch(node + "/api/mining/start", { method: "POST", headers: { "X-JBC-Client": "evil" } })).status));
  out.read = await attempt(async () => (await fetch(node + "/api/status")).text());
  window.results = out;
})();
function submitForm() {
  const form = document.createElement("form");
  form.method = "POST";
  form.enctype = "text/plain";
  form.action = node + "/api/mining/start";
  document.body.append(form);
  form.submit();
}
</script>`;
}

const mining = async (): Promise<boolean> => (await node.api.status()).mining.running;

/** Headers Chromium sends with a page's `fetch(url, { method: "POST", mode: "no-cors", body: "" })`. */
const simplePost = (origin: string): Record<string, string> => ({
  host,
  origin,
  "content-type": "text/plain;charset=UTF-8",
  "sec-fetch-site": "cross-site",
  "sec-fetch-mode": "no-cors",
  "sec-fetch-dest": "empty",
});

describe("attack: cross-site request", () => {
  it("the attack as Chromium sends it: a text/plain POST from http://evil.example is 403, mining stays off", async () => {
    const r = await rawRequest(node.url, "POST", "/api/mining/start", simplePost(EVIL), "");
    assert.equal(r.status, 403, r.text);
    assert.equal(r.code, "CROSS_ORIGIN");
    assert.equal(await mining(), false);
    // Stop too: the same request must not turn off a miner the owner started.
    await node.api.startMining();
    const stop = await rawRequest(node.url, "POST", "/api/mining/stop", simplePost(EVIL), "");
    assert.equal(stop.status, 403);
    assert.equal(await mining(), true);
    await node.api.stopMining();
  });

  it("every way a page may dress it is refused, and changes nothing", async () => {
    const before = await node.api.mempool();
    const cases: Array<[string, string, string, Record<string, string>, string]> = [
      // [what, method, path, headers, expected code]
      ["an older browser: Origin only", "POST", "/api/mining/start", { host, origin: EVIL }, "CROSS_ORIGIN"],
      [
        "Origin stripped (an extension, a proxy): no proof of a client",
        "POST",
        "/api/mining/start",
        { host, "content-type": "text/plain" },
        "CLIENT_HEADER_REQUIRED",
      ],
      [
        "a form, url-encoded",
        "POST",
        "/api/mining/start",
        { host, "content-type": "application/x-www-form-urlencoded" },
        "CLIENT_HEADER_REQUIRED",
      ],
      [
        "a sandboxed frame: Origin null",
        "POST",
        "/api/mining/start",
        { host, origin: "null" },
        "CROSS_ORIGIN",
      ],
      [
        "another port of this machine (same site, other origin)",
        "POST",
        "/api/mining/start",
        { host, origin: "http://127.0.0.1:1", "x-jbc-client": "page" },
        "CROSS_ORIGIN",
      ],
      [
        "a record as text/plain",
        "POST",
        "/api/records",
        { ...simplePost(EVIL), "content-type": "text/plain" },
        "CROSS_ORIGIN",
      ],
      [
        "a blind read: <img src=/blockchain.json> (no Origin on a no-cors GET)",
        "GET",
        "/blockchain.json",
        { host, "sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors", "sec-fetch-dest": "image" },
        "CROSS_ORIGIN",
      ],
      [
        "a cross-origin read with fetch()",
        "GET",
        "/api/status",
        { host, origin: EVIL, "sec-fetch-site": "cross-site", "sec-fetch-mode": "cors" },
        "CROSS_ORIGIN",
      ],
    ];
    for (const [what, method, path, headers, code] of cases) {
      const r = await rawRequest(
        node.url,
        method,
        path,
        headers,
        method === "POST" ? '{"data":"x"}' : undefined,
      );
      assert.equal(r.status, 403, `${what}: ${r.status} ${r.text}`);
      assert.equal(r.code, code, what);
    }
    assert.equal(await mining(), false);
    assert.equal((await node.api.mempool()).count, before.count, "no record was admitted");
  });

  it("a link from another site to the explorer still opens it (a GET navigation)", async () => {
    const r = await rawRequest(node.url, "GET", "/", {
      host,
      "sec-fetch-site": "cross-site",
      "sec-fetch-mode": "navigate",
      "sec-fetch-dest": "document",
    });
    assert.equal(r.status, 200);
    assert.match(r.text, /<html|<!doctype/i);
  });

  it("jbc's clients keep working from loopback: ApiClient, `jbc record add`, curl with the header, a JSON body", async () => {
    await node.api.startMining(); // the ApiClient sends X-JBC-Client
    assert.equal(await mining(), true);
    await node.api.stopMining();
    assert.equal(await mining(), false);
    const curl = await rawRequest(node.url, "POST", "/api/mining/stop", { host, "x-jbc-client": "curl" });
    assert.equal(curl.status, 200, curl.text);
    const json = await rawRequest(
      node.url,
      "POST",
      "/api/records",
      { host, "content-type": "application/json" },
      '{"data":"from a script"}',
    );
    assert.equal(json.status, 202, json.text);
    const cli = await run(process.execPath, [BIN, "record", "add", "--url", node.url, "from the cli"], {
      timeout: 30_000,
    });
    assert.match(cli.stdout, /[0-9a-f]{64}/);
  });

  it("in Chromium: a page on http://evil.example cannot start mining nor read the API; the explorer works", async () => {
    // The attacker's site: a real server, reached by the name evil.example (mapped to this machine, so
    // that Chromium's checks of requests from public to local addresses, which not every browser makes,
    // stay out of the way: the node must refuse the page whatever the browser).
    const site = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end(attackPage(node.url));
    });
    await new Promise<void>((resolve) => site.listen(0, "127.0.0.1", resolve));
    const evil = `${EVIL}:${(site.address() as AddressInfo).port}`;
    const browser = await launchBrowser(undefined, ["--host-resolver-rules=MAP evil.example 127.0.0.1"]);
    try {
      const { context } = browser;
      const page = await context.newPage();
      await page.goto(`${evil}/`);
      const results = (
        await page.waitForFunction("window.results", undefined, { timeout: 15_000 })
      ).jsonValue();
      const r = (await results) as Record<string, string>;
      assert.equal(r["simple"], "opaque", "the simple request was sent");
      assert.match(r["withHeader"]!, /^blocked/);
      assert.match(r["read"]!, /^blocked/);
      // A form POST navigates the page to the node's answer: the refusal, shown to the test, not the page.
      await Promise.all([page.waitForURL(`${node.url}/api/mining/start`), page.evaluate("submitForm()")]);
      assert.match((await page.textContent("body")) ?? "", /CROSS_ORIGIN/);
      // Give any request still in flight time to land, then: the miner never started.
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(await mining(), false);

      // The node's own explorer, same origin, is unaffected, by address and by localhost.
      for (const base of [node.url, node.url.replace("127.0.0.1", "localhost")]) {
        const explorer = await context.newPage();
        await explorer.goto(`${base}/`);
        await explorer.waitForSelector("[data-testid=connection][data-state=live]", { timeout: 15_000 });
        await waitFor(
          async () => {
            // Earlier tests mined: the tip is wherever the miner stopped.
            const height = String((await node.api.status()).tip.height);
            const shown = await explorer.textContent("[data-testid=tile-height] .tile-value").catch(() => "");
            return (shown ?? "").replace(/\D/g, "") === height;
          },
          { timeoutMs: 15_000, what: `the explorer at ${base} to show the node's height` },
        );
        await explorer.close();
      }
    } finally {
      await browser.close();
      site.close();
    }
  });
});
