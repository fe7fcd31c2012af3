import { type Logger, silentLogger } from "../util/logger.ts";
import { type ApiServer, createApp, setNotFound } from "./app.ts";
import type { ApiBackend } from "./backend.ts";
import { type DevnetOptions, registerDevnetRoutes } from "./devnet.ts";
import { registerApiDocs } from "./docs-page.ts";
import { EventHub, type EventHubOptions } from "./events.ts";
import { getApiHandlers } from "./handlers/index.ts";
import { ROUTE_LIMITS, type RouteLimit, registerRouteLimits } from "./limits.ts";
import { registerMetrics } from "./metrics.ts";
import type { RecordsApiOptions } from "./records.ts";
import { registerRoutes } from "./register.ts";
import type { RouteName } from "./routes.ts";
import { ApiError } from "./schemas.ts";
import { registerExplorer } from "./static.ts";

export type { ApiServer } from "./app.ts";
export { isLoopback } from "./register.ts";

export interface ApiServerOptions {
  backend: ApiBackend;
  logger?: Logger;
  /**
   * Bearer token for routes that change the node when the request is not from loopback. Without one,
   * such requests from other hosts are always refused.
   */
  token?: string;
  /**
   * Host names the API answers to besides IP addresses and localhost (`--api-hosts`): exact names,
   * `*.suffix`, or `*` for any. Other names in `Host` are refused (DNS rebinding; src/api/guard.ts).
   */
  allowedHosts?: readonly string[];
  /** Directory of the built explorer (index.html and assets), served at `/` when it exists. */
  webRoot?: string;
  /** Reported in /api/status. */
  version?: string;
  events?: EventHubOptions;
  /** Bytes of serialized /blockchain.json blocks kept between requests (default 16 MiB; 0 disables). */
  legacyCacheBytes?: number;
  /** Bytes of block bodies the block view keeps between requests (default 32 MiB; 0 disables). */
  viewCacheBytes?: number;
  /** Concurrency limits of heavy routes, over limits.ts ROUTE_LIMITS (tests lower them). */
  routeLimits?: Partial<Record<RouteName, RouteLimit>>;
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

const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/**
 * Builds the HTTP API on Fastify: every route of the table (src/api/routes.ts) with its group's handler
 * (src/api/handlers), then /metrics, /api/docs, the devnet routes and the explorer. Every failure,
 * Fastify's own included, answers with `{ error: { code, message } }`; the caller decides where to listen.
 */
export async function createApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const { backend } = opts;
  const started = Date.now();
  const app = createApp({
    logger: opts.logger ?? silentLogger,
    requestTimeoutMs: Math.max(1, opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS),
    guard: { token: opts.token, allowedHosts: opts.allowedHosts },
  });
  const hub = new EventHub(backend, opts.events);
  let closing = false;
  app.addHook("preClose", async () => {
    closing = true;
    hub.close();
  });
  app.addHook("onRequest", async () => {
    if (closing) throw new ApiError(503, "SHUTTING_DOWN", "the node is stopping");
  });
  const metrics = registerMetrics(app, backend);
  app.addHook("onClose", async () => metrics.close());
  setNotFound(app);
  registerRouteLimits(app, { ...ROUTE_LIMITS, ...opts.routeLimits });

  const handlers = getApiHandlers(
    {
      version: opts.version ?? "0.0.0",
      started,
      records: opts.records,
      legacyCacheBytes: opts.legacyCacheBytes,
      viewCacheBytes: opts.viewCacheBytes,
    },
    { backend, hub },
  );
  registerRoutes(app, handlers);
  registerApiDocs(app);
  registerDevnetRoutes(app, { ...opts.devnet, backend });
  await registerExplorer(app, opts.webRoot);
  return app;
}
