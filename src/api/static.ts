import { existsSync } from "node:fs";
import { join } from "node:path";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { ApiServer } from "./app.ts";

/**
 * Serves the web explorer (built by `npm run build` into dist/web) at `/`.
 *
 * Caching: Vite puts a content hash in every file name under assets/, so those are cached for a year
 * and marked immutable; everything else, index.html above all, is revalidated on every load so a
 * rebuilt explorer shows up at the next reload.
 *
 * Client-side routes (/block/<hash>, …) have no file: any GET that is not an API path and does not
 * name a file gets index.html, and the page's router takes it from there.
 */

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>jbc: explorer not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">
<h1>jbc node</h1>
<p>This node is running, but its web explorer has not been built. Run</p>
<pre style="background: #eee; padding: .5rem 1rem">npm run build</pre>
<p>in the jbc directory, then restart this node and reload this page.</p>
<p>The API answers meanwhile: <a href="/api/status">/api/status</a>, <a href="/api/blocks">/api/blocks</a>,
<a href="/api/tree">/api/tree</a>, <a href="/blockchain.json">/blockchain.json</a>.</p>
</body></html>
`;

const IMMUTABLE = "public, max-age=31536000, immutable";
const REVALIDATE = "no-cache";

/** True for paths the explorer's router handles: not the API, not a file name with an extension. */
function isPageRoute(url: string): boolean {
  const path = url.split("?")[0]!;
  if (path === "/api" || path.startsWith("/api/")) return false;
  const last = path.slice(path.lastIndexOf("/") + 1);
  return !last.includes(".");
}

function notFound(req: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply
    .status(404)
    .type("application/json")
    .send({ error: { code: "NOT_FOUND", message: `no route ${req.method} ${req.url}` } });
}

/** True when `dir` holds a built explorer. */
export function explorerBuilt(dir: string | undefined): dir is string {
  return dir !== undefined && existsSync(join(dir, "index.html"));
}

/**
 * Registers the explorer on the API server: the built files from `webRoot` when it holds an index.html,
 * otherwise a page telling the user to build it. Call after the API routes.
 */
export async function registerExplorer(app: ApiServer, webRoot: string | undefined): Promise<void> {
  if (!explorerBuilt(webRoot)) {
    const page = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> =>
      isPageRoute(req.url)
        ? reply.header("cache-control", REVALIDATE).type("text/html; charset=utf-8").send(NOT_BUILT_PAGE)
        : notFound(req, reply);
    app.get("/", page);
    app.get("/*", page);
    return;
  }

  // Files are looked up on every request (no list made at start), so rebuilding the explorer while the
  // node runs takes effect at the next reload.
  const assets = join(webRoot, "assets");
  // Loaded only when there is an explorer to serve (it is a good part of the API's load time).
  const { default: fastifyStatic } = await import("@fastify/static");
  await app.register(fastifyStatic, {
    root: existsSync(assets) ? assets : webRoot,
    prefix: "/assets/",
    index: false,
    cacheControl: false,
    setHeaders: (res) => res.setHeader("cache-control", IMMUTABLE),
  });

  const page = (reply: FastifyReply): FastifyReply =>
    reply.header("cache-control", REVALIDATE).sendFile("index.html", webRoot, { cacheControl: false });
  app.get("/", async (_req, reply) => page(reply));
  app.get("/*", async (req, reply) => {
    if (isPageRoute(req.url)) return page(reply);
    if (req.url.startsWith("/api/")) return notFound(req, reply);
    // Other top-level files of the build (favicon, source maps …); a missing one ends in the 404 handler.
    const path = decodeURIComponent(req.url.split("?")[0]!).slice(1);
    return reply.header("cache-control", REVALIDATE).sendFile(path, webRoot, { cacheControl: false });
  });
}
