/**
 * The soak's two well-behaved clients, in the soak's own process (which does no heavy work, so what they
 * measure is the nodes): a health prober timing `GET /api/health` on every node, and an honest client
 * submitting small records at a modest rate and checking that they confirm.
 */
import { Agent } from "node:http";
import { percentile } from "../../bench/stats.ts";
import type { SoakNode } from "./attacks/types.ts";
import { call, errorCode, sleep } from "./http.ts";

/** Latencies and failures of one node's health checks since the last `take`. */
export interface HealthWindow {
  n: number;
  failed: number;
  p99: number | null;
}

/**
 * `GET /api/health` on each node every `intervalMs` over a keep-alive connection of its own; a check fails
 * when it gets no 200 within `timeoutMs`.
 */
export class HealthProbe {
  private readonly window = new Map<string, { ms: number[]; failed: number }>();
  /** Every answered check's latency (ms), the whole run. */
  readonly all: number[] = [];
  failed = 0;
  private readonly ctl = new AbortController();
  private loops: Promise<void>[] = [];

  constructor(
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
  ) {}

  /** Starts probing `node` (until stop). */
  watch(node: SoakNode): void {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    this.window.set(node.name, { ms: [], failed: 0 });
    const loop = async (): Promise<void> => {
      while (!this.ctl.signal.aborted) {
        const t0 = performance.now();
        const r = await call(node.url, "/api/health", { agent, timeoutMs: this.timeoutMs, keep: 256 });
        if (this.ctl.signal.aborted) break;
        const w = this.window.get(node.name)!;
        if (r.status === 200) {
          w.ms.push(r.ms);
          this.all.push(r.ms);
        } else {
          w.failed++;
          this.failed++;
        }
        await sleep(Math.max(0, this.intervalMs - (performance.now() - t0)), this.ctl.signal);
      }
      agent.destroy();
    };
    this.loops.push(loop());
  }

  /** The window of `node` since the last call, and a fresh one started. */
  take(name: string): HealthWindow {
    const w = this.window.get(name);
    if (!w) return { n: 0, failed: 0, p99: null };
    this.window.set(name, { ms: [], failed: 0 });
    return { n: w.ms.length, failed: w.failed, p99: w.ms.length ? percentile(w.ms, 99) : null };
  }

  async stop(): Promise<void> {
    this.ctl.abort();
    await Promise.all(this.loops);
  }
}

/** What the honest client saw. */
export interface HonestStats {
  submitted: number;
  admitted: number;
  refused: Record<string, number>;
  confirmed: number;
  /** Admitted records not confirmed when the soak ended, and of those, admitted over `lateS` ago. */
  pending: number;
  late: number;
  /** Late records by the node they were submitted to. */
  late_by_node: Record<string, number>;
  confirm_p50_s: number | null;
  confirm_max_s: number | null;
}

/**
 * An honest client at 127.0.0.2 (a source of its own for the mempool's shares): one 200-byte record every
 * `everyMs` to each node in turn, and a look every 5 s at whether its pending records were confirmed.
 */
export class HonestClient {
  private readonly pending = new Map<string, { node: SoakNode; at: number }>();
  private readonly confirmS: number[] = [];
  private readonly refused: Record<string, number> = {};
  private submitted = 0;
  private admitted = 0;
  private readonly ctl = new AbortController();
  private loops: Promise<void>[] = [];

  constructor(
    private readonly nodes: SoakNode[],
    private readonly everyMs: number,
  ) {}

  start(): void {
    this.loops = [this.submitLoop(), this.confirmLoop()];
  }

  private async submitLoop(): Promise<void> {
    for (let i = 0; !this.ctl.signal.aborted; i++) {
      const node = this.nodes[i % this.nodes.length]!;
      const data = new TextEncoder().encode(`honest record ${i} ${Date.now()} `.padEnd(200, "."));
      const r = await call(node.url, "/api/records", {
        method: "POST",
        localAddress: "127.0.0.2",
        headers: { "content-type": "application/octet-stream", "x-jbc-client": "soak-honest" },
        body: data,
        keep: 4096,
      });
      this.submitted++;
      if (r.status === 202) {
        this.admitted++;
        this.pending.set((JSON.parse(r.text) as { id: string }).id, { node, at: Date.now() });
      } else {
        const code = `${r.status} ${errorCode(r.text) ?? r.error ?? ""}`.trim();
        this.refused[code] = (this.refused[code] ?? 0) + 1;
      }
      await sleep(this.everyMs, this.ctl.signal);
    }
  }

  private async confirmLoop(): Promise<void> {
    while (!this.ctl.signal.aborted) {
      await sleep(5_000, this.ctl.signal);
      for (const [id, { node, at }] of [...this.pending]) {
        const r = await call(node.url, `/api/records/${id}`, { keep: 1 << 16, localAddress: "127.0.0.2" });
        if (r.status === 200 && (JSON.parse(r.text) as { status: string }).status === "confirmed") {
          this.pending.delete(id);
          this.confirmS.push((Date.now() - at) / 1000);
        }
      }
    }
  }

  async stop(): Promise<void> {
    this.ctl.abort();
    await Promise.all(this.loops);
  }

  stats(lateS = 120): HonestStats {
    const now = Date.now();
    const lateOnes = [...this.pending.values()].filter((p) => now - p.at > lateS * 1000);
    const late_by_node: Record<string, number> = {};
    for (const p of lateOnes) late_by_node[p.node.name] = (late_by_node[p.node.name] ?? 0) + 1;
    const round = (x: number | null) => (x === null ? null : Number(x.toFixed(1)));
    return {
      submitted: this.submitted,
      admitted: this.admitted,
      refused: this.refused,
      confirmed: this.confirmS.length,
      pending: this.pending.size,
      late: lateOnes.length,
      late_by_node,
      confirm_p50_s: round(this.confirmS.length ? percentile(this.confirmS, 50) : null),
      confirm_max_s: round(this.confirmS.length ? Math.max(...this.confirmS) : null),
    };
  }
}
