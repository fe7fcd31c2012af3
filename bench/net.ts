/**
 * Network benchmark (`npm run bench:net`). Named sections, each returning figures; the last line printed
 * is one JSON object with every section's figures. Run one section with `-- --only=<name>[,<name>]`;
 * `-- --hash=noble` keeps consensus's pure-JS hashing instead of node:crypto (as the node installs it).
 *
 *   propagation  4 and 8 in-process nodes connected in a ring, each with its own Chain + LevelStore;
 *                time from processBlock on one node until the block is the tip on all of them.
 *   sync         a fresh node syncs a 10,000-block regtest chain from a peer running in a child process
 *                (as it would on another machine), once with miner-record-only blocks and once with
 *                10 data records of 100 bytes per block. Each run is paired with a baseline: the same
 *                blocks fed to processBlock with no network, to show what the network layer adds.
 *   compact      bytes on the wire (TCP, through a counting proxy: Noise, yamux and stream negotiation
 *                included) per block of 1,000 records (999 data records of 100 bytes) pending at both of two
 *                nodes, relayed as a compact block and, with compact blocks off, as a full gossip block
 *                (`compact_block_bytes_1000`, `full_block_bytes_1000`; medians of 5 blocks after 2 warm-up).
 *   sync1mb      the same with full blocks: 200 blocks of 15 data records of 65,000 bytes (0.98 MB each),
 *                in MB/s (`sync_full_1mb_MB_per_sec`, the ledger issue's "sync of full 1 MB blocks").
 *   sync1mb3     the same full blocks synced headers first from 3 peers (3 child processes) at once (issue
 *                21): MB/s from the first dial until the last block is the tip, beside processBlock alone
 *                in the same run (`sync_3peers_1mb_ratio`, target >= 0.8) and the bodies each peer served,
 *                with the CPU of the syncing node, of the servers and of processBlock alone and the
 *                importer's wait (`--nice-servers=N` runs the servers at a lower priority).
 *
 * Sections for other layers (HTTP) can be added to SECTIONS.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createConnection, createServer, type Socket } from "node:net";
import { availableParallelism, cpus, setPriority } from "node:os";
import { createInterface } from "node:readline";
import { decodeBlock, encodeBlock } from "../src/consensus/block.ts";
import { regtest } from "../src/consensus/params.ts";
import { Mempool } from "../src/mempool/index.ts";
import type { SyncDone } from "../src/net/index.ts";
import { useNativeCrypto } from "../src/node/crypto.ts";
import {
  buildChain,
  dataRecords,
  hashOf,
  importBlocks,
  openChain,
  startNode,
  type TestNode,
  waitFor,
} from "../test/helpers/net.ts";
import { median, percentile } from "./stats.ts";

// As the node does (src/node/node.ts): consensus hashes and verifies through node:crypto. `--hash=noble`
// keeps consensus's own pure-JS @noble code, to measure what the native code is worth (docs/benchmarks.md).
const HASH = process.argv.includes("--hash=noble") ? "noble" : "native";
if (HASH === "native") useNativeCrypto();

type Figures = Record<string, number | string>;

const args = process.argv.slice(2);
const arg = (name: string): string | undefined =>
  args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;
const log = (msg: string): void => void process.stderr.write(`${msg}\n`);

// ---------------------------------------------------------------- propagation

async function propagationFor(n: number, blocks: number): Promise<{ median: number; p99: number }> {
  const nodes: TestNode[] = [];
  try {
    for (let i = 0; i < n; i++) nodes.push(await startNode(regtest, { limits: { gossipHeartbeatMs: 100 } }));
    // Ring: node i dials node i+1; with the wrap-around every node has two neighbours.
    await Promise.all(nodes.map((node, i) => node.net.addPeer(nodes[(i + 1) % n]!.net.multiaddrs()[0]!)));
    await waitFor(() => nodes.every((x) => x.net.getPeers().length >= 2), 10_000, "ring to form");
    await waitFor(
      () => nodes.every((x) => x.net.libp2p.services.pubsub.getSubscribers(x.net.topic).length >= 2),
      10_000,
      "gossip subscriptions",
    );
    // Let a few heartbeats graft the mesh.
    await new Promise((r) => setTimeout(r, 1_000));
    let tip = regtest.genesis;
    const warmup = 10;
    const samples: number[] = [];
    for (let k = 0; k < blocks + warmup; k++) {
      const [block] = buildChain(regtest, 1, tip);
      const hash = hashOf(block!);
      const raw = encodeBlock(block!);
      const origin = nodes[k % n]!;
      let pending = n - 1;
      const arrived = new Promise<number>((resolve) => {
        for (const x of nodes) {
          if (x === origin) continue;
          const onTip = (e: { tip: { hash: string } }): void => {
            if (e.tip.hash !== hash) return;
            x.tc.chain.off("tip", onTip);
            if (--pending === 0) resolve(performance.now());
          };
          x.tc.chain.on("tip", onTip);
        }
      });
      const t0 = performance.now();
      await origin.tc.chain.processBlock(block!, raw);
      const t1 = await Promise.race([
        arrived,
        new Promise<number>((r) => setTimeout(() => r(Number.NaN), 5_000)),
      ]);
      if (Number.isNaN(t1)) throw new Error(`block ${k} did not reach all ${n} nodes within 5 s`);
      if (k >= warmup) samples.push(t1 - t0);
      tip = block!;
      await new Promise((r) => setTimeout(r, 20));
    }
    return { median: round(median(samples)), p99: round(percentile(samples, 99)) };
  } finally {
    await Promise.all(nodes.map((x) => x.stop()));
  }
}

async function propagation(): Promise<Figures> {
  const blocks = Number(arg("blocks") ?? 100);
  const out: Figures = { propagation_topology: "ring", propagation_blocks: blocks };
  for (const n of [4, 8]) {
    const r = await propagationFor(n, blocks);
    log(`propagation ${n} nodes (ring): median ${r.median} ms, p99 ${r.p99} ms over ${blocks} blocks`);
    out[`propagation_${n}_median_ms`] = r.median;
    out[`propagation_${n}_p99_ms`] = r.p99;
  }
  return out;
}

// ---------------------------------------------------------------- sync

/** The bench's chains: `records` data records of `bytes` bytes in every block. */
const benchChain = (count: number, records: number, bytes = 100) =>
  buildChain(
    regtest,
    count,
    regtest.genesis,
    records ? { records: (h) => dataRecords(h, records, bytes) } : {},
  );

