import type { ApiServer } from "./app.ts";
import { type RouteName, routes } from "./routes.ts";
import { ApiError } from "./schemas.ts";

/**
 * Concurrency limits of the heavy routes: how many requests each may have in flight at once, counted from
 * the moment a request's handler would start (its body read) until its response is closed, finished or
 * cut. Past the limit the answer is a clear 503 with `Retry-After`, never a slow queue: a client that
 * cannot wait its turn is told so at once, and what the node holds for these routes (decoded blocks, block
 * bytes, downloads pinning the main chain) stays bounded whatever the clients do. Counting only once the
 * body is in means a client that sends its body slowly holds no slot (only its socket, until the request
 * timeout), so slow uploads cannot lock honest submitters out.
 */

export interface RouteLimit {
  /** Requests in flight at once. */
  max: number;
  /** The 503's code. */
  code: string;
  /** What the message calls these requests. */
  what: string;
}

/** Limits shared by name: routes with the same `what` share one count (the two block submissions). */
export const ROUTE_LIMITS: Partial<Record<RouteName, RouteLimit>> = {
  // Views and raw reads hold a block's bytes each (and a view's first read scans its record lengths).
  getBlock: { max: 16, code: "BUSY", what: "block views" },
  getRawBlock: { max: 16, code: "BUSY", what: "raw block reads" },
  // Each holds its body (up to 2 or 4 MiB) and then a decoded block, about 25 times its size, until the
  // chain, which takes one block at a time, is done with it.
  submitBlock: { max: 4, code: "BUSY", what: "block submissions" },
  legacyMined: { max: 4, code: "BUSY", what: "block submissions" },
  // Each pins the main chain's entry list and streams for as long as its reader reads.
  legacyChain: { max: 8, code: "TOO_MANY_DOWNLOADS", what: "/blockchain.json downloads" },
};

/** Seconds a refused client is told to wait. */
const RETRY_AFTER_S = 1;

/**
 * Adds the limits to `app` (call before the routes are registered, like every hook): a `preHandler` hook
 * counts the requests of each limited route and answers 503 past its limit. `limits` overrides the table
 * (tests lower them); returns a view of the counts in flight.
 */
export function registerRouteLimits(
  app: ApiServer,
  limits: Partial<Record<RouteName, RouteLimit>> = ROUTE_LIMITS,
): { inFlight(what: string): number } {
  const byRoute = new Map<string, RouteLimit>();
  for (const [name, limit] of Object.entries(limits) as Array<[RouteName, RouteLimit]>) {
    const def = routes[name];
    byRoute.set(`${def.method} ${def.path}`, limit);
  }
  const counts = new Map<string, number>();
  app.addHook("preHandler", async (req, reply) => {
    const url = req.routeOptions.url;
    if (url === undefined) return;
    // HEAD shares its GET route's handler and its count.
    const limit = byRoute.get(`${req.method === "HEAD" ? "GET" : req.method} ${url}`);
    if (!limit) return;
    const n = counts.get(limit.what) ?? 0;
    if (n >= limit.max) {
      reply.header("retry-after", String(RETRY_AFTER_S));
      throw new ApiError(503, limit.code, `at most ${limit.max} ${limit.what} at once; retry shortly`, {
        limit: limit.max,
      });
    }
    counts.set(limit.what, n + 1);
    let released = false;
    // "close" ends every response: sent in full, refused, or cut by the client.
    reply.raw.once("close", () => {
      if (released) return;
      released = true;
      counts.set(limit.what, (counts.get(limit.what) ?? 1) - 1);
    });
  });
  return { inFlight: (what) => counts.get(what) ?? 0 };
}
