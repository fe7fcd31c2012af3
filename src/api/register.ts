import { timingSafeEqual } from "node:crypto";
import type { ApiServer } from "./app.ts";
import { type ApiHandlers, type Input, parsePart } from "./handler.ts";
import { DEFAULT_BODY_LIMIT, type RouteDef, type RouteName, routes } from "./routes.ts";
import { ApiError } from "./schemas.ts";

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
 * Registers one route of the table with its schemas, body limit and auth rule. The handler's type is
 * erased here (the table's entries differ in their input types); `registerRoutes`' caller has checked it.
 */
function registerRoute(
  app: ApiServer,
  def: RouteDef,
  handler: (input: Input<never>) => Promise<unknown>,
  token: string | undefined,
): void {
  app.route({
    method: def.method,
    url: def.path,
    bodyLimit: def.bodyLimit ?? DEFAULT_BODY_LIMIT,
    onRequest: async (req) => {
      if (!def.auth) return;
      if (isLoopback(req.socket.remoteAddress)) return;
      if (tokenMatches(req.headers.authorization, token)) return;
      throw new ApiError(
        401,
        "UNAUTHORIZED",
        "this route needs 'Authorization: Bearer <api token>' from a non-loopback address",
      );
    },
    handler: async (req, reply) => {
      const input = {
        params: def.params ? parsePart(def.params, req.params, "path parameters") : undefined,
        query: def.query ? parsePart(def.query, req.query, "query") : undefined,
        body: def.body ? parsePart(def.body, req.body, "body") : undefined,
        req,
        reply,
        // The parts passed `def`'s schemas: they are the Input of the route the handler was given for.
      } as unknown as Input<never>;
      return handler(input);
    },
  });
}

/**
 * Registers every route of the table on `app` with its handler from `handlers`, in the table's order.
 * Routes marked `auth` need `token` (as `Authorization: Bearer`) unless the request comes from loopback.
 */
export function registerRoutes(app: ApiServer, handlers: ApiHandlers, token: string | undefined): void {
  for (const name of Object.keys(routes) as RouteName[]) {
    registerRoute(app, routes[name], handlers[name], token);
  }
}