/** Child-process side: builds and imports the chain, serves it, prints its multiaddr, exits on stdin EOF. */
async function serve(count: number, records: number, bytes: number): Promise<void> {
  const tc = await openChain(regtest);
  const blocks = benchChain(count, records, bytes);
  await importBlocks(tc.chain, blocks);
  await tc.close();
  const node = await startNode(regtest, { dir: tc.dir });
  process.stdout.write(`${JSON.stringify({ addr: node.net.multiaddrs()[0] })}\n`);
  process.stdin.resume();
  await once(process.stdin, "end");
  await node.stop();
}

async function startServer(
  count: number,
  records: number,
  bytes = 100,
): Promise<{ addr: string; pid: number; stop(): Promise<void> }> {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      new URL(import.meta.url).pathname,
      "--serve",
      `--count=${count}`,
      `--records=${records}`,
      `--record-bytes=${bytes}`,
      `--hash=${HASH}`,
    ],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await once(lines, "line")) as [string];
  const { addr } = JSON.parse(line) as { addr: string };
  return {
    addr,
    pid: child.pid!,
    stop: async () => {
      child.stdin!.end();
      await once(child, "exit");
    },
  };
}

async function syncOnce(addr: string, count: number): Promise<SyncDone> {
  const node = await startNode(regtest, { peers: [] });
  try {
    let done: SyncDone | undefined;
    node.net.on("sync:done", (e) => {
      done = e;
    });
    const t0 = performance.now();
    await node.net.addPeer(addr);
    await waitFor(() => node.tc.chain.height >= count && done !== undefined, 120_000, "sync");
    const wall = performance.now() - t0;
    log(
      `  synced ${count} blocks: ${Math.round(done!.ms)} ms in sync (${done!.blocksPerSec} blocks/s), ${Math.round(wall)} ms from dial`,
    );
    return done!;
  } finally {
    await node.stop();
  }
}

/** Blocks/s of decodeBlock + processBlock alone on a fresh chain (no network). */
async function processOnly(raws: Uint8Array[]): Promise<number> {
  return (await processOnlyTimed(raws)).perSec;
}

