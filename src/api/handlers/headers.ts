import { toHex } from "../../consensus/bytes.ts";
import type { ApiBackend } from "../backend.ts";
import type { GroupHandlers } from "../handler.ts";
import { concatHeaders, MAX_HEADERS_PER_REQUEST, mainHeaders } from "../headers.ts";

/** The headers group: main-chain headers by height, as JSON or raw bytes, for light clients. */

/** Whether a request asks for bytes rather than JSON (`Accept: application/octet-stream`, no JSON). */
function wantsBytes(accept: string | undefined): boolean {
  return !!accept && accept.includes("application/octet-stream") && !accept.includes("application/json");
}

/** Handlers of the headers group's routes; they read the block tree only. */
export function getHeadersApi({ chain }: Pick<ApiBackend, "chain">): GroupHandlers<"headers"> {
  const raw = (from: number, count: number): Buffer => {
    const bytes = concatHeaders(mainHeaders(chain, from, count));
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
  return {
    getHeaders: async ({ query, req, reply }) => {
      const from = query.from ?? 0;
      const count = query.count ?? MAX_HEADERS_PER_REQUEST;
      if (wantsBytes(req.headers.accept))
        return reply.type("application/octet-stream").send(raw(from, count));
      const tip = chain.tip;
      return {
        network: chain.params.name,
        genesis: chain.params.genesisHash,
        tip: { height: tip.height, hash: tip.hash, chainWork: tip.chainWork.toString() },
        from,
        headers: mainHeaders(chain, from, count).map(toHex),
      };
    },

    getRawHeaders: async ({ query, reply }) => {
      reply.type("application/octet-stream");
      return raw(query.from ?? 0, query.count ?? MAX_HEADERS_PER_REQUEST);
    },
  };
}
