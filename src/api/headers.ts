import { z } from "zod";
import type { ChainReader } from "../chain/interfaces.ts";
import { encodeHeader, HEADER_SIZE } from "../consensus/header.ts";
import { MAX_HEADERS_PER_REQUEST } from "../light/sync.ts";

/**
 * Main-chain headers by height (GET /api/headers and /api/headers/raw, docs/api.md "Headers"): what a
 * light client needs to check the chain itself (src/light). Read from the block tree in memory with no
 * await in between, so one answer is one chain even while blocks arrive.
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

/** The main chain's headers at heights from `from`, at most `count` (fewer at the tip). */
export function mainHeaders(
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
export function concatHeaders(headers: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(headers.length * HEADER_SIZE);
  for (let i = 0; i < headers.length; i++) out.set(headers[i]!, i * HEADER_SIZE);
  return out;
}
