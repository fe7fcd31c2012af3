import { z } from "zod";
import { CheckpointView } from "./checkpoint.ts";
import { HeadersPage, MAX_HEADERS_PER_REQUEST } from "./headers.ts";
import {
  AddPeerBody,
  AuthorRecords,
  BlockDetail,
  BlockPage,
  Health,
  LegacyBlock,
  MempoolView,
  MinedResult,
  MiningResult,
  Ok,
  P2PInfo,
  Peers,
  Ready,
  RecordDetail,
  RecordId,
  Status,
  SubmitRecordsResult,
  SubmitResult,
  Tree,
} from "./schemas.ts";

/**
 * The handler groups (after Lodestar's `api/impl/<group>`): each route names one, and the server takes
 * its handler from that group's factory, so a route without a handler does not compile.
 */
export type ApiGroup = "node" | "blocks" | "headers" | "records" | "peers" | "mining" | "legacy";

/**
 * Every HTTP route, declared once as data (after Lodestar's packages/api routes): the server registers
 * handlers from this table and the client builds requests and parses responses from it.
 *
 * `response` is a zod schema for JSON routes, or says the body is something else: raw block bytes, a
 * server-sent event stream, or the legacy chain dump (a JSON array too long to buffer, streamed).
 * `auth` routes change the node: they need the API token unless the request comes from loopback. Every
 * POST also needs the token, the CLIENT_HEADER or a JSON / octet-stream body (src/api/guard.ts).
 */
export interface RouteDef {
  /** The handler group that serves it (src/api/handlers/<group>.ts). */
  readonly group: ApiGroup;
  readonly method: "GET" | "POST";
  readonly path: string;
  readonly params?: z.ZodType;
  readonly query?: z.ZodType;
  /** JSON body schema. Block submission also takes raw bytes, handled by the server itself. */
  readonly body?: z.ZodType;
  readonly response: z.ZodType | "bytes" | "sse";
  readonly auth?: boolean;
  /** Largest request body accepted, in bytes (default 64 KiB). */
  readonly bodyLimit?: number;
  readonly summary: string;
}

/** Raw blocks are at most 1 MB; 2 MB leaves room for the hex-in-JSON form of a large one. */
export const BLOCK_BODY_LIMIT = 2 * 1024 * 1024;
/** The legacy JSON form of a block carries hex records and is more verbose still. */
export const LEGACY_BODY_LIMIT = 4 * 1024 * 1024;
export const DEFAULT_BODY_LIMIT = 64 * 1024;
/** POST /api/records: up to MAX_RECORDS_PER_REQUEST records, or one of 64 KiB in hex or base64 JSON. */
export const RECORDS_BODY_LIMIT = 4 * 1024 * 1024;
/** Most records one POST /api/records may carry (a JSON array). */
export const MAX_RECORDS_PER_REQUEST = 1000;
export const MAX_PAGE = 100;
export const MAX_TREE_DEPTH = 1000;
/** Most records one page of a block view holds (docs/api.md, GET /api/blocks/:hashOrHeight). */
export const MAX_RECORDS_PAGE = 1000;
/** Records a block can hold at most: 2-byte records filling a 1 MB block. */
const MAX_BLOCK_RECORDS = 500_000;
/** Largest value of a u32 field (heights, record indexes, header fields): what the store and the wire hold. */
export const U32_MAX = 0xffffffff;

/**
 * The header a client sends to show that a state-changing request was not made by a web page: browsers
 * send a custom header across sites only after a preflight, which this API never grants (src/api/guard.ts).
 * Any non-empty value; jbc's client and explorer send their names.
 */
export const CLIENT_HEADER = "X-JBC-Client";

const hashOrHeight = z
  .string()
  .regex(/^(?:\d{1,10}|[0-9a-fA-F]{64})$/, "a height or a 64-digit block hash")
  .refine((s) => s.length === 64 || Number(s) <= U32_MAX, `a height is at most ${U32_MAX}`)
  .transform((s) => s.toLowerCase());
const blockHash = z
  .string()
  .regex(/^[0-9a-fA-F]{64}$/, "a 64-digit block hash")
  .transform((s) => s.toLowerCase());
/**
 * Query numbers arrive as strings and must be plain decimal integers: `0x10`, `+5`, `1e3`, ` 5` and
 * `5.0` are refused, not read as numbers. An empty value counts as absent; callers may pass numbers.
 */
