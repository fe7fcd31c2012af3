/**
 * One HTTP client floods the mempool while honest clients keep submitting (issue 17, "Mempool";
 * docs/benchmarks.md "Mempool under a flood"). A `jbc node --no-p2p --mempool-mb 16` process; the flooder
 * posts 60 KB records from 127.0.0.1 over 4 connections as fast as the node answers; once the pool is
 * full (the flooder's first 503), three honest clients at 127.0.0.2-4 each post a 200-byte record every
 * 100 ms for the measured window while the flood goes on. Reported: the honest clients' admission rate
 * (202 of all attempts) and latency, what the flooder holds of the pool at the end of the window, and
 * its answers in the window. Then, the flood still running, the honest clients want more too: each posts
 * 60 KB records until refused, and what each of the four sources holds is reported (the contested case:
 * max-min fairness gives each a quarter).
 *
 *   npm run bench:dos-mempool                         # this checkout, ~40 s
 *   npm run bench:dos-mempool -- --bin /work/main/bin/jbc.mjs   # another checkout's jbc (before)
 *   npm run bench:dos-mempool -- --quick              # a 5 s window
 *
 * The last line printed is one JSON object with the figures, the 1-minute load average and the cores.
 */
import { readFileSync, rmSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import { tempDir } from "../test/helpers/chain.ts";
import { SourceClient } from "../test/helpers/sources.ts";
import { percentile } from "./stats.ts";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const binAt = args.indexOf("--bin");
if (binAt >= 0) process.env.JBC_TEST_BIN = args[binAt + 1];
// Imported after JBC_TEST_BIN is set: spawn.ts reads it once.
const { killAll, spawnNode } = await import("../test/helpers/spawn.ts");

const MIB = 1024 * 1024;
const POOL_MB = 16;
const FLOOD_SIZE = 60_000;
const HONEST_SIZE = 200;
const WINDOW_MS = quick ? 5_000 : 20_000;
const round = (x: number, d = 1) => Number(x.toFixed(d));
const log = (s: string) => process.stderr.write(`${s}\n`);

function payload(tag: string, i: number, size: number): Uint8Array {
  const out = new Uint8Array(size).fill(0x61);
  out.set(new TextEncoder().encode(`${tag}:${i}:${process.pid}:`));
  return out;
}

const dir = tempDir("jbc-bench-dos-mempool-");
const node = await spawnNode({
  name: "victim",
  datadir: dir,
  args: ["--no-p2p", "--mempool-mb", String(POOL_MB)],
});
try {
  const token = readFileSync(join(dir, "api-token"), "utf8").trim();
  const flooder = new SourceClient(node.url, "127.0.0.1", token);
  const honest = [2, 3, 4].map((i) => new SourceClient(node.url, `127.0.0.${i}`, token));

  // Phase 1: the flood fills the pool.
  let sent = 0;
  let full = false;
  let stop = false;
  const answers = { accepted: 0, refused: 0, other: 0 };
  const windowAnswers = { accepted: 0, refused: 0 };
  let inWindow = false;
  const t0 = performance.now();
  const floodLoop = async (): Promise<void> => {
    while (!stop) {
      const r = await flooder.postData(payload("flood", sent++, FLOOD_SIZE));
      if (r.status === 202) answers.accepted++;
      else if (r.status === 503) {
        answers.refused++;
        full = true;
      } else answers.other++;
      if (inWindow) r.status === 202 ? windowAnswers.accepted++ : windowAnswers.refused++;
    }
  };
  const floods = Array.from({ length: 4 }, floodLoop);
  while (!full) {
    if (performance.now() - t0 > 120_000) throw new Error("the flood did not fill the pool in 2 minutes");
    await new Promise((r) => setTimeout(r, 20));
  }
  const fillSeconds = (performance.now() - t0) / 1000;
  log(`pool full after ${fillSeconds.toFixed(1)} s (${answers.accepted} flood records accepted)`);

  // Phase 2: honest clients during the flood.
  inWindow = true;
  const latencies: number[] = [];
  const ids: string[] = [];
  let attempts = 0;
  let admitted = 0;
  const honestLoop = async (c: SourceClient, n: number): Promise<void> => {
    const end = performance.now() + WINDOW_MS;
    for (let i = 0; performance.now() < end; i++) {
      const next = performance.now() + 100;
      attempts++;
      const r = await c.postData(payload(`honest${n}`, i, HONEST_SIZE));
      latencies.push(r.ms);
      if (r.status === 202) {
        admitted++;
        ids.push((r.body as { id: string }).id);
      }
      await new Promise((res) => setTimeout(res, Math.max(0, next - performance.now())));
    }
  };
  await Promise.all(honest.map((c, n) => honestLoop(c, n)));
  stop = true;
  await Promise.all(floods);

  // What each holds at the end of the window: the honest records still pending, the rest is the flooder's.
  const pendingBytes = async (list: Array<[string, number]>): Promise<number> => {
    let bytes = 0;
    for (const [id, size] of list) {
      const r = await honest[0]!.get(`/api/records/${id}`);
      if ((r.body as { status?: string }).status === "pending") bytes += size;
    }
    return bytes;
  };
  const honestBytes = await pendingBytes(ids.map((id) => [id, HONEST_SIZE + 3]));
  const pool = (await honest[0]!.get("/api/mempool")).body as { bytes: number; maxBytes: number };
  const flooderBytes = pool.bytes - honestBytes;

  // Phase 3, contested: the honest clients want as much as the flooder (the flood goes on).
  stop = false;
  inWindow = false;
  const floods2 = Array.from({ length: 4 }, floodLoop);
  const mine: Array<Array<[string, number]>> = honest.map(() => []);
  await Promise.all(
    honest.map(async (c, n) => {
      for (let i = 0; i < 1_000; i++) {
        const r = await c.postData(payload(`big${n}`, i, FLOOD_SIZE));
        if (r.status !== 202) break;
        mine[n]!.push([(r.body as { id: string }).id, FLOOD_SIZE + 3]);
      }
    }),
  );
  stop = true;
  await Promise.all(floods2);
  const small = ids.map((id) => [id, HONEST_SIZE + 3] as [string, number]);
  const held = await Promise.all(mine.map((list) => pendingBytes(list)));
  const smallHeld = await pendingBytes(small);
  const pool3 = (await honest[0]!.get("/api/mempool")).body as { bytes: number; maxBytes: number };
  const contestedFlooder = pool3.bytes - smallHeld - held.reduce((a, b) => a + b, 0);
  flooder.close();
  for (const c of honest) c.close();

  const figures = {
    bench: "dos-mempool",
    quick,
    bin: process.env.JBC_TEST_BIN ?? "this checkout",
    dosMempoolHonestAdmitRate: round(admitted / attempts, 3),
    dosMempoolHonestP50Ms: round(percentile(latencies, 50)),
    dosMempoolHonestP99Ms: round(percentile(latencies, 99)),
    dosMempoolHonestAttempts: attempts,
    dosMempoolFlooderBytes: flooderBytes,
    dosMempoolFlooderShare: round(flooderBytes / pool.maxBytes, 3),
    dosMempoolHonestBytes: honestBytes,
    dosMempoolPoolBytes: pool.bytes,
    dosMempoolPoolMaxBytes: pool.maxBytes,
    dosMempoolFillSeconds: round(fillSeconds),
    dosMempoolContestedFlooderShare: round(contestedFlooder / pool3.maxBytes, 3),
    dosMempoolContestedHonestShareMin: round(Math.min(...held) / pool3.maxBytes, 3),
    dosMempoolContestedHonestShareMax: round(Math.max(...held) / pool3.maxBytes, 3),
    dosMempoolFloodAcceptedInWindow: windowAnswers.accepted,
    dosMempoolFloodRefusedInWindow: windowAnswers.refused,
    loadAverage: round(loadavg()[0]!, 2),
    cores: availableParallelism(),
  };
  log(
    `honest: ${admitted}/${attempts} admitted, p50 ${figures.dosMempoolHonestP50Ms} ms, p99 ${figures.dosMempoolHonestP99Ms} ms; ` +
      `flooder holds ${(flooderBytes / MIB).toFixed(2)} of ${(pool.maxBytes / MIB).toFixed(0)} MiB; ` +
      `flood in window: ${windowAnswers.accepted} accepted, ${windowAnswers.refused} refused; ` +
      `contested: flooder ${figures.dosMempoolContestedFlooderShare}, honest ${held.map((b) => round(b / pool3.maxBytes, 3)).join(" / ")} of the pool`,
  );
  console.log(JSON.stringify(figures));
} finally {
  await node.stop();
  await killAll();
  rmSync(dir, { recursive: true, force: true });
}
