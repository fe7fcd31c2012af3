import { useEffect, useState } from "preact/hooks";
import type { BlockClaim, BlockMark, FromWorker, LightStatus, ToWorker } from "./protocol.ts";

/**
 * The page's side of the light-client worker (worker.ts): one worker per page, its status for the views,
 * and `marks(blocks)` to hold blocks the node reports against the chain the browser verified. Views use
 * `useLight()` and `useMarks()`.
 */
export class LightStore {
  status: LightStatus = { phase: "starting", source: location.origin };
  private worker: Worker | undefined;
  private readonly listeners = new Set<() => void>();
  private readonly waiting = new Map<number, (marks: BlockMark[]) => void>();
  private nextId = 1;

  start(): void {
    try {
      this.worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
    } catch (err) {
      this.set({
        ...this.status,
        phase: "error",
        error: `this browser cannot run the light client: ${String(err)}`,
      });
      return;
    }
    this.worker.onmessage = (e: MessageEvent<FromWorker>) => {
      const m = e.data;
      if (m.type === "status") this.set(m.status);
      else {
        this.waiting.get(m.id)?.(m.marks);
        this.waiting.delete(m.id);
      }
    };
    this.worker.onerror = (e) => this.set({ ...this.status, phase: "error", error: e.message });
  }

  /** Each block against the browser-verified chain, after the worker has synced with the node again. */
  marks(blocks: BlockClaim[]): Promise<BlockMark[]> {
    if (!this.worker) return Promise.resolve([]);
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.send({ type: "query", id, blocks });
    });
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private send(m: ToWorker): void {
    this.worker?.postMessage(m);
  }

  private set(s: LightStatus): void {
    this.status = s;
    for (const fn of this.listeners) fn();
  }
}

let instance: LightStore | undefined;

/** The page's light client, started by the first component that asks. */
export function lightStore(): LightStore {
  if (!instance) {
    instance = new LightStore();
    instance.start();
  }
  return instance;
}

/** The light client's status; the caller re-renders when it changes. */
export function useLight(): LightStatus {
  const store = lightStore();
  const [status, setStatus] = useState(store.status);
  useEffect(() => {
    setStatus(store.status);
    return store.subscribe(() => setStatus(store.status));
  }, [store]);
  return status;
}

/**
 * Marks of `blocks` by hash, asked again whenever the verified tip moves; undefined until the first
 * answer. `key` names the set of blocks (their hashes joined) so a new list asks again.
 */
export function useMarks(blocks: BlockClaim[]): Map<string, BlockMark> | undefined {
  const status = useLight();
  const [marks, setMarks] = useState<Map<string, BlockMark> | undefined>();
  const key = blocks.map((b) => `${b.height}:${b.hash}`).join(",");
  const verified = status.verified?.hash;
  // Not the phase itself: every question starts a sync, which moves the phase, which would ask again.
  const started = status.phase !== "starting";
  useEffect(() => {
    let live = true;
    if (blocks.length === 0 || !started) return;
    lightStore()
      .marks(blocks)
      .then((m) => live && setMarks(new Map(m.map((x) => [x.hash, x]))));
    return () => {
      live = false;
    };
  }, [key, verified, started]);
  return marks;
}
