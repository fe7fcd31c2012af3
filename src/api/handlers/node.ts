import type { ApiBackend } from "../backend.ts";
import type { EventHub } from "../events.ts";
import type { GroupHandlers } from "../handler.ts";
import { openApiDocument } from "../openapi.ts";
import { ApiError } from "../schemas.ts";
import { bitsHex, difficulty } from "../views.ts";

/** The node group: liveness and readiness, this API's own document, the node's status and its events. */

export interface NodeApiOptions {
  /** Reported in /api/status and the OpenAPI document. */
  version: string;
  /** When the API started (ms since the epoch), for the uptimes. */
  started: number;
}

export interface NodeApiModules {
  backend: Pick<ApiBackend, "chain" | "readiness" | "sync" | "peers" | "mining">;
  /** The event stream's clients; the server closes it when it stops. */
  hub: EventHub;
}

/** Handlers of the node group's routes. */
export function getNodeApi(opts: NodeApiOptions, { backend, hub }: NodeApiModules): GroupHandlers<"node"> {
  const { chain } = backend;
  const uptime = (): number => (Date.now() - opts.started) / 1000;
  // Built on first request: generating it walks every schema of the route table.
  let openApi: Record<string, unknown> | undefined;
  return {
    getHealth: async () => ({ status: "ok" as const, uptime: uptime() }),

    getReady: async () => {
      const checks = backend.readiness?.() ?? { store: true, p2p: true, synced: true, peers: true };
      const failing = Object.entries(checks)
        .filter(([, ok]) => !ok)
        .map(([name]) => name);
      if (failing.length > 0)
        throw new ApiError(503, "NOT_READY", `not ready: ${failing.join(", ")}`, { checks });
      return { ready: true as const, checks };
    },

    getOpenApi: async () => {
      openApi ??= openApiDocument(opts.version);
      return openApi;
    },

    getStatus: async () => {
      const tip = chain.tip;
      const next = chain.nextBlockContext();
      const sync = backend.sync();
      return {
        network: chain.params.name,
        genesis: chain.params.genesisHash,
        tip: { height: tip.height, hash: tip.hash, time: tip.header.time },
        totalWork: tip.chainWork.toString(),
        bits: bitsHex(next.bits),
        difficulty: difficulty(next.bits, chain.params),
        peers: backend.peers().length,
        mining: backend.mining(),
        orphans: chain.orphanCount,
        syncing: sync.syncing,
        sync,
        uptime: uptime(),
        version: opts.version,
      };
    },

    events: async ({ req, reply }) => {
      // HEAD (Fastify answers it with the GET handler): the stream's headers, at once, and no stream.
      if (req.method === "HEAD")
        return reply.type("text/event-stream").header("cache-control", "no-cache").send();
      if (hub.full)
        throw new ApiError(503, "TOO_MANY_STREAMS", `at most ${hub.maxClients} event streams at once`);
      reply.hijack();
      req.raw.socket.setNoDelay(true);
      hub.add(reply.raw);
      return reply;
    },
  };
}
