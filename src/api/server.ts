import { timingSafeEqual } from "node:crypto";
import { type IncomingMessage, type ServerResponse, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { Readable } from "node:stream";
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
  type RawServerDefault,
} from "fastify";
import type { z } from "zod";
import { decodeBlock } from "../consensus/block.ts";
import { DecodeError, fromHex } from "../consensus/bytes.ts";
import { headerHash } from "../consensus/header.ts";
import { errorMessage } from "../util/errors.ts";
import { type Logger, silentLogger } from "../util/logger.ts";
import type { ApiBackend } from "./backend.ts";
import { type DevnetOptions, registerDevnetRoutes } from "./devnet.ts";
import { registerApiDocs } from "./docs-page.ts";
import { toErrorResponse } from "./errors.ts";
import { EventHub, type EventHubOptions } from "./events.ts";
import { blockFromLegacy, LegacyJsonCache, streamLegacyChain } from "./legacy.ts";
import { registerMetrics } from "./metrics.ts";
import { openApiDocument } from "./openapi.ts";
import { checkPeerAddress } from "./peer-address.ts";
import { RecordsApi, type RecordsApiOptions } from "./records.ts";
import { DEFAULT_BODY_LIMIT, type RouteName, type RouteResponse, type Routes, routes } from "./routes.ts";
import { ApiError, SubmitHexBody } from "./schemas.ts";
import { registerExplorer } from "./static.ts";
import { bitsHex, blockDetail, difficulty, submitResult, summary, treeNode } from "./views.ts";

export interface ApiServerOptions {
  backend: ApiBackend;
  logger?: Logger;
  /**
   * Bearer token for routes that change the node when the request is not from loopback. Without one,
   * such requests from other hosts are always refused.
   */
  token?: string;
  /** Directory of the built explorer (index.html and assets), served at `/` when it exists. */
  webRoot?: string;
  /** Reported in /api/status. */
  version?: string;
  events?: EventHubOptions;
  /** Bytes of serialized /blockchain.json blocks kept between requests (default 16 MiB; 0 disables). */
  legacyCacheBytes?: number;
  /**
   * Time a client has to send a whole request, headers and body, in ms (default 30 s): a client that
   * stops sending mid-request is answered 408 and disconnected instead of holding the connection forever.
   * Responses (SSE, /blockchain.json) are not limited by it.
   */
  requestTimeoutMs?: number;
  /** Sibling nodes of a devnet, for GET /api/devnet. */
  devnet?: Omit<DevnetOptions, "backend">;
  /** Per-client submission rate of the record routes. */
  records?: RecordsApiOptions;
}

type Out<R, K extends string> = R extends { [P in K]: infer S extends z.ZodType } ? z.output<S> : undefined;

/** A request after its params, query and body passed their schemas. */
interface Input<N extends RouteName> {
  params: Out<Routes[N], "params">;
  query: Out<Routes[N], "query">;
  body: Out<Routes[N], "body">;
  req: FastifyRequest;
  reply: FastifyReply;
}

const DEFAULT_PAGE = 20;
/** Concurrent GET /blockchain.json streams. */
const MAX_CHAIN_DOWNLOADS = 8;
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const DEFAULT_TREE_DEPTH = 50;
/** Most of an oversized body read (and discarded) to deliver its 413; past it the connection is cut. */
const MAX_DRAIN_BYTES = 64 * 1024 * 1024;

/** Reads `req` to its end, discarding it; destroys it past `max` bytes. Resolves when it is done. */
function drain(req: IncomingMessage, max: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const done = (): void => {
      req.removeListener("data", onData);
      resolve();
    };
    const onData = (chunk: Buffer): void => {
      seen += chunk.length;
      if (seen > max) {
        req.destroy();
        done();
      }
    };
    req.on("data", onData);
    req.once("end", done);
    req.once("close", done);
    req.once("error", done);
    req.resume();
  });
}

