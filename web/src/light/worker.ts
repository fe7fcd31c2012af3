/// <reference lib="webworker" />
/**
 * The explorer's light client (issue 18, item 6), in a Web Worker so that checking 100,000 headers never
 * blocks the page: it fetches the node's headers (`GET /api/headers/raw`), checks every one from genesis
 * with src/light (the same code as `jbc headers sync`: linkage, proof of work, ASERT's bits, median time,
 * checkpoints), and answers the page's question "is this block, which the node reports, on the chain
 * this browser verified?".
 *
 * The light client keeps a window of headers (src/light/tree.ts); this worker also keeps the best chain's
 * hash and approximate chain work for every height it verified (40 bytes a height: 4 MB for 100,000),
 * so that a block far below the window can still be held against a hash this browser checked.
 */
import { hashToHex } from "../../../src/consensus/header.ts";
import { getNetwork } from "../../../src/consensus/params.ts";
import {
  type AddResult,
  HttpHeaderSource,
  LightClient,
  type LightFault,
  syncSource,
} from "../../../src/light/index.ts";
import type { BlockClaim, BlockMark, FromWorker, LightStatus, ToWorker } from "./protocol.ts";

declare const self: DedicatedWorkerGlobalScope;

/** A status while the first sync runs, at most this often. */
const PROGRESS_MS = 250;

/** A LightClient that records its best chain's hash and work for every height it verified. */
class IndexedClient extends LightClient {
  private hashes = new Uint8Array(32 * 1024);
  private work = new Float64Array(1024);
  /** Heights 0 .. length-1 are indexed. */
  length = 0;
  onProgress: (() => void) | undefined;

  override add(source: string, headers: readonly Uint8Array[], opts: { from?: number } = {}): AddResult {
    const r = super.add(source, headers, opts);
    this.reindex(r);
    this.onProgress?.();
    return r;
  }

  /** Re-indexes from the fork of a reorg (or the old end) up to the best tip. */
  private reindex(r: AddResult): void {
    let h = r.reorg ? Math.min(this.length, r.reorg.fork.height + 1) : this.length;
    for (; h <= this.best.height; h++) {
      const n = this.mainAt(h);
      // Below the window after a reorg deeper than it: those heights are no longer known.
      if (!n) break;
      this.put(h, n.hashBytes, Number(n.chainWork));
    }
    this.length = h;
  }

  private put(h: number, hash: Uint8Array, work: number): void {
    if (h >= this.work.length) {
      const hashes = new Uint8Array(this.hashes.length * 2);
      hashes.set(this.hashes);
      this.hashes = hashes;
      const w = new Float64Array(this.work.length * 2);
      w.set(this.work);
      this.work = w;
    }
    this.hashes.set(hash, h * 32);
    this.work[h] = work;
  }

  /** Display hash of the verified header at `h`. */
  private hashAt(h: number): string {
    return hashToHex(this.hashes.subarray(h * 32, h * 32 + 32));
  }

  /** A reported block against the verified chain. */
  mark(b: BlockClaim): BlockMark {
    const top = this.length - 1;
    if (!Number.isSafeInteger(b.height) || b.height < 0 || b.height > top)
      return { hash: b.hash, mark: "above", verifiedHeight: top };
    const mine = this.hashAt(b.height);
    if (mine !== b.hash) return { hash: b.hash, mark: "conflict", verifiedHash: mine };
    return {
      hash: b.hash,
      mark: "verified",
      confirmations: top - b.height + 1,
      workOnTop: this.work[top]! - (b.height > 0 ? this.work[b.height - 1]! : 0),
    };
  }
}

const source = new HttpHeaderSource(self.location.origin);
let client: IndexedClient | undefined;
let status: LightStatus = { phase: "starting", source: source.name };
let running: Promise<void> | undefined;
let again = false;
let lastProgress = 0;

function post(m: FromWorker): void {
  self.postMessage(m);
}

function setStatus(s: Partial<LightStatus>): void {
  status = { ...status, ...s };
  post({ type: "status", status });
}

const tipOf = (n: { height: number; hash: string; chainWork: bigint }) => ({
  height: n.height,
  hash: n.hash,
  chainWork: n.chainWork.toString(),
});

const faultView = (f: LightFault) => ({
  code: f.code,
  reason: f.reason,
  ...(f.height !== undefined ? { height: f.height } : {}),
  ...(f.hash !== undefined ? { hash: f.hash } : {}),
});

/** Builds the client for the network the node names (its genesis is checked by syncSource). */
async function open(): Promise<IndexedClient> {
  const tip = await source.tip();
  const c = new IndexedClient(getNetwork(tip.network));
  c.onProgress = () => {
    const now = performance.now();
    if (now - lastProgress < PROGRESS_MS) return;
    lastProgress = now;
    setStatus({ verified: tipOf(c.best) });
  };
  setStatus({ network: tip.network });
  return c;
}

async function syncOnce(): Promise<void> {
  const first = !client;
  setStatus({ phase: "syncing" });
  const t0 = performance.now();
  try {
    client ??= await open();
  } catch (err) {
    setStatus({ phase: "error", error: err instanceof Error ? err.message : String(err) });
    return;
  }
  const c = client;
  const report = await syncSource(c, source);
  const v = c.verdict(source.name);
  const fault = report.fault ?? (v.status === "faulty" ? v.fault : undefined);
  setStatus({
    phase: "ready",
    verified: tipOf(c.best),
    verdict: v.status,
    ...(report.claim ? { claim: tipOf(report.claim) } : {}),
    ...(fault ? { fault: faultView(fault) } : {}),
    ...(report.error ? { error: report.error } : { error: undefined }),
    ...(first ? { firstSync: { ms: Math.round(performance.now() - t0), headers: c.best.height } } : {}),
  });
}

/** One sync at a time; a request during one runs another after it (the node's tip moved meanwhile). */
function sync(): Promise<void> {
  if (running) {
    again = true;
    return running;
  }
  running = (async () => {
    do {
      again = false;
      await syncOnce();
    } while (again);
    running = undefined;
  })();
  return running;
}

self.onmessage = async (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  if (m.type === "query") {
    // Answer after a sync that started after the question: a block the node reports has had its chance
    // to be fetched and checked, and the answer never comes from a chain half checked.
    await sync();
    const c = client;
    const marks: BlockMark[] = m.blocks.map((b) =>
      c ? c.mark(b) : { hash: b.hash, mark: "above", verifiedHeight: -1 },
    );
    post({ type: "answer", id: m.id, marks });
  }
};

void sync();
