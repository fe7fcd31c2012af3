import { fromHex } from "../../consensus/bytes.ts";
import { errorMessage } from "../../util/errors.ts";
import { nextSlice } from "../../util/slices.ts";
import type { ApiBackend } from "../backend.ts";
import { BlockPages, DEFAULT_RECORDS_PAGE } from "../block-pages.ts";
import { decodeBlockSliced } from "../decode.ts";
import { type GroupHandlers, parsePart } from "../handler.ts";
import { ApiError, SubmitHexBody } from "../schemas.ts";
import { blockDetail, submitResult, summary, treeNode } from "../views.ts";

/** The blocks group: main-chain pages, one block with a page of its records or raw, submission, the tree. */

const DEFAULT_PAGE = 20;
const DEFAULT_TREE_DEPTH = 50;

export interface BlocksApiOptions {
  /** Bytes of block bodies and pages the block view keeps between requests (block-pages.ts; 32 MiB). */
  viewCacheBytes?: number | undefined;
}

/** Handlers of the blocks group's routes; blocks are submitted to the chain's processBlock. */
export function getBlocksApi(
  opts: BlocksApiOptions,
  { chain }: Pick<ApiBackend, "chain">,
): GroupHandlers<"blocks"> {
  const pages = new BlockPages(chain, opts.viewCacheBytes);
  return {
    getBlocks: async ({ query }) => {
      const tipHeight = chain.height;
      const limit = query.limit ?? DEFAULT_PAGE;
      const top = Math.min(query.before === undefined ? tipHeight : query.before - 1, tipHeight);
      const blocks = [];
      for (let h = top; h >= 0 && blocks.length < limit; h--)
        blocks.push(summary(chain.getEntryAt(h)!, chain.params));
      const lowest = top - blocks.length + 1;
      return { blocks, next: blocks.length && lowest > 0 ? lowest : null, tipHeight };
    },

    getBlock: async ({ params, query }) => {
      const entry = /^\d+$/.test(params.id) ? chain.getEntryAt(Number(params.id)) : chain.getEntry(params.id);
      if (!entry) throw new ApiError(404, "BLOCK_NOT_FOUND", `no block ${params.id}`);
      const page = await pages.page(entry, query.from ?? 0, query.limit ?? DEFAULT_RECORDS_PAGE);
      if (!page) throw new ApiError(404, "BLOCK_NOT_FOUND", `block ${entry.hash} has no stored body`);
      return blockDetail(chain, entry, page);
    },

    getRawBlock: async ({ params, reply }) => {
      const raw = await chain.getRawBlock(params.hash);
      if (!raw) throw new ApiError(404, "BLOCK_NOT_FOUND", `no block ${params.hash}`);
      reply.type("application/octet-stream");
      return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    },

    submitBlock: async ({ req }) => {
      // Decoding failures are the block's fault: reported like a rule violation (422 MALFORMED).
      const raw = submittedBytes(req.body);
      // Decoding in the API's time slices (slices.ts; about 70 ms for 199,980 records), then the chain's
      // processBlock on a slice of its own: one call, whose time is the chain's (docs/benchmarks.md,
      // "Where a maximum-size POST /api/blocks spends its time").
      const block = await decodeBlockSliced(raw);
      await nextSlice();
      return submitResult(await chain.processBlock(block, raw));
    },

    getTree: async ({ query }) => {
      const depth = query.depth ?? DEFAULT_TREE_DEPTH;
      const from = Math.max(0, chain.height - depth + 1);
      const nodes = chain
        .entriesFrom(from)
        .sort((a, b) => a.height - b.height || a.seq - b.seq)
        .map((e) => treeNode(chain, e));
      return { tip: chain.tip.hash, tipHeight: chain.height, from, nodes };
    },
  };
}

/** The block's bytes from POST /api/blocks: an application/octet-stream body, or JSON `{ hex }`. */
function submittedBytes(body: unknown): Uint8Array {
  if (Buffer.isBuffer(body)) return body;
  if (body !== undefined && body !== null && typeof body === "object") {
    const { hex } = parsePart(SubmitHexBody, body, "body");
    try {
      return fromHex(hex.replace(/^0x/, ""));
    } catch (err) {
      throw new ApiError(400, "BAD_REQUEST", `invalid body: ${errorMessage(err)}`);
    }
  }
  throw new ApiError(
    415,
    "UNSUPPORTED_MEDIA_TYPE",
    "send the block as application/octet-stream, or as application/json { hex }",
  );
}
