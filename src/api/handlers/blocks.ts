import { decodeBlock } from "../../consensus/block.ts";
import { fromHex } from "../../consensus/bytes.ts";
import { errorMessage } from "../../util/errors.ts";
import type { ApiBackend } from "../backend.ts";
import { type GroupHandlers, parsePart } from "../handler.ts";
import { ApiError, SubmitHexBody } from "../schemas.ts";
import { blockDetail, submitResult, summary, treeNode } from "../views.ts";

/** The blocks group: main-chain pages, one block decoded or raw, submission, the recent block tree. */

const DEFAULT_PAGE = 20;
const DEFAULT_TREE_DEPTH = 50;

/** Handlers of the blocks group's routes; blocks are submitted to the chain's processBlock. */
export function getBlocksApi({ chain }: Pick<ApiBackend, "chain">): GroupHandlers<"blocks"> {
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

    getBlock: async ({ params }) => {
      const entry = /^\d+$/.test(params.id) ? chain.getEntryAt(Number(params.id)) : chain.getEntry(params.id);
      if (!entry) throw new ApiError(404, "BLOCK_NOT_FOUND", `no block ${params.id}`);
      const block = await chain.getBlock(entry.hash);
      if (!block) throw new ApiError(404, "BLOCK_NOT_FOUND", `block ${entry.hash} has no stored body`);
      return blockDetail(chain, entry, block);
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
      return submitResult(await chain.processBlock(decodeBlock(raw), raw));
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
