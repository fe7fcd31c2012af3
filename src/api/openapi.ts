import { z } from "zod";
import { RecordJson } from "../mempool/json.ts";
import { CLIENT_HEADER, MAX_RECORDS_PER_REQUEST, type RouteDef, routes } from "./routes.ts";
import { ErrorBody, SubmitHexBody } from "./schemas.ts";

/**
 * The OpenAPI 3.1 document of the HTTP API, generated from the route table (src/api/routes.ts) and its
 * zod schemas through zod 4's JSON Schema output (draft 2020-12, the dialect OpenAPI 3.1 uses). Nothing
 * here is written by hand but the document's frame: a route added to the table is in the document.
 */

type JsonSchema = Record<string, unknown>;

/** JSON Schema of a zod schema, as a request gives it (`input`) or a response carries it (`output`). */
function jsonSchema(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const out = z.toJSONSchema(schema, { io, target: "draft-2020-12", unrepresentable: "any" }) as JsonSchema;
  delete out["$schema"];
  return out;
}

/** `/api/blocks/:id` → `/api/blocks/{id}`. */
function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z]+)/g, "{$1}");
}

function parameters(def: RouteDef): JsonSchema[] {
  const out: JsonSchema[] = [];
  for (const [where, schema] of [
    ["path", def.params],
    ["query", def.query],
  ] as const) {
    if (!schema) continue;
    const json = jsonSchema(schema, "input");
    const props = (json["properties"] ?? {}) as Record<string, JsonSchema>;
    const required = new Set((json["required"] ?? []) as string[]);
    for (const [name, s] of Object.entries(props)) {
      out.push({ name, in: where, required: where === "path" || required.has(name), schema: s });
    }
  }
  return out;
}

function responseContent(def: RouteDef): JsonSchema {
  if (def.response === "bytes") {
    return {
      "application/octet-stream": {
        schema: { type: "string", contentMediaType: "application/octet-stream" },
      },
    };
  }
  if (def.response === "sse") {
    return { "text/event-stream": { schema: { type: "string", description: "server-sent events" } } };
  }
  return { "application/json": { schema: jsonSchema(def.response, "output") } };
}

function requestBody(name: string, def: RouteDef): JsonSchema | undefined {
  if (name === "submitBlock") {
    // The one route that takes raw bytes besides JSON (the server handles both itself).
    return {
      required: true,
      content: {
        "application/octet-stream": {
          schema: { type: "string", contentMediaType: "application/octet-stream" },
        },
        "application/json": { schema: jsonSchema(SubmitHexBody, "input") },
      },
    };
  }
  if (name === "submitRecords") {
    // Parsed by the route itself (one record or an array, or raw bytes), with the mempool's record schema.
    const record = jsonSchema(RecordJson, "input");
    return {
      required: true,
      content: {
        "application/json": {
          schema: {
            oneOf: [record, { type: "array", minItems: 1, maxItems: MAX_RECORDS_PER_REQUEST, items: record }],
          },
        },
        "application/octet-stream": {
          schema: { type: "string", contentMediaType: "application/octet-stream" },
        },
      },
    };
  }
  if (!def.body) return undefined;
  return { required: true, content: { "application/json": { schema: jsonSchema(def.body, "input") } } };
}

/** The whole document. `version` is the node's package version. */
export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [name, def] of Object.entries(routes) as Array<[string, RouteDef]>) {
    const params = parameters(def);
    const body = requestBody(name, def);
    const limit = def.bodyLimit;
    const op: Record<string, unknown> = {
      operationId: name,
      summary: def.summary,
      ...(limit !== undefined ? { description: `Request bodies up to ${limit} bytes.` } : {}),
      ...(params.length ? { parameters: params } : {}),
      ...(body ? { requestBody: body } : {}),
      responses: {
        "200": { description: "OK", content: responseContent(def) },
        default: {
          description: "An error: the status and its code are listed in docs/api.md",
          content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
        },
      },
      // Either scheme satisfies a POST (docs/api.md, "Who may ask what"); `auth` routes need the bearer
      // token from non-loopback addresses, which OpenAPI cannot say: the summary of the rule is in `info`.
      ...(def.method === "POST" ? { security: [{ client: [] }, { bearer: [] }] } : {}),
    };
    paths[openApiPath(def.path)] ??= {};
    paths[openApiPath(def.path)]![def.method.toLowerCase()] = op;
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "jbc node HTTP API",
      version,
      description:
        "A jbc node's HTTP API (docs/api.md). Every request names the node by an IP address, localhost or " +
        "a name given to --api-hosts, and comes from no other origin's page. Every POST carries the " +
        `${CLIENT_HEADER} header, the API token (bearer) or a JSON or octet-stream body; POST /api/peers ` +
        "and /api/mining/start|stop need the token from other hosts than loopback.",
      license: { name: "MIT", identifier: "MIT" },
    },
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    paths,
    components: {
      schemas: { Error: jsonSchema(ErrorBody, "output") },
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer" },
        client: { type: "apiKey", in: "header", name: CLIENT_HEADER, description: "any non-empty value" },
      },
    },
  };
}