/** True for 127.0.0.0/8 and ::1, plain or IPv4-mapped. Forwarding headers are never trusted. */
export function isLoopback(addr: string | undefined): boolean {
  if (!addr) return false;
  const a = addr.startsWith("::ffff:") ? addr.slice(7) : addr;
  return a === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

function tokenMatches(header: string | undefined, token: string | undefined): boolean {
  if (!token || !header) return false;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!m) return false;
  const given = Buffer.from(m[1]!);
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

/**
 * Answers what Node's HTTP parser refuses before Fastify sees a request (a broken request line or header,
 * headers too large, a request that did not arrive in time) with the one error shape, then closes the
 * connection. Connection resets need no answer.
 */
function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const [status, code, message]: [number, string, string] =
    err.code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? [408, "REQUEST_TIMEOUT", "the request did not arrive in time"]
      : err.code === "HPE_HEADER_OVERFLOW"
        ? [431, "HEADERS_TOO_LARGE", "the request headers are too large"]
        : [400, "BAD_REQUEST", "malformed HTTP request"];
  const body = JSON.stringify({ error: { code, message } });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

function parsePart<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value ?? (what === "body" ? undefined : {}));
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => `${i.path.length ? `${i.path.join(".")}: ` : ""}${i.message}`);
  throw new ApiError(400, "BAD_REQUEST", `invalid ${what}: ${issues.join("; ")}`, {
    issues: r.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })),
  });
}

/**
 * Builds the HTTP API on Fastify from the route table. Every failure, Fastify's own included, answers
 * with `{ error: { code, message } }`; the caller decides where to listen.
 */
export type ApiServer = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, Logger>;

