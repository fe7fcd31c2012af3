import { type Block, decodeBlockSteps } from "../consensus/block.ts";
import { runSliced } from "../util/slices.ts";

/**
 * consensus's decodeBlock(bytes), for a block submitted over HTTP, in the node's time slices
 * (util/slices.ts): the same steps decodeBlock runs (consensus's decodeBlockSteps), so the same result and
 * the same DecodeError for the same bytes; a maximum-size block takes a few ms to decode here, several
 * times that on a loaded machine, and the submissions of many clients would follow one another.
 */
export function decodeBlockSliced(bytes: Uint8Array): Promise<Block> {
  return runSliced(decodeBlockSteps(bytes));
}
