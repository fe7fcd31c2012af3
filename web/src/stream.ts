import { z } from "zod";
import { BlockSummary, MiningView, ReorgView, SyncView } from "../../src/api/schemas.ts";

/**
 * The node's server-sent events (GET /api/events), parsed with schemas matching src/api/events.ts.
 * EventSource reconnects by itself after a dropped connection (the node announces `retry: 3000`); when
 * the browser gives up (the node answered with an error, or was gone when it retried), this module
 * reopens the stream itself with a growing delay. Every (re)connection starts with a `hello` event, on
 * which the explorer reloads what it may have missed.
 */

const hash = z.string().regex(/^[0-9a-f]{64}$/);

export const HelloEvent = z.object({ height: z.number().int(), hash, network: z.string() });
export const BlockEvent = BlockSummary.extend({ main: z.boolean() });
export const TipEvent = z.object({
  height: z.number().int(),
  hash,
  previous: z.object({ height: z.number().int(), hash }),
  reorgDepth: z.number().int(),
  left: z.array(hash),
  joined: z.array(hash),
});
/** record.pending / record.unconfirmed carry `{ id, type, size, time }`, record.confirmed `{ id, block, index }`. */
export const RecordEvent = z.looseObject({ id: hash });
export const PeerEvent = z.object({ event: z.string(), peer: z.string(), reason: z.string().optional() });

export type HelloEvent = z.infer<typeof HelloEvent>;
export type BlockEvent = z.infer<typeof BlockEvent>;
export type TipEvent = z.infer<typeof TipEvent>;
export type PeerEvent = z.infer<typeof PeerEvent>;

export interface StreamHandlers {
  hello(e: HelloEvent): void;
  block(e: BlockEvent): void;
  tip(e: TipEvent): void;
  reorg(e: ReorgView): void;
  peer(e: PeerEvent): void;
  mining(e: MiningView): void;
  sync(e: SyncView): void;
  /** A record entered the mempool, was confirmed, or came back after a reorg. */
  "record.pending"(e: z.infer<typeof RecordEvent>): void;
  "record.confirmed"(e: z.infer<typeof RecordEvent>): void;
  "record.unconfirmed"(e: z.infer<typeof RecordEvent>): void;
  /** An event whose data did not match its schema: the explorer resynchronizes from the API. */
  malformed(event: string): void;
}

export type StreamState = "connecting" | "live" | "reconnecting";

const schemas = {
  hello: HelloEvent,
  block: BlockEvent,
  tip: TipEvent,
  reorg: ReorgView,
  peer: PeerEvent,
  mining: MiningView,
  sync: SyncView,
  "record.pending": RecordEvent,
  "record.confirmed": RecordEvent,
  "record.unconfirmed": RecordEvent,
} as const;

/** Opens the event stream; returns a function that closes it for good. */
export function openStream(
  handlers: StreamHandlers,
  onState: (state: StreamState) => void,
  url = "/api/events",
): () => void {
  let source: EventSource | undefined;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let delay = 1000;
  let closed = false;

  const connect = (): void => {
    const es = new EventSource(url);
    source = es;
    for (const name of Object.keys(schemas) as (keyof typeof schemas)[]) {
      es.addEventListener(name, (msg: MessageEvent<string>) => {
        let data: unknown;
        try {
          data = JSON.parse(msg.data);
        } catch {
          handlers.malformed(name);
          return;
        }
        const parsed = schemas[name].safeParse(data);
        if (!parsed.success) {
          handlers.malformed(name);
          return;
        }
        if (name === "hello") {
          delay = 1000;
          onState("live");
        }
        // The schema table and the handler table share their keys, so each handler gets its own type.
        (handlers[name] as (e: unknown) => void)(parsed.data);
      });
    }
    es.onerror = () => {
      if (closed) return;
      onState("reconnecting");
      if (es.readyState === EventSource.CLOSED) {
        es.close();
        retry = setTimeout(connect, delay);
        delay = Math.min(delay * 2, 10_000);
      }
    };
  };

  onState("connecting");
  connect();
  return () => {
    closed = true;
    if (retry) clearTimeout(retry);
    source?.close();
  };
}
