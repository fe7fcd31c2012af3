import { createReadStream, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { ApiServer } from "./app.ts";
import { CLIENT_HEADER } from "./routes.ts";

/**
 * GET /api/docs: the API reference, Swagger UI over GET /api/openapi.json, served from the
 * swagger-ui-dist package's own files (no CDN: it works offline and on a node without internet).
 */

const FILES: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "swagger-ui-standalone-preset.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>jbc node API</title>
<link rel="stylesheet" href="/api/docs/swagger-ui.css">
<link rel="icon" type="image/png" href="/api/docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/api/docs/swagger-ui-bundle.js"></script>
<script src="/api/docs/swagger-ui-standalone-preset.js"></script>
<script src="/api/docs/init.js"></script>
</body>
</html>
`;

// "Try it out" sends the client header, as jbc's own clients do, so POSTs from this page work
// (docs/api.md, "Who may ask what"); the page is served by the node, so it is same-origin.
const INIT = `window.ui = SwaggerUIBundle({
  url: "/api/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  requestInterceptor: (req) => {
    req.headers["${CLIENT_HEADER}"] = "api-docs";
    return req;
  },
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout",
});
`;

/** The directory of swagger-ui-dist's files, or undefined when it is not installed. */
function assetsDir(): string | undefined {
  try {
    const dir = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
    return existsSync(join(dir, "swagger-ui-bundle.js")) ? dir : undefined;
  } catch {
    return undefined;
  }
}

export function registerApiDocs(app: ApiServer): void {
  const dir = assetsDir();
  app.get("/api/docs", async (_req, reply) =>
    reply.type("text/html; charset=utf-8").header("cache-control", "no-cache").send(PAGE),
  );
  app.get("/api/docs/init.js", async (_req, reply) =>
    reply.type("text/javascript; charset=utf-8").send(INIT),
  );
  app.get<{ Params: { file: string } }>("/api/docs/:file", async (req, reply) => {
    const type = FILES[req.params.file];
    if (!dir || !type) {
      return reply.status(404).send({
        error: { code: "NOT_FOUND", message: `no route GET ${req.url}` },
      });
    }
    return reply
      .type(type)
      .header("cache-control", "public, max-age=86400")
      .send(createReadStream(join(dir, req.params.file)));
  });
}
