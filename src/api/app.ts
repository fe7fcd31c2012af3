import { type IncomingMessage, type ServerResponse, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import Fastify, { type FastifyInstance, LogController, type RawServerDefault } from "fastify";
import type { Logger } from "../util/logger.ts";
import { toErrorResponse } from "./errors.ts";
import { checkRequest, type GuardOptions, hostMatcher, type RouteGuardConfig } from "./guard.ts";
import { DEFAULT_BODY_LIMIT } from "./routes.ts";

/**
 * The Fastify instance under the API and what it answers before (or instead of) a route's handler:
 * timeouts, what Node's parser and Fastify's router refuse, the one error shape, unknown routes. The
 * routes themselves are registered by src/api/register.ts; src/api/server.ts puts it all together.
 */

/** The HTTP server of the API: Fastify on Node's HTTP server, logging through the node's logger. */
export type ApiServer = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, Logger>;

export interface AppOptions {
  logger: Logger;
  /** Time a client has to send a whole request, headers and body, in ms (at least 1). */
  requestTimeoutMs: number;
  /** The token and the host names of the request rule every request passes first (src/api/guard.ts). */
  guard?: GuardOptions;
}

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

/**
 * A Fastify instance with no routes yet whose every failure, Fastify's and Node's own included, answers
 * with `{ error: { code, message } }`; raw bodies (application/octet-stream) arrive as Buffers.
 */
export function createApp(opts: AppOptions): ApiServer {
  const log = opts.logger;
  const requestTimeout = opts.requestTimeoutMs;
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
    // Refused by server.ts's onRequest hook instead, so requests arriving during shutdown get the usual
    // error shape.
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

  // Before anything else, for every request (routes, files, 404s): Host, Origin, and what a
  // state-changing request must carry. Runs before the body is read, so a refused body is never parsed.
  const hostAllowed = hostMatcher(opts.guard?.allowedHosts);
  const token = opts.guard?.token;
  app.addHook("onRequest", async (req) => {
    const config = req.routeOptions.config as Partial<RouteGuardConfig> | undefined;
    const refusal = checkRequest(
      {
        method: req.method,
        headers: req.headers,
        remoteAddress: req.socket.remoteAddress,
        auth: config?.auth === true,
      },
      { token, hostAllowed },
    );
    if (refusal) throw refusal;
  });

  app.addContentTypeParser("application/octet-stream", { parseAs: "buffer" }, (_req, body, done) =>
    done(null, body),
  );

  app.setErrorHandler(async (err, req, reply) => {
    const { status, body } = toErrorResponse(err);
    // A body over the limit is read to its end and discarded before the 413 goes out: a client that
    // sends its whole body before it reads (fetch, most libraries) would otherwise see the connection
    // closed under it (EPIPE) instead of the answer. Bounded by the request timeout and MAX_DRAIN_BYTES.
    // The same for requests the guard refused before their body was read (401, 403).
    if ((status === 413 || status === 401 || status === 403) && !req.raw.complete)
      await drain(req.raw, MAX_DRAIN_BYTES);
    // Only a failure nobody planned for (500 INTERNAL) is an error with its stack; a refusal by design,
    // 503 P2P_DISABLED or MEMPOOL_FULL included, is the answer working as documented.
    if (status === 500) log.error({ err, url: req.url }, "request failed");
    else log.debug({ code: body.error.code, url: req.url }, "request refused");
    return reply.status(status).type("application/json").send(body);
  });
  return app;
}

/** Answers requests no route matched with 404 NOT_FOUND in the one error shape. */
export function setNotFound(app: ApiServer): void {
  app.setNotFoundHandler((req, reply) =>
    reply.status(404).send({ error: { code: "NOT_FOUND", message: `no route ${req.method} ${req.url}` } }),
  );
}
