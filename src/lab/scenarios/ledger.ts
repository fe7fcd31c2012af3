/**
 * Watching and auditing the ledger across lab nodes (used by `partition`): a live view of every node's
 * record events, and a final audit of the main chain and every node's record index.
 */
import type { StreamEvent } from "../../api/client.ts";
import type { LabNode } from "../nodes.ts";

interface RecordState {
  /** The block the node last said the record is in; undefined while pending. */
  block: string | undefined;
  /** When that event arrived (ms since the epoch, the lab's clock). */
  at: number;
}

/**
 * Follows `/api/events` on every node: `record.pending`, `record.confirmed` and `record.unconfirmed`
 * give each node's view of each record as it changes; every other event goes to `onOther`. The view is
 * for timing and progress; the audit (`auditLedger`) reads the nodes' answers, not the events.
 */
export class LedgerWatch {
  private readonly views = new Map<string, Map<string, RecordState>>();
  /** Per node: the ids it announced as `record.unconfirmed` (back in its mempool after a reorg), with when. */
  readonly unconfirmed = new Map<string, Map<string, number>>();
  private readonly abort = new AbortController();

  constructor(nodes: LabNode[], onOther: (node: LabNode, e: StreamEvent) => void = () => undefined) {
    for (const n of nodes) {
      const view = new Map<string, RecordState>();
      const back = new Map<string, number>();
      this.views.set(n.name, view);
      this.unconfirmed.set(n.name, back);
      void n.api
        .events((e) => {
          const d = e.data as { id?: string; block?: { hash?: string } };
          const at = Date.now();
          if (e.event === "record.confirmed" && d.id) view.set(d.id, { block: d.block?.hash, at });
          else if (e.event === "record.pending" && d.id) view.set(d.id, { block: undefined, at });
          else if (e.event === "record.unconfirmed" && d.id) {
            view.set(d.id, { block: undefined, at });
            back.set(d.id, at);
          } else onOther(n, e);
        }, this.abort.signal)
        .catch(() => undefined);
    }
  }

  /** Whether every one of `nodes` says each of `ids` is confirmed (in some block). */
  confirmedOnAll(nodes: LabNode[], ids: Iterable<string>): boolean {
    for (const id of ids)
      for (const n of nodes) if (this.views.get(n.name)?.get(id)?.block === undefined) return false;
    return true;
  }

  /** The ids of `ids` that some node of `nodes` does not yet show as confirmed. */
  missing(nodes: LabNode[], ids: Iterable<string>): string[] {
    return [...ids].filter((id) => nodes.some((n) => this.views.get(n.name)?.get(id)?.block === undefined));
  }

  /** The latest moment one of `nodes` confirmed one of `ids` (the last arrival in a wait for all of them). */
  lastConfirmedAt(nodes: LabNode[], ids: Iterable<string>): number {
    let last = 0;
    for (const id of ids)
      for (const n of nodes) last = Math.max(last, this.views.get(n.name)?.get(id)?.at ?? 0);
    return last;
  }

  close(): void {
    this.abort.abort();
  }
}

export interface LedgerAudit {
  /** Lab records not confirmed on every node at the end. */
  lost: string[];
  /** Record ids (any, the lab's or not) found more than once in the final main chain. */
  duplicates: string[];
  /** (node, id) pairs whose `GET /api/records/:id` names a block other than where the chain holds it. */
  indexWrong: string[];
}

/**
 * Reads the final main chain block by block on one node (all nodes share its tip: same hashes, same
 * blocks) and counts every record id in it; then asks every node for every lab record. A record is lost
 * when some node does not answer "confirmed" for it; the index is wrong when a node names a block other
 * than the one the chain scan found it in.
 */
export async function auditLedger(nodes: LabNode[], ids: readonly string[]): Promise<LedgerAudit> {
  const first = nodes[0]!;
  const tip = (await first.api.status()).tip.height;
  const where = new Map<string, string[]>();
  for (let h = 1; h <= tip; h++) {
    // The block view pages its records: read every page.
    for (let from: number | null = 0; from !== null; ) {
      const b = await first.api.block(h, { from, limit: 1000 });
      for (const r of b.records) {
        if (r.type === "miner") continue;
        where.set(r.id, [...(where.get(r.id) ?? []), b.hash]);
      }
      from = b.recordsNext;
    }
  }
  const duplicates = [...where].filter(([, blocks]) => blocks.length > 1).map(([id]) => id);
  const lost = new Set<string>();
  const indexWrong: string[] = [];
  await Promise.all(
    nodes.map(async (n) => {
      for (const id of ids) {
        const r = await n.api.record(id).catch(() => undefined);
        if (r?.status !== "confirmed") lost.add(id);
        else if (r.block?.hash !== where.get(id)?.[0]) indexWrong.push(`${n.name}:${id.slice(0, 12)}`);
      }
    }),
  );
  for (const id of ids) if (!where.has(id)) lost.add(id);
  return { lost: [...lost], duplicates, indexWrong };
}
