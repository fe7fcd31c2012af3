/**
 * The browser half of the light-client benchmark (issue 18, "Numbers"): 100,000 devnet headers checked
 * from genesis in Chromium, in a Web Worker as the explorer checks them (web/src/light/worker.ts), with
 * the package root bundled by Vite (the same src/light and src/consensus, SHA-256 from @noble: a browser
 * has no node:crypto). A loopback HTTP server serves the page, the bundle and the fixture's bytes.
 *
 * `npm run bench:light-web` runs it alone (last line: one JSON object); `npm run bench:light` runs it
 * after its own figures and puts these in its JSON line (BENCH_LIGHT_BROWSER=0 skips it there).
 */
import { existsSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { chromium } from "playwright-core";
import { browserBundle } from "../test/helpers/browser-bundle.ts";
import { median } from "./stats.ts";

const CHROMIUM = process.env["JBC_CHROMIUM"] ?? "/usr/bin/chromium";

/** Browser figures: the median of 3 timed runs after a warm-up, and each run. */
export interface BrowserFigures {
  browser_verify_100k_ms: number;
  browser_headers_per_s: number;
  browser_runs_ms: number[];
  browser: string;
}

// The worker: fetch the fixture, then check it from genesis 4 times (the first is the warm-up).
const WORKER = `
importScripts("/jbc.js");
onmessage = async (e) => {
  // "easy": devnet's rules with regtest's genesis bits and limit (bench/light.ts's year of headers).
  const params = e.data === "easy"
    ? jbc.defineNetwork({
        ...jbc.devnet,
        genesis: { ...jbc.devnet.genesis, header: { ...jbc.devnet.genesis.header, bits: 0x207fffff } },
        powLimit: jbc.bitsToTarget(0x207fffff),
      })
    : jbc.devnet;
  const bytes = new Uint8Array(await (await fetch("/headers")).arrayBuffer());
  const headers = jbc.splitHeaders(bytes);
  const n = headers.length;
  const runs = [];
  for (let k = 0; k < 4; k++) {
    const t = performance.now();
    const c = new jbc.LightClient(params, { now: () => Number.MAX_SAFE_INTEGER });
    for (let i = 0; i < n; i += 2000) {
      const r = c.add("fixture", headers.slice(i, i + 2000), { from: i + 1 });
      if (r.fault) { postMessage({ error: r.fault.reason }); return; }
    }
    if (c.best.height !== n) { postMessage({ error: "not every header joined" }); return; }
    runs.push(performance.now() - t);
  }
  postMessage({ runs: runs.slice(1) });
};`;

const PAGE = `<!doctype html><title>bench</title><script>
window.result = new Promise((resolve) => {
  const w = new Worker("/worker.js");
  w.onmessage = (e) => resolve(e.data);
  w.onerror = (e) => resolve({ error: e.message });
  w.postMessage(new URLSearchParams(location.search).get("fixture"));
});
</script>`;

/** Checks `fixture` (80-byte devnet headers from height 1, concatenated) in Chromium; the figures. */
export async function browserVerify(
  fixture: Uint8Array,
  log: (s: string) => void,
  opts: { easy?: boolean } = {},
): Promise<BrowserFigures> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM} (set JBC_CHROMIUM)`);
  const n = fixture.length / 80;
  const code = await browserBundle("src/index.ts", "jbc", { minify: true });
  const files: Record<string, [string, string | Uint8Array]> = {
    "/": ["text/html", PAGE],
    "/jbc.js": ["text/javascript", code],
    "/worker.js": ["text/javascript", WORKER],
    "/headers": ["application/octet-stream", fixture],
  };
  const server = createServer((req, res) => {
    const f = files[(req.url ?? "").split("?")[0]!];
    if (!f) return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": f[0] });
    res.end(f[1]);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
  });
  try {
    const page = await browser.newPage();
    const q = opts.easy ? "?fixture=easy" : "";
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/${q}`);
    const r = (await page.evaluate("window.result")) as { runs?: number[]; error?: string };
    if (!r.runs) throw new Error(`browser: ${r.error}`);
    const ms = median(r.runs);
    log(
      `browser (Chromium ${browser.version()}, Web Worker, @noble SHA-256): ${n} ${opts.easy ? "devnet-rule headers at regtest's limit" : "devnet headers"} from genesis in ${ms.toFixed(0)} ms (${Math.round(n / (ms / 1000))} headers/s; runs ${r.runs.map((x) => x.toFixed(0)).join(", ")} ms)`,
    );
    return {
      browser_verify_100k_ms: Math.round(ms),
      browser_headers_per_s: Math.round(n / (ms / 1000)),
      browser_runs_ms: r.runs.map((x) => Math.round(x)),
      browser: `Chromium ${browser.version()}`,
    };
  } finally {
    await browser.close();
    server.close();
  }
}

/**
 * 100,000 headers under devnet's rules (ASERT anchored at block 1, 5 s, median time) with regtest's genesis
 * bits and limit, about 2 hashes each: what BENCH_LIGHT_WEB_FIXTURE=easy checks when mining the real
 * fixture (6.6e9 hashes) is not possible on a loaded machine. A header's checks cost the same either way.
 */
async function easyHeaders(n: number): Promise<Uint8Array> {
  const { bitsToTarget } = await import("../src/consensus/compact.ts");
  const { anchorFromBlockOne, requiredBits } = await import("../src/consensus/difficulty.ts");
  const { sha256d } = await import("../src/consensus/hash.ts");
  const { encodeHeader, hashToBigInt } = await import("../src/consensus/header.ts");
  const { defineNetwork, devnet } = await import("../src/consensus/params.ts");
  const { buildBlock } = await import("../src/consensus/template.ts");
  const easy = defineNetwork({
    ...devnet,
    genesis: { ...devnet.genesis, header: { ...devnet.genesis.header, bits: 0x207fffff } },
    powLimit: bitsToTarget(0x207fffff)!,
  });
  const out = new Uint8Array(n * 80);
  let prev = sha256d(encodeHeader(easy.genesis.header));
  let prevTime = easy.genesis.header.time;
  const anchor = anchorFromBlockOne(0x207fffff, prevTime + easy.targetSpacing, easy.targetSpacing);
  for (let h = 1; h <= n; h++) {
    const time = prevTime + easy.targetSpacing;
    const bits = requiredBits(easy, h - 1, prevTime, () => anchor);
    const b = buildBlock({ prevHash: prev, height: h, bits, time, miner: "y" });
    const target = bitsToTarget(bits)!;
    let raw = encodeHeader(b.header);
    for (let nonce = 0; hashToBigInt(sha256d(raw)) > target; nonce++)
      raw = encodeHeader({ ...b.header, nonce });
    out.set(raw, (h - 1) * 80);
    prev = sha256d(raw);
    prevTime = time;
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { devnetHeaderFixture } = await import("./light-fixture.ts");
  const { useNativeCrypto } = await import("../src/node/crypto.ts");
  const { loadavg } = await import("node:os");
  useNativeCrypto();
  const load0 = loadavg()[0]!;
  const log = (s: string): void => console.log(s);
  const easy = process.env["BENCH_LIGHT_WEB_FIXTURE"] === "easy";
  const fixture = easy ? await easyHeaders(100_000) : devnetHeaderFixture(100_000, log);
  const figures = await browserVerify(fixture, log, { easy });
  console.log(
    JSON.stringify({
      headers: 100_000,
      fixture: easy ? "devnet rules, regtest limit" : "devnet",
      ...figures,
      loadavg1_start: load0,
      loadavg1_end: loadavg()[0],
    }),
  );
}
