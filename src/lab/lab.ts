/**
 * A running lab: the topology, one LabNode per host, helper processes in namespaces, and the block
 * scheduler. `close()` stops everything it started and removes the topology.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { encodeBlock } from "../consensus/block.ts";
import { bitsToTarget } from "../consensus/compact.ts";
import { hashToBigInt, headerHash, headerHashBytes, hexToHash } from "../consensus/header.ts";
import type { BlockRecord } from "../consensus/records.ts";
import { buildBlock } from "../consensus/template.ts";
import { type RecordJson, recordFromJson } from "../mempool/json.ts";
import { seededRandom } from "../util/random.ts";
import { type Host, Topology } from "./netns.ts";
import { LabNode, P2P_PORT } from "./nodes.ts";

const HELPER = new URL("./helper-main.ts", import.meta.url).pathname;

export interface LabOptions {
  nodes: number;
  seed: number;
  /** Say something readable (the lab prints it; --json keeps it). */
  say: (line: string) => void;
}

export interface Helper {
  proc: ChildProcess;
  /** The first JSON line it printed. */
  ready: Record<string, unknown>;
  /** Writes one JSON line to its stdin and resolves with the next line it prints. */
  send(o: unknown): Promise<Record<string, unknown>>;
}

export class Lab {
  readonly nodes: LabNode[] = [];
  readonly random: () => number;
  readonly token = randomBytes(16).toString("hex");
  private readonly helpers = new Set<ChildProcess>();
  /** Records the lab submitted or read, by id: a block template needs their bytes, the mempool lists ids. */
  private readonly recordsById = new Map<string, BlockRecord>();
  private closing: Promise<void> | undefined;

  private constructor(
    readonly topo: Topology,
    readonly opts: LabOptions,
  ) {
    this.random = seededRandom(opts.seed);
  }

  static async create(opts: LabOptions): Promise<Lab> {
    const topo = await Topology.create(opts.nodes);
    return new Lab(topo, opts);
  }

  say(line: string): void {
    this.opts.say(line);
  }

  get hosts(): Host[] {
    return this.topo.hosts;
  }

  /** Defines (does not start) a node on `host` dialing `peers` (indexes of other hosts, direct). */
  addNode(host: Host, peers: string[], extraArgs: string[] = []): LabNode {
    const n = new LabNode({
      host,
      datadir: this.topo.tempDir(`n${host.index}`),
      token: this.token,
      network: "regtest",
      peers,
      extraArgs,
    });
    this.nodes[host.index] = n;
    return n;
  }

  /**
   * The usual mesh: every node dials the `degree` next ones (ring order), directly. Returns the nodes
   * started.
   */
  async startMesh(degree = 2, extraArgs: string[] = []): Promise<LabNode[]> {
    const count = this.hosts.length;
    for (const h of this.hosts) {
      const peers: string[] = [];
      for (let d = 1; d <= Math.min(degree, count - 1); d++) {
        const j = (h.index + d) % count;
        peers.push(`${this.hosts[j]!.dataIp}:${P2P_PORT}`);
      }
      this.addNode(h, peers, extraArgs);
    }
    await Promise.all(this.nodes.map((n) => n.start()));
    return this.nodes;
  }

