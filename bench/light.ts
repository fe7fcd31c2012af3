/**
 * Light-client benchmark (`npm run bench:light`, docs/benchmarks.md "Light client (issue 18)"):
 *
 * 1. Verify 100,000 real devnet headers from genesis (bench/light-fixture.ts: mined once, cached): in
 *    this process (LightClient.add, batches of 2,000, the median of 3 runs), and through the CLI, `jbc
 *    headers sync` against a real HTTP server serving them as a node does (GET /api/headers, /raw):
 *    the command's own figure and the process's wall time, start-up included.
 * 2. A proof buried under 1,000 blocks: the record in block 99,000 of that chain, the proof file with its
 *    headers to 100,000: bytes, offline verify time in this process (median of 21) and `jbc record verify`
 *    wall time.
 * 3. A year of devnet blocks (5 s: 6,307,200 headers) through a light client saving its state every
 *    100,000 headers: bytes on disk at each save and the process's peak RSS. The headers follow devnet's
 *    rules (ASERT anchored at block 1, 5 s, half-life 150 s, median time, checks all on) with the
 *    genesis bits and proof-of-work limit set to regtest's (about 2 hashes a header): mining a year at
 *    devnet's limit would take 4e11 hashes, and neither the bytes of a header nor the state's bound
 *    depend on the work. BENCH_LIGHT_YEAR=0 skips it.
 *
 * 4. The same 100,000 headers checked in Chromium, in a Web Worker as the explorer checks them
 *    (bench/light-web.ts; `npm run bench:light-web` runs it alone). BENCH_LIGHT_BROWSER=0 skips it.
 *
 * The machine is shared: figures move with its load (printed). The last line is one JSON object.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { bitsToTarget, blockWork } from "../src/consensus/compact.ts";
import { anchorFromBlockOne, requiredBits } from "../src/consensus/difficulty.ts";
import { sha256d } from "../src/consensus/hash.ts";
import { encodeHeader, HEADER_SIZE, hashToBigInt, hashToHex } from "../src/consensus/header.ts";
import { defineNetwork, devnet } from "../src/consensus/params.ts";
import { buildRecordProof } from "../src/consensus/proof.ts";
import { encodeRecord, recordId } from "../src/consensus/records.ts";
import { buildBlock } from "../src/consensus/template.ts";
import {
  buildProofFile,
  CONTEXT_HEADERS,
  LightClient,
  readProofFile,
  saveLightState,
  splitHeaders,
  verifyProofFile,
} from "../src/light/index.ts";
import { recordToJson } from "../src/mempool/json.ts";
import { useNativeCrypto } from "../src/node/crypto.ts";
import { devnetHeaderFixture, fixtureBlock } from "./light-fixture.ts";
import { type BrowserFigures, browserVerify } from "./light-web.ts";
import { median } from "./stats.ts";

const run = promisify(execFile);
const BIN = new URL("../bin/jbc.mjs", import.meta.url).pathname;
const N = 100_000;
const round = (x: number, d = 1): number => Number(x.toFixed(d));
const log = (s: string): void => console.log(s);

useNativeCrypto();
const load0 = loadavg()[0]!;
const fixture = devnetHeaderFixture(N, log);
const headers = splitHeaders(fixture);
const dir = mkdtempSync(join(tmpdir(), "jbc-bench-light-"));

// ------------------------------------------------------------------ 1. 100,000 headers
function verifyAll(): number {
  const t = performance.now();
  const c = new LightClient(devnet);
  for (let i = 0; i < N; i += 2000) {
    const r = c.add("fixture", headers.slice(i, i + 2000), { from: i + 1 });
    if (r.fault) throw new Error(`the fixture fails: ${r.fault.reason}`);
  }
  if (c.best.height !== N) throw new Error("not every header joined");
  return performance.now() - t;
}
verifyAll(); // warm-up
const libMs = median([verifyAll(), verifyAll(), verifyAll()]);
log(
  `library: ${N} devnet headers from genesis in ${libMs.toFixed(0)} ms (${Math.round(N / (libMs / 1000))} headers/s)`,
);

/** A node's header routes over the fixture, as src/api/handlers/headers.ts serves them. */
const tipHash = hashToHex(sha256d(headers[N - 1]!));
let chainWork = blockWork(devnet.genesis.header.bits);
for (const h of headers)
  chainWork += blockWork(new DataView(h.buffer, h.byteOffset + 72, 4).getUint32(0, true));
