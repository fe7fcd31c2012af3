/**
 * Where a compact block's time goes, hop by hop, from the node logs a lab run kept
 * (`JBC_LAB_LOG_LEVEL=debug npm run lab -- --scenario propagation … --keep-logs DIR`):
 *
 *   node --import tsx scripts/compact-hops.ts DIR
 *
 * It reads each node's debug lines "compact: relayed" (when a node wrote a block to its peers: who got a
 * compact block, who only its header), "compact block rebuilt" (per block and receiver: the pool matching,
 * the rebuilt block and processBlock done, in ms after the compact block was in hand) and "compact:
 * getcmpct answered" (a header's round trip), names peers as the lab's nodes (n0, n1, …) from each log's
 * "p2p listening" line, and prints per hop, p50 / p90 / max over every (block, receiver):
 *
 * - sender wrote → compact block at the receiver: the link's one-way delay, the write, and for a header
 *   announcement its GETCMPCT round trip;
 * - compact block in hand → relayed onward: matching and rebuilding, then either the push before
 *   validation ("compact: relayed before validation", a block that extends the tip) or processBlock up to
 *   the `connected` event that relays it;
 * - and how many deliveries were pushed (high-bandwidth) or asked for after a header (low-bandwidth).
 *
 * The last line is the same as JSON. docs/lab.md, "Record-heavy blocks, compact against full relay".
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

interface Line {
  node: string;
  time: number;
  msg: string;
  hash?: string;
  peer?: string;
  [k: string]: unknown;
}

/** Every JSON log line of every `n<i>-…log` file in `dir`, with the node's name, and peer id → name. */
function readLogs(dir: string): { lines: Line[]; names: Map<string, string> } {
  const lines: Line[] = [];
  const names = new Map<string, string>();
  for (const f of readdirSync(dir)
    .filter((f) => /^n\d+-.*\.log$/.test(f))
    .sort()) {
    const node = f.split("-")[0]!;
    for (const text of readFileSync(join(dir, f), "utf8").split("\n")) {
      if (!text.startsWith("{")) continue;
      let j: Line;
      try {
        j = { ...JSON.parse(text), node };
      } catch {
        continue;
      }
      if (j.msg === "p2p listening" && typeof j.peerId === "string") names.set(j.peerId, node);
      if (j.msg.includes("compact")) lines.push(j);
    }
  }
  lines.sort((a, b) => a.time - b.time);
  return { lines, names };
}

/** p50 / p90 / max of a list (nearest rank), and its length. */
function spread(xs: number[]): { n: number; p50: number; p90: number; max: number } | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { n: s.length, p50: at(0.5), p90: at(0.9), max: s[s.length - 1]! };
}

/** A node writing a block to its peers: once validated, or (pushes only) before (relay.ts relayEarly). */
const RELAYED = new Set(["compact: relayed", "compact: relayed before validation"]);

/** The per-hop figures of one run's logs. */
export function compactHops(dir: string) {
  const { lines, names } = readLogs(dir);
  const name = (id: unknown): string => (typeof id === "string" ? (names.get(id) ?? id) : "?");
  const relayedAt = new Map<string, number>();
  for (const l of lines)
    if (RELAYED.has(String(l.msg)) && l.hash && !relayedAt.has(`${l.hash} ${l.node}`))
      relayedAt.set(`${l.hash} ${l.node}`, l.time);
  const wire: number[] = [];
  const onward: number[] = [];
  const processed: number[] = [];
  const matched: number[] = [];
  const asked: number[] = [];
  for (const l of lines) {
    if (l.msg !== "compact block rebuilt" || typeof l.processedMs !== "number") continue;
    const inHand = l.time - l.processedMs;
    const sent = relayedAt.get(`${l.hash} ${name(l.peer)}`);
    const relayed = relayedAt.get(`${l.hash} ${l.node}`);
    if (sent !== undefined) wire.push(inHand - sent);
    if (relayed !== undefined) onward.push(relayed - inHand);
    processed.push(l.processedMs);
    if (typeof l.matchedMs === "number") matched.push(l.matchedMs);
    asked.push(typeof l.asked === "number" ? l.asked : 0);
  }
  const getcmpct = lines.filter((l) => l.msg === "compact: getcmpct answered").map((l) => l.ms as number);
  let pushed = 0;
  let headers = 0;
  for (const l of lines.filter((l) => RELAYED.has(String(l.msg)))) {
    pushed += Number(l.pushed ?? 0);
    headers += Number(l.announced ?? 0);
  }
  return {
    rebuilt: processed.length,
    sentToInHandMs: spread(wire),
    inHandToRelayedMs: spread(onward),
    inHandToProcessedMs: spread(processed),
    poolMatchingMs: spread(matched),
    getcmpctMs: spread(getcmpct),
    getblocktxn: asked.filter((n) => n > 0).length,
    recordsAsked: asked.reduce((a, b) => a + b, 0),
    pushedCompact: pushed,
    announcedHeader: headers,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write("usage: node --import tsx scripts/compact-hops.ts DIR (a lab run's --keep-logs)\n");
    process.exit(2);
  }
  const r = compactHops(dir);
  const show = (s: ReturnType<typeof spread>): string =>
    s ? `p50 ${s.p50} ms, p90 ${s.p90} ms, max ${s.max} ms (n ${s.n})` : "none";
  process.stdout.write(
    [
      `compact blocks rebuilt: ${r.rebuilt}`,
      `  sender wrote → compact block in hand:  ${show(r.sentToInHandMs)}`,
      `  in hand → relayed onward:              ${show(r.inHandToRelayedMs)}`,
      `  in hand → processBlock done:           ${show(r.inHandToProcessedMs)}`,
      `  pool matching:                         ${show(r.poolMatchingMs)}`,
      `  getcmpct (after a header):             ${show(r.getcmpctMs)}`,
      `  getblocktxn: ${r.getblocktxn} (${r.recordsAsked} records asked)`,
      `  announcements written: ${r.pushedCompact} compact blocks (high-bandwidth), ${r.announcedHeader} headers (low-bandwidth)`,
      JSON.stringify(r),
      "",
    ].join("\n"),
  );
}
