import type { ServerResponse } from "node:http";
import type { ChainEntry, Reorg } from "../chain/types.ts";
import { type Block, recordIds } from "../consensus/block.ts";
import { hashToHex } from "../consensus/header.ts";
import type { MempoolEntry } from "../mempool/index.ts";
import type { ApiBackend, BackendEvents } from "./backend.ts";
import { reorgView, summary } from "./views.ts";

/** Event names on GET /api/events. */
export type StreamEventName =
  | "hello"
  | "block"
  | "tip"
  | "reorg"
  | "peer"
  | "mining"
  | "sync"
  | "checkpoint"
  | "record.pending"
  | "record.confirmed"
  | "record.unconfirmed";

export interface EventHubOptions {
  /** Comment line sent this often so proxies and clients see the stream is alive (default 15 s). */
  heartbeatMs?: number;
  /** Client reconnect delay announced with `retry:` (default 3 s). */
  retryMs?: number;
  /** A client that lets this much output queue up is too slow and is dropped (default 1 MiB). */
  maxBuffered?: number;
  /** Most streams open at once (default 256): each may hold up to maxBuffered of queued output. */
  maxClients?: number;
}

/**
 * Fans node events out to server-sent-event clients. Each event is serialized once for every client.
 * The hub listens to the chain and the backend only while at least one client is connected, and a client
 * that disconnects (or falls too far behind) is forgotten at once.
 */
export class EventHub {
  private readonly clients = new Set<ServerResponse>();
  private nextId = 1;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly heartbeatMs: number;
  private readonly retryMs: number;
  private readonly maxBuffered: number;
  readonly maxClients: number;
  private readonly detach: Array<() => void> = [];

  constructor(
    private readonly backend: ApiBackend,
    opts: EventHubOptions = {},
  ) {
    this.heartbeatMs = opts.heartbeatMs ?? 15_000;
    this.retryMs = opts.retryMs ?? 3_000;
    this.maxBuffered = opts.maxBuffered ?? 1 << 20;
    this.maxClients = opts.maxClients ?? 256;
  }

  /** Whether another stream may be opened now. */
  get full(): boolean {
    return this.clients.size >= this.maxClients;
  }

  get size(): number {
    return this.clients.size;
  }

  /** Takes over a response for the event stream; it stays open until the client leaves or close(). */
  add(res: ServerResponse): void {
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    res.write(`retry: ${this.retryMs}\n\n`);
    if (this.clients.size === 0) this.attach();
    this.clients.add(res);
    const chain = this.backend.chain;
    this.sendTo(res, "hello", { height: chain.height, hash: chain.tip.hash, network: chain.params.name });
    const drop = (): void => this.remove(res);
    res.on("close", drop);
    res.on("error", drop);
  }

  /** Ends every stream and stops listening (server shutdown). */
  close(): void {
    for (const res of this.clients) res.end();
    this.clients.clear();
    this.stopListening();
  }

  private remove(res: ServerResponse): void {
    if (!this.clients.delete(res)) return;
    if (this.clients.size === 0) this.stopListening();
  }

  private attach(): void {
    const { chain, events } = this.backend;
    const params = chain.params;
    const onConnected = (e: ChainEntry, b: Block): void => {
      this.broadcast("block", { ...summary(e, params), main: true });
      // One event per record the block confirms (the miner record is the block's own).
      if (b.records.length < 2 || !this.backend.records) return;
      const ids = recordIds(b);
      const block = { hash: e.hash, height: e.height, time: e.header.time };
      for (let i = 1; i < ids.length; i++)
        this.broadcast("record.confirmed", { id: hashToHex(ids[i]!), block, index: i });
    };
    // A record entering the pool: new (admitted, loaded), or back after a reorg left its block.
    const onAdded = (entry: MempoolEntry): void =>
      this.broadcast(entry.source.kind === "reorg" ? "record.unconfirmed" : "record.pending", {
        id: entry.id,
        type: entry.record.type,
        size: entry.bytes.length,
        time: entry.time,
      });
    const onSide = (e: ChainEntry): void => this.broadcast("block", { ...summary(e, params), main: false });
    const onTip = (ev: { tip: ChainEntry; previous: ChainEntry; reorg?: Reorg }): void => {
      const reorg = ev.reorg ? reorgView(ev.reorg) : undefined;
      this.broadcast("tip", {
        height: ev.tip.height,
        hash: ev.tip.hash,
        previous: { height: ev.previous.height, hash: ev.previous.hash },
        reorgDepth: reorg?.depth ?? 0,
        left: reorg?.left ?? [],
        joined: reorg ? reorg.joined : [ev.tip.hash],
      });
      if (reorg) this.broadcast("reorg", reorg);
    };
    const relay =
      <K extends keyof BackendEvents>(name: K & StreamEventName) =>
      (...args: BackendEvents[K]): void =>
        this.broadcast(name, args[0]);
    const onPeer = relay("peer");
    const onMining = relay("mining");
    const onSync = relay("sync");
    const onCheckpoint = relay("checkpoint");
    chain.on("connected", onConnected);
    chain.on("side", onSide);
    chain.on("tip", onTip);
    events.on("peer", onPeer);
    events.on("mining", onMining);
    events.on("sync", onSync);
    events.on("checkpoint", onCheckpoint);
    const mempool = this.backend.records?.mempool;
    if (mempool) {
      mempool.on("added", onAdded);
      this.detach.push(() => mempool.off("added", onAdded));
    }
    this.detach.push(
      () => chain.off("connected", onConnected),
      () => chain.off("side", onSide),
      () => chain.off("tip", onTip),
      () => events.off("peer", onPeer),
      () => events.off("mining", onMining),
      () => events.off("sync", onSync),
      () => events.off("checkpoint", onCheckpoint),
    );
    this.heartbeat = setInterval(() => this.writeAll(": ping\n\n"), this.heartbeatMs);
    this.heartbeat.unref();
  }

  private stopListening(): void {
    for (const d of this.detach.splice(0)) d();
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private frame(event: StreamEventName, data: unknown): string {
    return `id: ${this.nextId++}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
  }

  private sendTo(res: ServerResponse, event: StreamEventName, data: unknown): void {
    this.write(res, this.frame(event, data));
  }

  private broadcast(event: StreamEventName, data: unknown): void {
    if (this.clients.size) this.writeAll(this.frame(event, data));
  }

  private writeAll(text: string): void {
    for (const res of [...this.clients]) this.write(res, text);
  }

  private write(res: ServerResponse, text: string): void {
    if (res.writableLength > this.maxBuffered) {
      this.remove(res);
      res.destroy();
      return;
    }
    res.write(text);
  }
}
