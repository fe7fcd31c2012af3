/** Sync's progress reports (`sync:progress`): when a running download is due one, and its figures. */
import type { SyncChain, SyncProgress } from "./types.ts";

/** When a download reports progress: past `progressMinBlocks`, at most once per interval. */
export class ProgressMeter {
  readonly startHeight: number;
  readonly t0 = performance.now();
  private last = this.t0;
  private readonly minBlocks: number;
  private readonly intervalMs: number;

  constructor(
    private readonly chain: SyncChain,
    opts: { progressMinBlocks?: number; progressIntervalMs?: number },
  ) {
    this.startHeight = chain.height;
    this.minBlocks = opts.progressMinBlocks ?? 300;
    this.intervalMs = opts.progressIntervalMs ?? 1_000;
  }

  /** The report due after a batch was imported towards `target`, if one is. */
  due(peer: string, target: number): SyncProgress | undefined {
    const now = performance.now();
    const height = this.chain.height;
    if (target - this.startHeight <= this.minBlocks || now - this.last < this.intervalMs) return undefined;
    this.last = now;
    const bps = ((height - this.startHeight) * 1000) / (now - this.t0);
    return { peer, height, target: Math.max(target, height), blocksPerSec: Math.round(bps) };
  }
}
