/**
 * One sample of one node every few seconds: RSS, heap and event-loop delay from its `/metrics` (Node's
 * standard gauges, which prom-client collects: `process_resident_memory_bytes`,
 * `nodejs_heap_size_used_bytes`, and `nodejs_eventloop_lag_p99_seconds` and `_max_seconds`, whose
 * histogram prom-client resets at every scrape, so each sample holds the figures since the previous one:
 * a soak is the only scraper it expects), disk from its data
 * directory, and `/api/health`'s latency from the prober. A node too busy to answer `/metrics` within
 * the deadline still gets its RSS, from /proc.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { chainDir } from "../../src/node/paths.ts";
import type { NodeProcess } from "../../test/helpers/spawn.ts";
import { call } from "./http.ts";
import type { HealthProbe } from "./probes.ts";

export interface Sample {
  /** Seconds since the soak started. */
  t: number;
  node: string;
  rss_mb: number | null;
  /** RSS's anonymous and file-backed parts (/proc/<pid>/status: RssAnon, RssFile). */
  rss_anon_mb: number | null;
  rss_file_mb: number | null;
  heap_mb: number | null;
  /**
   * V8's heap as committed (`nodejs_heap_size_total_bytes`), and the young generation's part of it: the
   * new space grows under a high allocation rate up to its maximum, RSS that no retained object explains.
   */
  heap_total_mb: number | null;
  new_space_mb: number | null;
  /** Memory of Buffers and other objects outside V8's heap (`nodejs_external_memory_bytes`). */
  external_mb: number | null;
  /** The part of it in ArrayBuffers and Buffers (`jbc_process_array_buffers_bytes`). */
  array_buffers_mb: number | null;
  /** The data directory (store, logs, pool file), without the soak's capture of the node's stdout. */
  disk_mb: number;
  /** The chain's LevelDB store alone. */
  store_mb: number;
  eventloop_p99_ms: number | null;
  /**
   * The longest event-loop delay since the previous sample: one stall of a second is a single late timer
   * among hundreds, which p99 does not show.
   */
  eventloop_max_ms: number | null;
  health_p99_ms: number | null;
  health_n: number;
  health_failed: number;
  height: number | null;
  mempool_mb: number | null;
  orphans: number | null;
  /** Whether /metrics answered. */
  scraped: boolean;
}

export const SAMPLE_FIELDS = [
  "t",
  "node",
  "rss_mb",
  "rss_anon_mb",
  "rss_file_mb",
  "heap_mb",
  "heap_total_mb",
  "new_space_mb",
  "external_mb",
  "array_buffers_mb",
  "disk_mb",
  "store_mb",
  "eventloop_p99_ms",
  "eventloop_max_ms",
  "health_p99_ms",
  "health_n",
  "health_failed",
  "height",
  "mempool_mb",
  "orphans",
  "scraped",
] as const satisfies ReadonlyArray<keyof Sample>;

/** The value of `name` (unlabelled, or with its labels as written) in a Prometheus text exposition. */
export function metric(text: string, name: string): number | undefined {
  // A name may carry its labels (`x{space="new"}`): matched as written.
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const m = new RegExp(`^${escaped}(?:\\{\\})? ([^\\s]+)`, "m").exec(text);
  const v = m ? Number(m[1]) : Number.NaN;
  return Number.isFinite(v) ? v : undefined;
}

/** Bytes allocated to the files under `dir` (as du counts them), skipping `skip`. */
export async function diskBytes(dir: string, skip: ReadonlySet<string> = new Set()): Promise<number> {
  let total = 0;
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return 0;
  }
  for (const name of entries) {
    const p = join(dir, name);
    if (skip.has(p)) continue;
    try {
      const s = await stat(p);
      total += s.isDirectory() ? await diskBytes(p, skip) : s.blocks * 512;
    } catch {
      // Gone between the listing and the stat (a compaction, a rotation): nothing to count.
    }
  }
  return total;
}

/**
 * A process's resident memory from /proc (Linux), in bytes: all of it, its anonymous part (heap, buffers,
 * LevelDB's caches: what a leak grows) and its file-backed part (LevelDB's memory-mapped tables, page
 * cache that grows with the bytes read and is given back under pressure).
 */
async function procRss(pid: number | undefined): Promise<{ rss?: number; anon?: number; file?: number }> {
  if (pid === undefined) return {};
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const kb = (key: string) => {
      const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status);
      return m ? Number(m[1]) * 1024 : undefined;
    };
    return { rss: kb("VmRSS"), anon: kb("RssAnon"), file: kb("RssFile") };
  } catch {
    return {};
  }
}

const MB = 1024 * 1024;
const mb = (b: number | undefined): number | null => (b === undefined ? null : Number((b / MB).toFixed(2)));
const ms = (s: number | undefined): number | null => (s === undefined ? null : Number((s * 1000).toFixed(2)));

/** Samples `node` now (`t` seconds into the soak). */
export async function sampleNode(node: NodeProcess, t: number, health: HealthProbe): Promise<Sample> {
  const r = await call(node.url, "/metrics", { keep: 1 << 20, timeoutMs: 10_000 });
  const text = r.status === 200 ? r.text : "";
  const get = (name: string) => metric(text, name);
  const proc = await procRss(node.proc.pid);
  const rss = get("process_resident_memory_bytes") ?? proc.rss;
  const [disk, store] = await Promise.all([
    diskBytes(node.datadir, new Set([node.logFile])),
    diskBytes(chainDir(node.datadir)),
  ]);
  const h = health.take(node.name);
  return {
    t: Number(t.toFixed(1)),
    node: node.name,
    rss_mb: mb(rss),
    rss_anon_mb: mb(proc.anon),
    rss_file_mb: mb(proc.file),
    heap_mb: mb(get("nodejs_heap_size_used_bytes")),
    heap_total_mb: mb(get("nodejs_heap_size_total_bytes")),
    new_space_mb: mb(get('nodejs_heap_space_size_total_bytes{space="new"}')),
    external_mb: mb(get("nodejs_external_memory_bytes")),
    array_buffers_mb: mb(get("jbc_process_array_buffers_bytes")),
    disk_mb: mb(disk)!,
    store_mb: mb(store)!,
    eventloop_p99_ms: ms(get("nodejs_eventloop_lag_p99_seconds")),
    eventloop_max_ms: ms(get("nodejs_eventloop_lag_max_seconds")),
    health_p99_ms: h.p99 === null ? null : Number(h.p99.toFixed(2)),
    health_n: h.n,
    health_failed: h.failed,
    height: get("jbc_chain_height") ?? null,
    mempool_mb: mb(get("jbc_mempool_bytes")),
    orphans: get("jbc_chain_orphans") ?? null,
    scraped: r.status === 200,
  };
}

/** One CSV line of a sample (the header is SAMPLE_FIELDS joined). */
export function csvLine(s: Sample): string {
  return SAMPLE_FIELDS.map((f) => (s[f] === null ? "" : String(s[f]))).join(",");
}
