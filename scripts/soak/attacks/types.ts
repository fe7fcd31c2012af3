/** What the soak hands each attacker process, and how attackers count what they did. */

export interface SoakNode {
  name: string;
  url: string;
  /** The node's API token (from its data directory). */
  token: string;
}

export interface AttackConfig {
  nodes: SoakNode[];
  /** Body size of each attack block, in KiB. */
  blockKb: number;
  /** Attack blocks a second (side, future and orphan in turn). */
  blockRate: number;
  /** Record submissions a second of the mempool flooder. */
  floodRps: number;
  /** Concurrent heavy readers. */
  readers: number;
  /** Pause between one reader's requests, in ms. */
  readPauseMs: number;
}

/** Counters by label (`<what> <status> <code>`): what an attacker sent and how the nodes answered. */
export class Counts {
  private readonly map = new Map<string, number>();

  add(label: string, n = 1): void {
    this.map.set(label, (this.map.get(label) ?? 0) + n);
  }

  /** The counters as a plain object, labels sorted. */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.map].sort(([a], [b]) => a.localeCompare(b)));
  }
}

/** An attack: runs until `signal` is aborted, counting into `counts`. */
export type Attack = (cfg: AttackConfig, counts: Counts, signal: AbortSignal) => Promise<void>;