const server = createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://x");
  const from = Number(url.searchParams.get("from") ?? 0);
  const count = Number(url.searchParams.get("count") ?? 2000);
  const slice = (): Uint8Array => {
    const lo = Math.max(0, from - 1) * HEADER_SIZE;
    const out = new Uint8Array(from === 0 ? Math.min(count, N + 1) * HEADER_SIZE : 0);
    if (from === 0) {
      out.set(encodeHeader(devnet.genesis.header), 0);
      out.set(fixture.subarray(0, (Math.min(count, N + 1) - 1) * HEADER_SIZE), HEADER_SIZE);
      return out;
    }
    return fixture.subarray(lo, Math.min(fixture.length, lo + count * HEADER_SIZE));
  };
  if (url.pathname === "/api/headers/raw") {
    res.writeHead(200, { "content-type": "application/octet-stream" });
    res.end(slice());
  } else if (url.pathname === "/api/headers") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        network: "devnet",
        genesis: devnet.genesisHash,
        tip: { height: N, hash: tipHash, chainWork: chainWork.toString() },
        from,
        headers: [],
      }),
    );
  } else {
    res.writeHead(404);
    res.end();
  }
});
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

async function cli(args: string[]): Promise<{ ms: number; out: string }> {
  const t = performance.now();
  const r = await run(process.execPath, [BIN, ...args], { maxBuffer: 1 << 24 }).catch(
    (e: { stdout: string; stderr: string; code: number }) => {
      throw new Error(`jbc ${args.join(" ")} exited ${e.code}: ${e.stdout}${e.stderr}`);
    },
  );
  return { ms: performance.now() - t, out: r.stdout };
}

const state = join(dir, "state.json");
const syncs: Array<{ wall: number; own: number }> = [];
for (let i = 0; i < 3; i++) {
  rmSync(state, { force: true });
  const r = await cli(["headers", "sync", "--url", url, "--state", state]);
  const m = /checked (\d+) new header\(s\) in ([\d.]+) s/.exec(r.out);
  if (!m || Number(m[1]) !== N) throw new Error(`unexpected output: ${r.out}`);
  syncs.push({ wall: r.ms, own: Number(m[2]) * 1000 });
}
const cliOwnMs = median(syncs.map((s) => s.own));
const cliWallMs = median(syncs.map((s) => s.wall));
const state100kBytes = statSync(state).size;
log(
  `jbc headers sync: ${N} headers in ${cliOwnMs.toFixed(0)} ms by its own clock (HTTP included), ${cliWallMs.toFixed(0)} ms wall with the process start; state ${state100kBytes} bytes`,
);

// ------------------------------------------------------------------ 2. a proof under 1,000 blocks
const H = N - 1000;
// The fixture's blocks hold fixed records (a miner record and "light bench <height>"): rebuild them.
const records = fixtureBlock(H, new Uint8Array(32), 0).records;
const record = records[1]!;
if (record.type !== "data") throw new Error("fixture block without its data record");
const proof = buildRecordProof(headers[H - 1]!, records.map(recordId), 1, encodeRecord(records[0]!));
const from = H - CONTEXT_HEADERS;
const file = buildProofFile({
  params: devnet,
  id: hashToHex(recordId(record)),
  record: recordToJson(record),
  proof,
  from,
  headers: headers.slice(from - 1),
  blockOne: headers[0]!,
  made: { at: new Date().toISOString(), by: "bench/light.ts" },
});
const proofPath = join(dir, "proof.json");
writeFileSync(proofPath, `${JSON.stringify(file, null, 2)}\n`);
const proofBytes = statSync(proofPath).size;
const recordBytes = encodeRecord(record);
const verifyTimes: number[] = [];
for (let i = 0; i < 21; i++) {
  const t = performance.now();
  const read = readProofFile(JSON.parse(readFileSync(proofPath, "utf8")));
  if (read.kind !== "file") throw new Error("not a proof file");
  const r = verifyProofFile(devnet, read.file, recordBytes);
  verifyTimes.push(performance.now() - t);
  if (!r.valid || r.confirmations !== 1001)
    throw new Error(`proof: ${JSON.stringify(r.valid ? r.confirmations : r)}`);
}
const proofVerifyMs = median(verifyTimes.slice(1));
const verifyCli = await cli(["record", "verify", proofPath]);
if (!/^confirmed: offline, in the file, 1001 confirmation/m.test(verifyCli.out))
  throw new Error(verifyCli.out);
