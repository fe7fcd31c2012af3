import { Readable } from "node:stream";
import { DecodeError } from "../../consensus/bytes.ts";
import { headerHash } from "../../consensus/header.ts";
import { nextSlice } from "../../util/slices.ts";
import type { ApiBackend } from "../backend.ts";
import type { GroupHandlers } from "../handler.ts";
import { blockFromLegacy, LegacyJsonCache, legacyRecords, streamLegacyChain } from "../legacy.ts";
import { ApiError } from "../schemas.ts";

/** The legacy group: the original JackBlockChain's GET /blockchain.json and POST /mined (src/api/legacy.ts). */

export interface LegacyApiOptions {
  /** Bytes of serialized /blockchain.json blocks kept between requests (default 16 MiB; 0 disables). */
  cacheBytes?: number | undefined;
}

/** Handlers of the legacy group's routes, sharing one cache of serialized blocks. */
export function getLegacyApi(
  opts: LegacyApiOptions,
  { chain }: Pick<ApiBackend, "chain">,
): GroupHandlers<"legacy"> {
  const cache = new LegacyJsonCache(opts.cacheBytes);
  return {
    // Concurrent downloads are limited (limits.ts, 503 TOO_MANY_DOWNLOADS): each pins the main chain's
    // entry list until its reader is done, so slow readers are not allowed to pile up.
    legacyChain: async ({ req, reply }) => {
      if (req.method === "HEAD") return reply.type("application/json").send();
      reply.type("application/json");
      // The body is the JSON array of the route's schema, written in chunks (legacy.ts).
      return reply.send(Readable.from(streamLegacyChain(chain, cache), { objectMode: false }));
    },

    legacyMined: async ({ body }) => {
      let block: ReturnType<typeof blockFromLegacy>;
      try {
        const given = await legacyRecords(body);
        block = blockFromLegacy(body, chain.nextBlockContext().bits, given);
      } catch (err) {
        if (err instanceof DecodeError)
          throw new ApiError(400, "BAD_REQUEST", `invalid block: ${err.message}`);
        throw err;
      }
      const hash = headerHash(block.header);
      if (body.hash !== undefined && body.hash.toLowerCase() !== hash) {
        throw new ApiError(
          400,
          "HASH_MISMATCH",
          `hash ${body.hash} does not match the header's hash ${hash}`,
        );
      }
      await nextSlice();
      const result = await chain.processBlock(block);
      return { confirmed: true, status: result.status, hash: result.hash };
    },
  };
}
