/**
 * A real HTTP server that answers a node's header routes (GET /api/headers for the tip it claims,
 * /api/headers/raw for headers by height) from a list the test crafts: the lying node of the light
 * client's adversarial tests. Everything else is 404.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { NetworkParams } from "../../src/consensus/params.ts";

export interface HeaderServer {
  url: string;
  /** Requests it answered, for tests that check what was asked. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * Serves `headers` (index = height, genesis first) and claims `tip` as its tip. `network` is the network
 * it says it is on.
 */
export async function serveHeaders(
  params: NetworkParams,
  headers: readonly Uint8Array[],
  tip: { height: number; hash: string; chainWork: bigint },
): Promise<HeaderServer> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    requests.push(`${url.pathname}${url.search}`);
    const from = Number(url.searchParams.get("from") ?? 0);
    const count = Number(url.searchParams.get("count") ?? 2000);
    if (url.pathname === "/api/headers/raw") {
      const slice = headers.slice(from, from + count);
      const out = new Uint8Array(slice.length * 80);
      slice.forEach((h, i) => {
        out.set(h, i * 80);
      });
      res.writeHead(200, { "content-type": "application/octet-stream" });
      res.end(out);
      return;
    }
    if (url.pathname === "/api/headers") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          network: params.name,
          genesis: params.genesisHash,
          tip: { height: tip.height, hash: tip.hash, chainWork: tip.chainWork.toString() },
          from,
          headers: [],
        }),
      );
      return;
    }
    res.writeHead(404, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: { code: "NOT_FOUND", message: "no such route" } }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
