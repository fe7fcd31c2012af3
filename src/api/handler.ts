import type { FastifyReply, FastifyRequest } from "fastify";
import type { z } from "zod";
import type { ApiGroup, RouteName, RouteResponse, Routes } from "./routes.ts";
import { ApiError } from "./schemas.ts";

/**
 * What a route's handler is: a function of the request after its parts passed the route's schemas,
 * returning the route's response. The route table (src/api/routes.ts) names each route's group; the
 * types below turn the table into the set of handlers a group must provide and the server must hold.
 */

type Out<R, K extends string> = R extends { [P in K]: infer S extends z.ZodType } ? z.output<S> : undefined;

/** A request after its params, query and body passed their schemas. */
export interface Input<N extends RouteName> {
  params: Out<Routes[N], "params">;
  query: Out<Routes[N], "query">;
  body: Out<Routes[N], "body">;
  req: FastifyRequest;
  reply: FastifyReply;
}

/** Returns the body, or the reply itself when the handler sent a stream or took the socket over. */
export type Handler<N extends RouteName> = (input: Input<N>) => Promise<RouteResponse<N> | FastifyReply>;

/** The routes the table puts in group `G`. */
export type GroupRoutes<G extends ApiGroup> = {
  [N in RouteName]: Routes[N]["group"] extends G ? N : never;
}[RouteName];

/**
 * What a group's factory returns: exactly one handler for each route of the group. A route of the group
 * left out is a missing property, a route of another group an excess one: both fail to compile.
 */
export type GroupHandlers<G extends ApiGroup> = { [N in GroupRoutes<G>]: Handler<N> };

/** One handler per route id of the table: the map the server registers (a mapped type, so complete). */
export type ApiHandlers = { [N in RouteName]: Handler<N> };

/** Parses one part of a request with its schema; a failure is 400 BAD_REQUEST listing every issue. */
export function parsePart<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value ?? (what === "body" ? undefined : {}));
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => `${i.path.length ? `${i.path.join(".")}: ` : ""}${i.message}`);
  throw new ApiError(400, "BAD_REQUEST", `invalid ${what}: ${issues.join("; ")}`, {
    issues: r.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })),
  });
}