log(
  `proof under 1,000 blocks: ${proofBytes} bytes; offline verify ${proofVerifyMs.toFixed(1)} ms in-process (read and parse included), jbc record verify ${verifyCli.ms.toFixed(0)} ms wall`,
);
server.close();

// ------------------------------------------------------------------ 3. a year of devnet blocks
const YEAR = (365 * 86_400) / devnet.targetSpacing;
let yearSizes: number[] = [];
let yearMs = 0;
let yearRssMb = 0;
if (process.env.BENCH_LIGHT_YEAR !== "0") {
  const easy = defineNetwork({
    ...devnet,
    genesis: { ...devnet.genesis, header: { ...devnet.genesis.header, bits: 0x207fffff } },
    powLimit: bitsToTarget(0x207fffff)!,
  });
  const c = new LightClient(easy, { now: () => Number.MAX_SAFE_INTEGER });
  const yearState = join(dir, "year.json");
  let prev = sha256d(encodeHeader(easy.genesis.header));
  let prevTime = easy.genesis.header.time;
  let anchor: ReturnType<typeof anchorFromBlockOne> | undefined;
  const batch: Uint8Array[] = [];
  const t = performance.now();
  let checkT = 0;
  for (let h = 1; h <= YEAR; h++) {
    const time = prevTime + easy.targetSpacing;
    if (h === 1) anchor = anchorFromBlockOne(easy.genesis.header.bits, time, easy.targetSpacing);
    const bits = requiredBits(easy, h - 1, prevTime, () => anchor!);
    const b = buildBlock({ prevHash: prev, height: h, bits, time, miner: "y" });
    const target = bitsToTarget(bits)!;
    let header = b.header;
    for (let nonce = 0; ; nonce++) {
      header = { ...b.header, nonce };
      if (hashToBigInt(sha256d(encodeHeader(header))) <= target) break;
    }
    const raw = encodeHeader(header);
    batch.push(raw);
    prev = sha256d(raw);
    prevTime = time;
    if (batch.length === 2000 || h === YEAR) {
      const c0 = performance.now();
      const r = c.add("year", batch, { from: h - batch.length + 1 });
      checkT += performance.now() - c0;
      if (r.fault) throw new Error(r.fault.reason);
      batch.length = 0;
    }
    if (h % 100_000 === 0 || h === YEAR) {
      c.advanceTrusted();
      writeFileSync(yearState, `${JSON.stringify(saveLightState(c))}\n`);
      yearSizes.push(statSync(yearState).size);
      yearRssMb = Math.max(yearRssMb, process.memoryUsage().rss / 2 ** 20);
    }
    if (h % 1_000_000 === 0) log(`  year: ${h} headers, ${((performance.now() - t) / 1000).toFixed(0)} s`);
  }
  yearMs = checkT;
  log(
    `a year of devnet headers (${YEAR}): state ${yearSizes[yearSizes.length - 1]} bytes at the end, ${Math.min(...yearSizes)}-${Math.max(...yearSizes)} bytes at every 100,000; ${c.size} headers held, ${c.checkpoints.length} checkpoints; peak RSS ${yearRssMb.toFixed(0)} MB; checking took ${(checkT / 1000).toFixed(1)} s`,
  );
} else yearSizes = [0];
rmSync(dir, { recursive: true, force: true });

// ------------------------------------------------------------------ 4. the same headers in Chromium
const browser: BrowserFigures | Record<string, never> =
  process.env["BENCH_LIGHT_BROWSER"] === "0" ? {} : await browserVerify(fixture, log);

console.log(
  JSON.stringify({
    headers: N,
    verify_100k_ms: round(libMs, 0),
    verify_headers_per_s: Math.round(N / (libMs / 1000)),
    cli_sync_100k_ms: round(cliOwnMs, 0),
    cli_sync_100k_wall_ms: round(cliWallMs, 0),
    cli_headers_per_s: Math.round(N / (cliOwnMs / 1000)),
    state_100k_bytes: state100kBytes,
    proof_1000_bytes: proofBytes,
    proof_1000_verify_ms: round(proofVerifyMs, 1),
    proof_1000_cli_wall_ms: round(verifyCli.ms, 0),
    year_headers: YEAR,
    state_year_bytes: yearSizes[yearSizes.length - 1],
    state_year_max_bytes: Math.max(...yearSizes),
    year_check_s: round(yearMs / 1000, 1),
    year_peak_rss_mb: round(yearRssMb, 0),
    ...browser,
    loadavg1_start: round(load0, 2),
    loadavg1_end: round(loadavg()[0]!, 2),
    cores: cpus().length,
  }),
);
