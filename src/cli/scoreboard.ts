import { ApiClient } from "../api/client.ts";
import type { Status } from "../api/schemas.ts";
import { errorMessage } from "../util/errors.ts";
import { formatHashRate } from "../util/format.ts";

/** One node the scoreboard watches. */
export interface WatchedNode {
  label: string;
  url: string;
  /** Miner name the node writes into its blocks, to credit main-chain blocks to it. */
  miner: string;
  /** Set by the owner when the process is gone. */
  exited?: string;
}

interface NodeState {
  status?: Status;
  error?: string;
  reorgs: number;
  deepest: number;
}

/**
 * Live picture of a local network: per node its tip and whether the tips agree, blocks it won on the
 * main chain, reorgs it went through, hash rate; overall the forks (side blocks) seen. Polls
 * /api/status, reads main-chain winners from /api/blocks incrementally, and follows /api/events for
 * reorgs and side blocks.
 */
export class Scoreboard {
  private readonly states: NodeState[];
  private readonly clients: ApiClient[];
  /** Main chain of the node with the most work, height → (hash, miner). */
  private readonly main = new Map<number, { hash: string; miner: string }>();
  private readonly sideBlocks = new Set<string>();
  private readonly abort = new AbortController();
  private readonly started = Date.now();

  constructor(readonly nodes: WatchedNode[]) {
    this.states = nodes.map(() => ({ reorgs: 0, deepest: 0 }));
    this.clients = nodes.map((n) => new ApiClient(n.url, { timeoutMs: 3000 }));
  }

  /** Starts following every node's event stream (reconnecting while the scoreboard runs). */
  follow(): void {
    this.clients.forEach((c, i) => void this.followOne(c, i));
  }

  private async followOne(client: ApiClient, i: number): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted && !this.nodes[i]!.exited) {
      try {
        await client.events((e) => {
          if (e.event === "reorg" && e.data && typeof e.data === "object" && "depth" in e.data) {
            const st = this.states[i]!;
            st.reorgs++;
            st.deepest = Math.max(st.deepest, Number(e.data.depth));
          } else if (e.event === "block" && e.data && typeof e.data === "object") {
            const d = e.data as { hash?: unknown; main?: unknown };
            if (d.main === false && typeof d.hash === "string") this.sideBlocks.add(d.hash);
          }
        }, signal);
      } catch {
        // Node not up yet or gone: retry below.
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  /** Refreshes every node's status and the main-chain winners. */
  async poll(): Promise<void> {
    await Promise.all(
      this.clients.map(async (c, i) => {
        const st = this.states[i]!;
        // A node that exited is not asked again: whatever answers on its port now is not it.
        if (this.nodes[i]!.exited) {
          st.status = undefined;
          return;
        }
        try {
          st.status = await c.status();
          st.error = undefined;
        } catch (err) {
          st.error = errorMessage(err);
        }
      }),
    );
    let best: { i: number; status: Status } | undefined;
    this.states.forEach((s, i) => {
      if (s.status && (!best || BigInt(s.status.totalWork) > BigInt(best.status.totalWork))) {
        best = { i, status: s.status };
      }
    });
    if (best) {
      try {
        await this.updateMain(this.clients[best.i]!, best.status.tip.height, best.status.tip.hash);
      } catch {
        // Next poll will catch up.
      }
    }
  }

  /** Pages the reference node's main chain down from its tip until it meets what is already known. */
  private async updateMain(client: ApiClient, tipHeight: number, tipHash: string): Promise<void> {
    for (const h of [...this.main.keys()]) if (h > tipHeight) this.main.delete(h);
    if (this.main.get(tipHeight)?.hash === tipHash) return;
    let before = tipHeight + 1;
    for (let pages = 0; pages < 20; pages++) {
      const page = await client.blocks({ limit: 100, before });
      let met = false;
      for (const b of page.blocks) {
        if (this.main.get(b.height)?.hash === b.hash) {
          met = true;
          break;
        }
        this.main.set(b.height, { hash: b.hash, miner: b.miner });
      }
      if (met || page.next === null) return;
      before = page.next;
    }
  }

  stop(): void {
    this.abort.abort();
  }

  private wins(): Map<string, number> {
    const out = new Map<string, number>();
    for (const { miner } of this.main.values()) out.set(miner, (out.get(miner) ?? 0) + 1);
    return out;
  }

  /** The full table, for a terminal. */
  render(explorer: string): string {
    const wins = this.wins();
    const mainBlocks = Math.max(0, this.main.size - 1);
    const tips = this.states.map((s) => s.status?.tip.hash).filter((h): h is string => h !== undefined);
    const agree = tips.length === this.nodes.length && new Set(tips).size === 1;
    const rows = this.nodes.map((n, i) => {
      const s = this.states[i]!;
      const st = s.status;
      const won = wins.get(n.miner) ?? 0;
      const share = mainBlocks ? `${((won / mainBlocks) * 100).toFixed(0)}%` : "-";
      const state =
        n.exited ?? (st ? (st.syncing ? "syncing" : st.mining.running ? "mining" : "idle") : "starting");
      return [
        n.label,
        st ? String(st.tip.height) : "-",
        st ? st.tip.hash.slice(0, 12) : "-",
        st ? (st.tip.hash === this.main.get(st.tip.height)?.hash ? "yes" : "no") : "-",
        String(won),
        share,
        st ? formatHashRate(st.mining.hashRate) : "-",
        st ? String(st.peers) : "-",
        `${s.reorgs}${s.deepest ? ` (max ${s.deepest})` : ""}`,
        state,
      ];
    });
    const header = [
      "node",
      "height",
      "tip",
      "on best",
      "won",
      "share",
      "hash rate",
      "peers",
      "reorgs",
      "state",
    ];
    const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
    const line = (cells: string[]): string => cells.map((x, c) => x.padEnd(widths[c]!)).join("  ");
    const elapsed = Math.round((Date.now() - this.started) / 1000);
    return [
      `jbc devnet: ${this.nodes.length} mining nodes, ${elapsed}s   explorer: ${explorer}`,
      "",
      line(header),
      line(widths.map((w) => "-".repeat(w))),
      ...rows.map(line),
      "",
      `main chain: ${mainBlocks} blocks after genesis; tips ${agree ? "agree" : "differ"}; ` +
        `forks seen: ${this.sideBlocks.size} side block(s); reorgs: ${this.states.reduce((a, s) => a + s.reorgs, 0)}`,
      "Ctrl-C stops every node.",
    ].join("\n");
  }

  /** One line, for logs and pipes. */
  summaryLine(): string {
    const wins = this.wins();
    const heights = this.states.map((s) => (s.status ? s.status.tip.height : "-")).join(",");
    const won = this.nodes.map((n) => wins.get(n.miner) ?? 0).join(",");
    const tips = this.states.map((s) => s.status?.tip.hash);
    const agree = tips.every((t) => t !== undefined && t === tips[0]);
    const reorgs = this.states.reduce((a, s) => a + s.reorgs, 0);
    const elapsed = Math.round((Date.now() - this.started) / 1000);
    return `t=${elapsed}s heights=[${heights}] agree=${agree ? "yes" : "no"} won=[${won}] forks=${this.sideBlocks.size} reorgs=${reorgs}`;
  }
}