  /** Runs the helper (src/lab/helper-main.ts) in a host's namespace; resolves on its first JSON line. */
  async helper(host: Host | undefined, args: string[], timeoutMs = 30_000): Promise<Helper> {
    const argv = [process.execPath, "--import", "tsx", HELPER, ...args];
    const proc = host
      ? spawn("ip", ["netns", "exec", host.ns, ...argv], { stdio: ["pipe", "pipe", "inherit"] })
      : spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", "pipe", "inherit"] });
    this.helpers.add(proc);
    proc.on("exit", () => this.helpers.delete(proc));
    const lines = createInterface({ input: proc.stdout! });
    const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`helper ${args[0]} did not answer`)), timeoutMs);
      lines.once("line", (l) => {
        clearTimeout(t);
        try {
          const v = JSON.parse(l) as Record<string, unknown>;
          if (typeof v.error === "string") reject(new Error(`helper ${args[0]}: ${v.error}`));
          else resolve(v);
        } catch {
          reject(new Error(`helper ${args[0]} printed ${l}`));
        }
      });
      proc.once("exit", (code) => {
        clearTimeout(t);
        reject(new Error(`helper ${args[0]} exited with ${code}`));
      });
    });
    const send = (o: unknown): Promise<Record<string, unknown>> => {
      const answer = new Promise<Record<string, unknown>>((resolve) =>
        lines.once("line", (l) => resolve(JSON.parse(l) as Record<string, unknown>)),
      );
      proc.stdin!.write(`${JSON.stringify(o)}\n`);
      return answer;
    };
    return { proc, ready, send };
  }

  killHelper(h: Helper): void {
    h.proc.kill("SIGKILL");
  }

  /**
   * Mines one block on `node`'s current tip and submits it there (POST /api/blocks). The lab is the
   * network's hash power: regtest needs about two hashes a block, so the lab decides when and where
   * blocks are found (Poisson arrivals, a node picked at random) instead of each node's miner racing
   * as fast as the CPU allows. With `records`, the block carries that node's pending records in arrival
   * order (GET /api/mempool, the order the node's own templates take), as a miner working from that
   * node's template would (at most `maxRecords`, default 1,000). Resolves with the block, when it was
   * found (`foundAt`: solved and encoded, as its POST starts) and when the node had connected it (`at`).
   */
  async mineOn(
    node: LabNode,
    opts: { records?: boolean; maxRecords?: number } = {},
  ): Promise<{
    hash: string;
    height: number;
    foundAt: number;
    at: number;
    status: string;
    records: string[];
  }> {
    // The tip first, then the pool: a record still pending after the tip was read is not in the tip's
    // chain (a connect removes it first), so the block cannot repeat a confirmed record.
    const s = await node.api.status();
    const bits = Number.parseInt(s.bits, 16);
    const target = bitsToTarget(bits);
    if (target === null) throw new Error(`bad bits ${s.bits}`);
    const pending = opts.records ? await this.pendingRecords(node, opts.maxRecords ?? 1000) : [];
    const block = buildBlock({
      prevHash: hexToHash(s.tip.hash),
      height: s.tip.height + 1,
      bits,
      time: Math.max(Math.floor(Date.now() / 1000), s.tip.time + 1),
      miner: node.name,
      extraNonce: BigInt(Math.floor(this.random() * 2 ** 32)),
      records: pending.map((p) => p.record),
    });
    for (let nonce = 0; ; nonce++) {
      block.header.nonce = nonce;
      if (hashToBigInt(headerHashBytes(block.header)) <= target) break;
    }
    const raw = encodeBlock(block);
    const foundAt = Date.now();
    const r = await node.api.submitBlock(raw);
    return {
      hash: headerHash(block.header),
      height: s.tip.height + 1,
      foundAt,
      at: Date.now(),
      status: r.status,
      records: pending.map((p) => p.id),
    };
  }

  /** Submits records to `node` (POST /api/records) and remembers them; resolves with their ids. */
  async submitRecords(node: LabNode, records: RecordJson[]): Promise<string[]> {
    const acks = await node.api.submitRecords(records);
    records.forEach((json, i) => {
      const parsed = recordFromJson(json);
      if (parsed.ok) this.recordsById.set(acks[i]!.id, parsed.record);
    });
    return acks.map((a) => a.id);
  }

  /** Up to `limit` (≤ 1,000) of `node`'s pending records, oldest first (a lab block stays far below maxBlockSize). */
  private async pendingRecords(node: LabNode, limit: number): Promise<{ id: string; record: BlockRecord }[]> {
    const page = await node.api.mempool({ limit: Math.min(1000, limit) });
    const out: { id: string; record: BlockRecord }[] = [];
    for (const id of page.ids) {
      let record = this.recordsById.get(id);
      if (!record) {
        // Not one the lab submitted: read it from the node (a pending record shows its full JSON form).
        const detail = await node.api.record(id).catch(() => undefined);
        if (detail?.status !== "pending" || detail.record.type === "miner") continue;
        const parsed = recordFromJson(detail.record);
        if (!parsed.ok) continue;
        record = parsed.record;
        this.recordsById.set(id, record);
      }
      out.push({ id, record });
    }
    return out;
  }

  /**
   * Builds `count` blocks on `node`'s tip locally and submits them in order: the quick way to give a
   * node a long chain. Each carries one data record of `recordBytes` bytes (0: none). Timestamps step one
   * second every two blocks (after the first 12) and end near now, so they stay above the median time past and below the
   * future limit. Resolves with the bytes submitted.
   */
  async buildChain(node: LabNode, count: number, recordBytes: number): Promise<number> {
    const s = await node.api.status();
    const bits = Number.parseInt(s.bits, 16);
    const target = bitsToTarget(bits);
    if (target === null) throw new Error(`bad bits ${s.bits}`);
    let prev = hexToHash(s.tip.hash);
    const start = Math.max(s.tip.time + 1, Math.floor(Date.now() / 1000) - 12 - Math.ceil(count / 2));
    // One second a block while fewer than 11 are behind (the median time past would catch up), then one
    // every two blocks.
    const timeOf = (i: number): number => start + (i < 12 ? i : 12 + Math.floor((i - 12) / 2));
    let bytes = 0;
    for (let i = 0; i < count; i++) {
      const data = new Uint8Array(recordBytes);
      new DataView(data.buffer).setUint32(0, i);
      const block = buildBlock({
        prevHash: prev,
        height: s.tip.height + 1 + i,
        bits,
        time: timeOf(i),
        miner: node.name,
        records: recordBytes > 0 ? [{ type: "data", data }] : [],
      });
      for (let nonce = 0; ; nonce++) {
        block.header.nonce = nonce;
        if (hashToBigInt(headerHashBytes(block.header)) <= target) break;
      }
      const raw = encodeBlock(block);
      const r = await node.api.submitBlock(raw);
      if (r.status !== "main") throw new Error(`block ${i} was ${r.status}`);
      bytes += raw.length;
      prev = headerHashBytes(block.header);
    }
    return bytes;
  }

  /**
   * Stops every node (SIGINT, then SIGKILL) and helper, copies the nodes' logs to `keepLogs` when set, and
   * removes the topology. Idempotent.
   */
  close(keepLogs?: string): Promise<void> {
    // A second call (Ctrl-C while the scenario unwinds) waits for the first one.
    this.closing ??= this.shutdown(keepLogs);
    return this.closing;
  }

  private async shutdown(keepLogs?: string): Promise<void> {
    for (const h of this.helpers) h.kill("SIGKILL");
    await Promise.all(this.nodes.filter(Boolean).map((n) => n.stop(5_000).catch(() => n.kill())));
    if (keepLogs) {
      mkdirSync(keepLogs, { recursive: true });
      for (const n of this.nodes.filter(Boolean))
        for (const f of readdirSync(n.spec.datadir).filter((x) => x.endsWith(".log")))
          copyFileSync(join(n.spec.datadir, f), join(keepLogs, `${n.name}-${f}`));
    }
    await this.topo.destroy();
  }
}