const intParam = (min: number, max: number) =>
  z.preprocess(
    (v) => (v === "" ? undefined : typeof v === "number" ? String(v) : v),
    z
      .string()
      .regex(/^(?:0|[1-9]\d{0,15})$/, "expected a decimal integer")
      .describe(`a decimal integer from ${min} to ${max}`)
      .transform(Number)
      .pipe(z.number().int().min(min).max(max))
      .optional(),
  );

export const routes = {
  getHealth: {
    group: "node",
    method: "GET",
    path: "/api/health",
    response: Health,
    summary: "Liveness: the process answers (for a supervisor's probe)",
  },
  getReady: {
    group: "node",
    method: "GET",
    path: "/api/ready",
    response: Ready,
    summary:
      "Readiness: store open, P2P up, not syncing, a peer when peers were configured; 503 NOT_READY otherwise",
  },
  getOpenApi: {
    group: "node",
    method: "GET",
    path: "/api/openapi.json",
    response: z.record(z.string(), z.unknown()),
    summary:
      "This document: the API in OpenAPI 3.1, generated from the route table (reference page: /api/docs)",
  },
  getStatus: {
    group: "node",
    method: "GET",
    path: "/api/status",
    response: Status,
    summary: "Network, tip, work, difficulty, peers, mining and sync state",
  },
  getBlocks: {
    group: "blocks",
    method: "GET",
    path: "/api/blocks",
    query: z.object({ limit: intParam(1, MAX_PAGE), before: intParam(0, 2 ** 32) }).strict(),
    response: BlockPage,
    summary: "Main-chain block summaries, newest first, paged by height",
  },
  getBlock: {
    group: "blocks",
    method: "GET",
    path: "/api/blocks/:id",
    params: z.object({ id: hashOrHeight }),
    query: z.object({ from: intParam(0, MAX_BLOCK_RECORDS), limit: intParam(1, MAX_RECORDS_PAGE) }).strict(),
    response: BlockDetail,
    summary:
      "One block (main or side) by hash, or the main-chain block at a height, with a page of its records",
  },
  getRawBlock: {
    group: "blocks",
    method: "GET",
    path: "/api/blocks/:hash/raw",
    params: z.object({ hash: blockHash }),
    response: "bytes",
    summary: "The serialized block (application/octet-stream)",
  },
  submitBlock: {
    group: "blocks",
    method: "POST",
    path: "/api/blocks",
    response: SubmitResult,
    bodyLimit: BLOCK_BODY_LIMIT,
    summary: "Submit a serialized block (octet-stream, or JSON { hex }) to processBlock",
  },
  getTree: {
    group: "blocks",
    method: "GET",
    path: "/api/tree",
    query: z.object({ depth: intParam(1, MAX_TREE_DEPTH) }).strict(),
    response: Tree,
    summary: "The recent block tree with side branches",
  },
  getHeaders: {
    group: "headers",
    method: "GET",
    path: "/api/headers",
    query: z.object({ from: intParam(0, 2 ** 32), count: intParam(0, MAX_HEADERS_PER_REQUEST) }).strict(),
    response: HeadersPage,
    summary:
      "The node's tip and its main-chain headers from a height (hex; count 0 for the tip alone); raw bytes with Accept: application/octet-stream",
  },
  getCheckpoint: {
    group: "headers",
    method: "GET",
    path: "/api/checkpoint",
    response: CheckpointView,
    summary:
      "The latest witnessed checkpoint with its cosignatures, the final one and equivocation reports; the C2SP signed note itself with Accept: text/plain",
  },
  getRawHeaders: {
    group: "headers",
    method: "GET",
    path: "/api/headers/raw",
    query: z.object({ from: intParam(0, 2 ** 32), count: intParam(1, MAX_HEADERS_PER_REQUEST) }).strict(),
    response: "bytes",
    summary: "Main-chain headers from a height: 80 bytes each, concatenated (application/octet-stream)",
  },
  getPeers: {
    group: "peers",
    method: "GET",
    path: "/api/peers",
    response: Peers,
    summary: "Connected peers",
  },
  addPeer: {
    group: "peers",
    method: "POST",
    path: "/api/peers",
    body: AddPeerBody,
    response: Ok,
    auth: true,
    summary: "Dial a peer by multiaddr or by another node's HTTP URL",
  },
  getP2P: {
    group: "peers",
    method: "GET",
    path: "/api/p2p",
    response: P2PInfo,
    summary: "This node's libp2p peer id and listen addresses",
  },
  startMining: {
    group: "mining",
    method: "POST",
    path: "/api/mining/start",
    response: MiningResult,
    auth: true,
    summary: "Start the miner",
  },
  stopMining: {
    group: "mining",
    method: "POST",
    path: "/api/mining/stop",
    response: MiningResult,
    auth: true,
    summary: "Stop the miner",
  },
  events: {
    group: "node",
    method: "GET",
    path: "/api/events",
    response: "sse",
    summary: "Server-sent events: block, tip, reorg, peer, mining, sync, checkpoint, record.*",
  },
  submitRecords: {
    group: "records",
    method: "POST",
    path: "/api/records",
    response: SubmitRecordsResult,
    bodyLimit: RECORDS_BODY_LIMIT,
    summary:
      "Submit records to the mempool: one JSON record, an array of up to 1,000, or application/octet-stream data (202)",
  },
  getRecord: {
    group: "records",
    method: "GET",
    path: "/api/records/:id",
    params: z.object({ id: RecordId }),
    response: RecordDetail,
    summary: "One record by id: pending, or confirmed with its block, confirmations and inclusion proof",
  },
  getRecords: {
    group: "records",
    method: "GET",
    path: "/api/records",
    query: z
      .object({
        author: z
          .string()
          .regex(/^[0-9a-fA-F]{64}$/, "a 64-digit ed25519 public key")
          .transform((s) => s.toLowerCase()),
        limit: intParam(1, MAX_PAGE),
        // Both halves are u32 in the author index's keys: a larger one cannot name a place.
        before: z
          .string()
          .regex(/^\d{1,10}:\d{1,10}$/, "height:index, the `next` of the previous page")
          .refine(
            (s) => s.split(":").every((n) => Number(n) <= U32_MAX),
            `height and index are each at most ${U32_MAX}`,
          )
          .optional(),
      })
      .strict(),
    response: AuthorRecords,
    summary: "An author's confirmed signed records, newest first, paged by a height:index cursor",
  },
  getMempool: {
    group: "records",
    method: "GET",
    path: "/api/mempool",
    query: z.object({ limit: intParam(0, 1000), after: RecordId.optional() }).strict(),
    response: MempoolView,
    summary: "Pending records: count, bytes, oldest age and a page of ids in arrival order",
  },
  legacyChain: {
    group: "legacy",
    method: "GET",
    path: "/blockchain.json",
    response: z.array(LegacyBlock),
    summary: "The main chain in the original JackBlockChain's JSON shape (streamed)",
  },
  legacyMined: {
    group: "legacy",
    method: "POST",
    path: "/mined",
    body: LegacyBlock,
    response: MinedResult,
    bodyLimit: LEGACY_BODY_LIMIT,
    summary: "Submit a block in the /blockchain.json shape (the original's broadcast endpoint)",
  },
} as const satisfies Record<string, RouteDef>;

