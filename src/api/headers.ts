import { z } from "zod";
import { MAX_HEADERS_PER_REQUEST } from "../light/source.ts";

/**
 * The shapes of GET /api/headers and /api/headers/raw (docs/api.md): main-chain headers by height, what a
 * light client needs to check the chain itself (src/light). The route table, and so the explorer, imports
 * this file: schemas and bounds only (the handler is src/api/handlers/headers.ts).
 */

export { MAX_HEADERS_PER_REQUEST };

/** The tip a node claims: a light client holds it to the headers it serves (docs/light.md). */
export const HeadersTip = z.object({
  height: z.number().int(),
  hash: z.string(),
  /** Total work of the main chain up to its tip, decimal. */
  chainWork: z.string(),
});

/** GET /api/headers: the node's network and tip, and main-chain headers from `from`, as hex. */
export const HeadersPage = z.object({
  network: z.string(),
  genesis: z.string(),
  tip: HeadersTip,
  /** Height of the first header in `headers`. */
  from: z.number().int(),
  /** 80-byte headers as 160 hex digits, in height order (empty past the tip, or with count=0). */
  headers: z.array(z.string()),
});
export type HeadersPage = z.infer<typeof HeadersPage>;
