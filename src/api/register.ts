import type { ApiServer } from "./app.ts";
import type { RouteGuardConfig } from "./guard.ts";
import { type ApiHandlers, type Input, parsePart } from "./handler.ts";
import { DEFAULT_BODY_LIMIT, type RouteDef, type RouteName, routes } from "./routes.ts";

export { isLoopback } from "./guard.ts";

/**
 * Registers one route of the table with its schemas, body limit and auth mark (enforced by the app's
 * request guard, src/api/guard.ts, before any route runs). The handler's type is erased here (the table's
 * entries differ in their input types); `registerRoutes`' caller has checked it.
 */
function registerRoute(
  app: ApiServer,
  def: RouteDef,
  handler: (input: Input<never>) => Promise<unknown>,
): void {
  const config: RouteGuardConfig = { auth: def.auth === true };
  app.route({
    method: def.method,
    url: def.path,
    bodyLimit: def.bodyLimit ?? DEFAULT_BODY_LIMIT,
    config,
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
 * Routes marked `auth` need the token (as `Authorization: Bearer`) unless the request comes from
 * loopback; the app's guard (createApp's `guard` option) checks it with the rest of the request rule.
 */
export function registerRoutes(app: ApiServer, handlers: ApiHandlers): void {
  for (const name of Object.keys(routes) as RouteName[]) {
    registerRoute(app, routes[name], handlers[name]);
  }
}