export type Routes = typeof routes;
export type RouteName = keyof Routes;

type Field<R, K extends string> = R extends { [P in K]: infer S extends z.ZodType } ? S : undefined;

/** What a caller passes: the schemas' input types (query numbers may be given as numbers). */
export type RouteArgs<N extends RouteName> = (Field<Routes[N], "params"> extends z.ZodType
  ? { params: z.input<Field<Routes[N], "params">> }
  : { params?: undefined }) &
  (Field<Routes[N], "query"> extends z.ZodType
    ? { query?: z.input<Field<Routes[N], "query">> }
    : { query?: undefined }) &
  (Field<Routes[N], "body"> extends z.ZodType
    ? { body: z.input<Field<Routes[N], "body">> }
    : { body?: undefined });

/** What a handler returns and the client resolves with. */
export type RouteResponse<N extends RouteName> = Routes[N]["response"] extends z.ZodType
  ? z.output<Routes[N]["response"]>
  : Routes[N]["response"] extends "bytes"
    ? Uint8Array
    : never;

/** The path with `:name` segments filled in from `params`. */
export function buildPath(path: string, params: Record<string, unknown> | undefined): string {
  return path.replace(/:([A-Za-z]+)/g, (_, name: string) => {
    const v = params?.[name];
    if (v === undefined) throw new TypeError(`missing path parameter ${name}`);
    return encodeURIComponent(String(v));
  });
}