/** processOnly with the CPU it took this process (every thread: LevelDB's and the GC's too) and its main thread. */
async function processOnlyTimed(raws: Uint8Array[]): Promise<{ perSec: number; cpu: Cpu }> {
  const tc = await openChain(regtest);
  try {
    const c0 = cpuNow();
    const t0 = performance.now();
    for (const raw of raws) await tc.chain.processBlock(decodeBlock(raw), raw);
    const perSec = (raws.length * 1000) / (performance.now() - t0);
    return { perSec, cpu: cpuSince(c0) };
  } finally {
    await tc.remove();
  }
}

/** CPU seconds of this process: all threads, and the main thread alone (NaN where /proc is missing). */
interface Cpu {
  total: number;
  main: number;
}

/** CPU seconds of a process or thread from /proc (utime + stime, clock ticks of 1/100 s); NaN off Linux. */
function procCpu(path: string): number {
  try {
    const fields = readFileSync(path, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

const cpuNow = (): Cpu => {
  const u = process.cpuUsage();
  return { total: (u.user + u.system) / 1e6, main: procCpu(`/proc/self/task/${process.pid}/stat`) };
};
const cpuSince = (c0: Cpu): Cpu => {
  const c = cpuNow();
  return { total: c.total - c0.total, main: c.main - c0.main };
};

async function sync(): Promise<Figures> {
  const count = Number(arg("count") ?? 10_000);
  const runs = Number(arg("runs") ?? 3);
  const out: Figures = { sync_blocks: count, sync_runs: runs };
  for (const [name, records] of [
    ["miner_only", 0],
    ["data_10x100", 10],
  ] as const) {
    const server = await startServer(count, records);
    try {
      // Baseline on the same machine and moment: the same blocks fed to processBlock with no network, so
      // the ratio shows what the network layer costs on top of validation and storage.
      const raws = benchChain(count, records).map(encodeBlock);
      const rates: number[] = [];
      const base: number[] = [];
      for (let i = 0; i < runs; i++) {
        rates.push((await syncOnce(server.addr, count)).blocksPerSec);
        base.push(await processOnly(raws));
      }
      log(`sync ${count} blocks (${name}): ${rates.map((r) => Math.round(r)).join(", ")} blocks/s`);
      log(`processBlock alone (${name}): ${base.map((r) => Math.round(r)).join(", ")} blocks/s`);
      out[`sync_${name}_blocks_per_sec`] = Math.round(median(rates));
      out[`sync_${name}_processblock_only_blocks_per_sec`] = Math.round(median(base));
      out[`sync_${name}_ratio`] = round(median(rates) / median(base));
    } finally {
      await server.stop();
    }
  }
  return out;
}

/** Full blocks (0.98 MB each) between two nodes on loopback, in MB/s beside processBlock alone. */
async function sync1mb(): Promise<Figures> {
  const count = Number(arg("count-1mb") ?? 200);
  const runs = Number(arg("runs") ?? 3);
  const [records, bytes] = [15, 65_000];
  const raws = benchChain(count, records, bytes).map(encodeBlock);
  const mb = raws.reduce((n, r) => n + r.length, 0) / 1e6;
  const server = await startServer(count, records, bytes);
  try {
    const rates: number[] = [];
    const base: number[] = [];
    for (let i = 0; i < runs; i++) {
      const done = await syncOnce(server.addr, count);
      rates.push(mb / (done.ms / 1000));
      base.push((mb * (await processOnly(raws))) / count);
    }
    log(`sync ${count} full blocks (${round(mb, 1)} MB): ${rates.map((r) => round(r, 1)).join(", ")} MB/s`);
    log(`processBlock alone: ${base.map((r) => round(r, 1)).join(", ")} MB/s`);
    return {
      sync_full_1mb_blocks: count,
      sync_full_1mb_block_bytes: raws[0]!.length,
      sync_full_1mb_MB_per_sec: round(median(rates), 1),
      sync_full_1mb_processblock_only_MB_per_sec: round(median(base), 1),
      sync_full_1mb_ratio: round(median(rates) / median(base)),
    };
  } finally {
    await server.stop();
  }
}

// ---------------------------------------------------------------- compact

/** A TCP proxy to `port` that counts the bytes crossing it both ways. */
async function countingProxy(
  port: number,
): Promise<{ port: number; bytes: () => number; close: () => void }> {
  let bytes = 0;
  const sockets: Socket[] = [];
  const server = createServer((inbound) => {
    const outbound = createConnection({ host: "127.0.0.1", port });
    sockets.push(inbound, outbound);
    inbound.on("data", (d: Buffer) => {
      bytes += d.length;
      outbound.write(d);
    });
    outbound.on("data", (d: Buffer) => {
      bytes += d.length;
      inbound.write(d);
    });
    inbound.on("error", () => outbound.destroy());
    outbound.on("error", () => inbound.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  const proxyPort = typeof addr === "object" && addr ? addr.port : 0;
  return {
    port: proxyPort,
    bytes: () => bytes,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** Bytes on the wire per 1,000-record block pending at both ends, median of 5 after 2 warm-up blocks. */
async function relayBytes(compactBlocks: boolean): Promise<number> {
  const pools = [0, 1].map(() => new Mempool({ params: regtest, isConfirmed: () => false }));
  const a = await startNode(regtest, { mempool: pools[0]!, compactBlocks });
  const port = Number(a.net.multiaddrs()[0]!.split("/")[4]);
  const proxy = await countingProxy(port);
  const b = await startNode(regtest, {
    mempool: pools[1]!,
    compactBlocks,
    peers: [`/ip4/127.0.0.1/tcp/${proxy.port}/p2p/${a.net.peerId}`],
  });
  try {
    await waitFor(() => a.net.getPeers().length === 1 && b.net.getPeers().length === 1, 10_000, "join");
    await waitFor(
      () => a.net.libp2p.services.pubsub.getSubscribers(a.net.topic).length === 1,
      10_000,
      "topic",
    );
    const chain = buildChain(regtest, 7, regtest.genesis, { records: (h) => dataRecords(h, 999, 100) });
    for (const blk of chain)
      for (const pool of pools)
        for (const rec of blk.records.slice(1)) await pool.admit(rec, { kind: "api" });
    const per: number[] = [];
    for (const [k, blk] of chain.entries()) {
      await new Promise((r) => setTimeout(r, 1_500)); // let record gossip and heartbeats settle
      const before = proxy.bytes();
      await a.tc.chain.processBlock(blk);
      await waitFor(() => b.tc.chain.tip.height === k + 1, 20_000, "block relayed");
      await new Promise((r) => setTimeout(r, 100)); // the stream closes
      if (k >= 2) per.push(proxy.bytes() - before);
    }
    return median(per);
  } finally {
    await b.stop();
    await a.stop();
    proxy.close();
  }
}

async function compact(): Promise<Figures> {
  const compactBytes = await relayBytes(true);
  const fullBytes = await relayBytes(false);
  log(`1,000-record block on the wire: compact ${compactBytes} bytes, full ${fullBytes} bytes`);
  return { compact_block_bytes_1000: compactBytes, full_block_bytes_1000: fullBytes };
}

// ---------------------------------------------------------------- sync from three peers

/**
 * A fresh node syncs `count` blocks from every server at once; ms from the first dial to the tip, the
 * shares, and the CPU the syncing node (this process) and the serving processes took meanwhile.
 */
async function syncFromAll(
  servers: ReadonlyArray<{ addr: string; pid: number }>,
  count: number,
): Promise<{ ms: number; served: number[]; cpu: Cpu; serversCpu: number; waitMs: number }> {
  const node = await startNode(regtest, { peers: [] });
  try {
    const served: Record<string, number> = {};
    let waitMs = 0;
    node.net.on("sync:done", (e) => {
      for (const [id, n] of Object.entries(e.served ?? {})) served[id] = (served[id] ?? 0) + n;
      waitMs += e.waitMs ?? 0;
    });
    const s0 = servers.map((s) => procCpu(`/proc/${s.pid}/stat`));
    const c0 = cpuNow();
    const t0 = performance.now();
    await Promise.all(servers.map((s) => node.net.addPeer(s.addr)));
    await waitFor(() => node.tc.chain.height >= count, 300_000, "sync");
    const ms = performance.now() - t0;
    const cpu = cpuSince(c0);
    const serversCpu = servers.reduce((n, s, i) => n + procCpu(`/proc/${s.pid}/stat`) - s0[i]!, 0);
    return { ms, served: Object.values(served).sort((a, b) => b - a), cpu, serversCpu, waitMs };
  } finally {
    await node.stop();
  }
}

/** Full blocks from three peers at once, headers first (issue 21), beside processBlock alone in the same run. */
async function sync1mb3(): Promise<Figures> {
  const count = Number(arg("count-1mb") ?? 200);
  const runs = Number(arg("runs") ?? 3);
  const [records, bytes] = [15, 65_000];
  const raws = benchChain(count, records, bytes).map(encodeBlock);
  const mb = raws.reduce((n, r) => n + r.length, 0) / 1e6;
  const servers = await Promise.all([0, 1, 2].map(() => startServer(count, records, bytes)));
  // `--nice-servers=N`: the serving processes at a lower priority, so that on a machine with fewer cores
  // than processes the syncing node is not the one kept waiting (docs/benchmarks.md, issue 21).
  const nice = Number(arg("nice-servers") ?? 0);
  if (nice) for (const s of servers) setPriority(s.pid, nice);
  try {
    const rates: number[] = [];
    const base: number[] = [];
    const syncCpu: Cpu[] = [];
    const baseCpu: Cpu[] = [];
    const serversCpu: number[] = [];
    const waits: number[] = [];
    let shares: number[] = [];
    for (let i = 0; i < runs; i++) {
      const r = await syncFromAll(servers, count);
      rates.push(mb / (r.ms / 1000));
      shares = r.served;
      syncCpu.push(r.cpu);
      serversCpu.push(r.serversCpu);
      waits.push(r.waitMs);
      const b = await processOnlyTimed(raws);
      base.push((mb * b.perSec) / count);
      baseCpu.push(b.cpu);
    }
    const s = (xs: number[]): string => xs.map((x) => round(x, 2)).join(", ");
    log(
      `sync ${count} full blocks from 3 peers: ${rates.map((r) => round(r, 1)).join(", ")} MB/s (shares ${shares})`,
    );
    log(`processBlock alone: ${base.map((r) => round(r, 1)).join(", ")} MB/s`);
    log(`importer waiting for bodies: ${waits.map((w) => Math.round(w)).join(", ")} ms`);
    log(
      `CPU s, syncing node: ${s(syncCpu.map((c) => c.total))} (main thread ${s(syncCpu.map((c) => c.main))}); ` +
        `serving processes: ${s(serversCpu)}; processBlock alone: ${s(baseCpu.map((c) => c.total))} ` +
        `(main thread ${s(baseCpu.map((c) => c.main))})`,
    );
    const med = (xs: number[]): number => round(median(xs), 2);
    return {
      sync_3peers_1mb_blocks: count,
      sync_3peers_1mb_MB_per_sec: round(median(rates), 1),
      sync_3peers_1mb_processblock_only_MB_per_sec: round(median(base), 1),
      sync_3peers_1mb_ratio: round(median(rates) / median(base)),
      sync_3peers_1mb_shares: shares.join("/"),
      // Where the CPU went (issue 21): the syncing node's (all threads, and its main thread), the three
      // serving processes' together, and processBlock alone's on the same blocks; the CPU ratio is the
      // rate ratio the syncing node would reach with cores of its own for its threads.
      sync_3peers_1mb_wait_ms: Math.round(median(waits)),
      sync_3peers_1mb_cpu_s: med(syncCpu.map((c) => c.total)),
      sync_3peers_1mb_main_cpu_s: med(syncCpu.map((c) => c.main)),
      sync_3peers_1mb_servers_cpu_s: med(serversCpu),
      sync_3peers_1mb_processblock_only_cpu_s: med(baseCpu.map((c) => c.total)),
      sync_3peers_1mb_processblock_only_main_cpu_s: med(baseCpu.map((c) => c.main)),
      sync_3peers_1mb_cpu_ratio: round(
        median(baseCpu.map((c) => c.total)) / median(syncCpu.map((c) => c.total)),
      ),
      ...(nice ? { sync_3peers_1mb_servers_nice: nice } : {}),
    };
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

// ---------------------------------------------------------------- main

const SECTIONS: Record<string, () => Promise<Figures>> = { propagation, sync, sync1mb, sync1mb3, compact };

if (args.includes("--serve")) {
  await serve(
    Number(arg("count") ?? 10_000),
    Number(arg("records") ?? 0),
    Number(arg("record-bytes") ?? 100),
  );
} else {
  const only = arg("only")?.split(",");
  const result: Figures = {
    bench: "net",
    date: new Date().toISOString(),
    node: process.version,
    cpus: availableParallelism(),
    cpu: cpus()[0]?.model ?? "unknown",
    hash: HASH,
  };
  for (const [name, run] of Object.entries(SECTIONS)) {
    if (only && !only.includes(name)) continue;
    Object.assign(result, await run());
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