export async function createApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const { backend } = opts;
  const chain = backend.chain;
  const log = opts.logger ?? silentLogger;
  const started = Date.now();
  const requestTimeout = Math.max(1, opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
  const app = Fastify({
    // Fastify's default (0) turns off Node's own limit: without it a client could hold a connection
    // open forever by sending a body, or headers, a byte at a time.
    requestTimeout,
    http: {
      headersTimeout: Math.min(60_000, requestTimeout),
      // Node looks for expired requests this often (30 s by default, which would double the limit).
      connectionsCheckingInterval: Math.min(5_000, Math.max(50, Math.floor(requestTimeout / 4))),
    },
    loggerInstance: log,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: DEFAULT_BODY_LIMIT,
    // Path parameters of any length reach their schema (400 BAD_REQUEST) instead of matching no route
    // (find-my-way's default stops at 100 characters); the URL itself is bounded by the header limit.
    routerOptions: { maxParamLength: 16 * 1024 },
    // The explorer and SSE clients keep connections open; close them promptly on shutdown.
    forceCloseConnections: true,
    // Refused below instead, so requests arriving during shutdown get the usual error shape.
    return503OnClosing: false,
    // What Fastify refuses before routing (a URL that does not decode, a path parameter over 100
    // characters) and what Node's parser refuses: the same error shape as everything else.
    frameworkErrors: (err, _req, reply) => {
      const { status, body } = toErrorResponse(err);
      const text = JSON.stringify(body);
      reply.raw.writeHead(status, {
        "content-type": "application/json; charset=utf-8",
        "content-length": Buffer.byteLength(text),
      });
      reply.raw.end(text);
    },
    clientErrorHandler: answerClientError,
  });
  const hub = new EventHub(backend, opts.events);
  const legacyCache = new LegacyJsonCache(opts.legacyCacheBytes);
  const records = new RecordsApi(backend, opts.records);
  let closing = false;
  app.addHook("preClose", async () => {
    closing = true;
    hub.close();
  });
  app.addHook("onRequest", async () => {
    if (closing) throw new ApiError(503, "SHUTTING_DOWN", "the node is stopping");
  });

  app.addContentTypeParser("application/octet-stream", { parseAs: "buffer" }, (_req, body, done) =>
    done(null, body),
  );

  app.setErrorHandler(async (err, req, reply) => {
    const { status, body } = toErrorResponse(err);
    // A body over the limit is read to its end and discarded before the 413 goes out: a client that
    // sends its whole body before it reads (fetch, most libraries) would otherwise see the connection
    // closed under it (EPIPE) instead of the answer. Bounded by the request timeout and MAX_DRAIN_BYTES.
    if (status === 413 && !req.raw.complete) await drain(req.raw, MAX_DRAIN_BYTES);
    if (status >= 500) log.error({ err, url: req.url }, "request failed");
    else log.debug({ code: body.error.code, url: req.url }, "request refused");
    return reply.status(status).type("application/json").send(body);
  });
  const metrics = registerMetrics(app, backend);
  app.addHook("onClose", async () => metrics.close());
  app.setNotFoundHandler((req, reply) =>
    reply.status(404).send({ error: { code: "NOT_FOUND", message: `no route ${req.method} ${req.url}` } }),
  );

  /** Registers a route from the table with its schemas, limits and auth rule. */
  function route<N extends RouteName>(
    name: N,
    /** Returns the body, or the reply itself when the handler sent a stream or took the socket over. */
    handler: (input: Input<N>) => Promise<RouteResponse<N> | FastifyReply>,
  ): void {
    const def = routes[name];
    app.route({
      method: def.method,
      url: def.path,
      bodyLimit: "bodyLimit" in def ? def.bodyLimit : DEFAULT_BODY_LIMIT,
      onRequest: async (req) => {
        if (!("auth" in def && def.auth)) return;
        if (isLoopback(req.socket.remoteAddress)) return;
        if (tokenMatches(req.headers.authorization, opts.token)) return;
        throw new ApiError(
          401,
          "UNAUTHORIZED",
          "this route needs 'Authorization: Bearer <api token>' from a non-loopback address",
        );
      },
      handler: async (req, reply) => {
        const input = {
          params: "params" in def ? parsePart(def.params, req.params, "path parameters") : undefined,
          query: "query" in def ? parsePart(def.query, req.query, "query") : undefined,
          body: "body" in def ? parsePart(def.body, req.body, "body") : undefined,
          req,
          reply,
        } as unknown as Input<N>;
        return handler(input);
      },
    });
  }

  route("getHealth", async () => ({ status: "ok" as const, uptime: (Date.now() - started) / 1000 }));

  route("getReady", async () => {
    const checks = backend.readiness?.() ?? { store: true, p2p: true, synced: true, peers: true };
    const failing = Object.entries(checks)
      .filter(([, ok]) => !ok)
      .map(([name]) => name);
    if (failing.length > 0)
      throw new ApiError(503, "NOT_READY", `not ready: ${failing.join(", ")}`, { checks });
    return { ready: true as const, checks };
  });

  let openApi: Record<string, unknown> | undefined;
  route("getOpenApi", async () => {
    openApi ??= openApiDocument(opts.version ?? "0.0.0");
    return openApi;
  });
  registerApiDocs(app);

  route("getStatus", async () => {
    const tip = chain.tip;
    const next = chain.nextBlockContext();
    const sync = backend.sync();
    return {
      network: chain.params.name,
      genesis: chain.params.genesisHash,
      tip: { height: tip.height, hash: tip.hash, time: tip.header.time },
      totalWork: tip.chainWork.toString(),
      bits: bitsHex(next.bits),
      difficulty: difficulty(next.bits, chain.params),
      peers: backend.peers().length,
      mining: backend.mining(),
      orphans: chain.orphanCount,
      syncing: sync.syncing,
      sync,
      uptime: (Date.now() - started) / 1000,
      version: opts.version ?? "0.0.0",
    };
  });

  route("getBlocks", async ({ query }) => {
    const tipHeight = chain.height;
    const limit = query.limit ?? DEFAULT_PAGE;
    const top = Math.min(query.before === undefined ? tipHeight : query.before - 1, tipHeight);
    const blocks = [];
    for (let h = top; h >= 0 && blocks.length < limit; h--)
      blocks.push(summary(chain.getEntryAt(h)!, chain.params));
    const lowest = top - blocks.length + 1;
    return { blocks, next: blocks.length && lowest > 0 ? lowest : null, tipHeight };
  });

  route("getBlock", async ({ params }) => {
    const entry = /^\d+$/.test(params.id) ? chain.getEntryAt(Number(params.id)) : chain.getEntry(params.id);
    if (!entry) throw new ApiError(404, "BLOCK_NOT_FOUND", `no block ${params.id}`);
    const block = await chain.getBlock(entry.hash);
    if (!block) throw new ApiError(404, "BLOCK_NOT_FOUND", `block ${entry.hash} has no stored body`);
    return blockDetail(chain, entry, block);
  });

  route("getRawBlock", async ({ params, reply }) => {
    const raw = await chain.getRawBlock(params.hash);
    if (!raw) throw new ApiError(404, "BLOCK_NOT_FOUND", `no block ${params.hash}`);
    reply.type("application/octet-stream");
    return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  });

  route("submitBlock", async ({ req }) => {
    let raw: Uint8Array;
    if (Buffer.isBuffer(req.body)) raw = req.body;
    else if (req.body !== undefined && req.body !== null && typeof req.body === "object") {
      const { hex } = parsePart(SubmitHexBody, req.body, "body");
      try {
        raw = fromHex(hex.replace(/^0x/, ""));
      } catch (err) {
        throw new ApiError(400, "BAD_REQUEST", `invalid body: ${errorMessage(err)}`);
      }
    } else {
      throw new ApiError(
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        "send the block as application/octet-stream, or as application/json { hex }",
      );
    }
    // Decoding failures are the block's fault: reported like a rule violation (422 MALFORMED).
    const block = decodeBlock(raw);
    return submitResult(await chain.processBlock(block, raw));
  });

  route("submitRecords", async ({ req, reply }) => records.submit(req, reply));
  route("getRecord", async ({ params }) => records.get(params.id));
  route("getRecords", async ({ query }) => records.byAuthor(query));
  route("getMempool", async ({ query }) => records.mempool(query));

  route("getTree", async ({ query }) => {
    const depth = query.depth ?? DEFAULT_TREE_DEPTH;
    const from = Math.max(0, chain.height - depth + 1);
    const nodes = chain
      .entriesFrom(from)
      .sort((a, b) => a.height - b.height || a.seq - b.seq)
      .map((e) => treeNode(chain, e));
    return { tip: chain.tip.hash, tipHeight: chain.height, from, nodes };
  });

  route("getPeers", async () => ({ peers: backend.peers() }));

  route("addPeer", async ({ body }) => {
    checkPeerAddress(body.addr);
    await backend.addPeer(body.addr);
    return { ok: true as const };
  });

  route("getP2P", async () => backend.p2pInfo());

  route("startMining", async () => ({ mining: await backend.startMining() }));
  route("stopMining", async () => ({ mining: await backend.stopMining() }));

  route("events", async ({ req, reply }) => {
    // HEAD (Fastify answers it with the GET handler): the stream's headers, at once, and no stream.
    if (req.method === "HEAD")
      return reply.type("text/event-stream").header("cache-control", "no-cache").send();
    if (hub.full)
      throw new ApiError(503, "TOO_MANY_STREAMS", `at most ${hub.maxClients} event streams at once`);
    reply.hijack();
    req.raw.socket.setNoDelay(true);
    hub.add(reply.raw);
    return reply;
  });

  // Each /blockchain.json download pins the main chain's entry list until its reader is done, so slow
  // readers are not allowed to pile up.
  let chainDownloads = 0;
  route("legacyChain", async ({ req, reply }) => {
    if (req.method === "HEAD") return reply.type("application/json").send();
    if (chainDownloads >= MAX_CHAIN_DOWNLOADS) {
      throw new ApiError(
        503,
        "TOO_MANY_DOWNLOADS",
        `at most ${MAX_CHAIN_DOWNLOADS} /blockchain.json downloads at once`,
      );
    }
    chainDownloads++;
    reply.raw.once("close", () => chainDownloads--);
    reply.type("application/json");
    // The body is the JSON array of the route's schema, written batch by batch.
    return reply.send(Readable.from(streamLegacyChain(chain, legacyCache), { objectMode: false }));
  });

  route("legacyMined", async ({ body }) => {
    let block: ReturnType<typeof blockFromLegacy>;
    try {
      block = blockFromLegacy(body, chain.nextBlockContext().bits);
    } catch (err) {
      if (err instanceof DecodeError) throw new ApiError(400, "BAD_REQUEST", `invalid block: ${err.message}`);
      throw err;
    }
    const hash = headerHash(block.header);
    if (body.hash !== undefined && body.hash.toLowerCase() !== hash) {
      throw new ApiError(400, "HASH_MISMATCH", `hash ${body.hash} does not match the header's hash ${hash}`);
    }
    const result = await chain.processBlock(block);
    return { confirmed: true, status: result.status, hash: result.hash };
  });

  registerDevnetRoutes(app, { ...opts.devnet, backend });
  await registerExplorer(app, opts.webRoot);

  return app;
}
