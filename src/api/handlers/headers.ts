import type { ChainReader } from "../../chain/interfaces.ts";
import { toHex } from "../../consensus/bytes.ts";
import { encodeHeader, HEADER_SIZE } from "../../consensus/header.ts";
import type { ApiBackend } from "../backend.ts";
import type { GroupHandlers } from "../handler.ts";
import { MAX_HEADERS_PER_REQUEST } from "../headers.ts";
import { ApiError } from "../schemas.ts";

/**
 * The headers group: main-chain headers by height, as JSON or raw bytes, for light clients. Read from the
 * block tree in memory with no await in between, so one answer is one chain even while blocks arrive.
 */

/** The main chain's headers at heights from `from`, at most `count` (fewer at the tip). */
function mainHeaders(
  chain: Pick<ChainReader, "getEntryAt" | "height">,
  from: number,
  count: number,
): Uint8Array[] {
  const out: Uint8Array[] = [];
  const end = Math.min(chain.height + 1, from + Math.min(count, MAX_HEADERS_PER_REQUEST));
  for (let h = from; h < end; h++) out.push(encodeHeader(chain.getEntryAt(h)!.header));
  return out;
}

/** Headers concatenated, as the raw route sends them. */
function concatHeaders(headers: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(headers.length * HEADER_SIZE);
  for (let i = 0; i < headers.length; i++) out.set(headers[i]!, i * HEADER_SIZE);
  return out;
}

/** Whether a request asks for bytes rather than JSON (`Accept: application/octet-stream`, no JSON). */
function wantsBytes(accept: string | undefined): boolean {
  return !!accept && accept.includes("application/octet-stream") && !accept.includes("application/json");
}

/** Handlers of the headers group's routes; they read the block tree only. */
export function getHeadersApi({
  chain,
  checkpoint,
}: Pick<ApiBackend, "chain" | "checkpoint">): GroupHandlers<"headers"> {
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

    getCheckpoint: async ({ req, reply }) => {
      const view = checkpoint?.();
      if (!view) throw new ApiError(503, "WITNESS_UNAVAILABLE", "this node signs no checkpoints (no P2P)");
      const accept = req.headers.accept ?? "";
      if (accept.includes("text/plain") && !accept.includes("application/json")) {
        if (!view.latest)
          throw new ApiError(404, "NOT_FOUND", "no checkpoint yet: the chain is shorter than k");
        return reply.type("text/plain; charset=utf-8").send(view.latest.note);
      }
      return view;
    },

    getRawHeaders: async ({ query, reply }) => {
      reply.type("application/octet-stream");
      return raw(query.from ?? 0, query.count ?? MAX_HEADERS_PER_REQUEST);
    },
  };
}
