import { bytesEqual } from "../consensus/bytes.ts";
import { BlockError } from "../consensus/errors.ts";
import { sha256d } from "../consensus/hash.ts";
import { decodeHeader, HEADER_SIZE, hashToHex } from "../consensus/header.ts";
import type { NetworkParams } from "../consensus/params.ts";
import { checkHeaderTime, checkHeaderWork } from "../consensus/validate.ts";
import { checkHeaderPlace } from "./connect.ts";
import { type BlockTree, isInvalid, knownInvalidError } from "./tree.ts";
import type { ChainEntry, HeaderRun } from "./types.ts";

/**
 * Headers checked before any body is asked for (issue 21, headers-first sync): each header of a run in
 * turn, against its parent, with the checks processBlock gives a header (intake.ts steps 2 and 4): proof of
 * work and target, time against the clock, the link to its parent, checkpoints, bits and median time past.
 * Nothing is kept: the caller (src/sync) holds the entries it gets back until their bodies arrive.
 */

/** What the checks read of the chain: the tree (contexts, checkpoints), the parameters and the clock. */
export interface HeaderCheckContext {
  tree: BlockTree;
  params: NetworkParams;
  /** The node's clock in seconds. */
  now: number;
}

/**
 * Checks `headers` (80 bytes each) as a chain on top of `parent` (a tree entry or an entry this function
 * returned before); returns the entries of the headers that passed, up to the first that did not.
 */
export function checkHeaderRun(
  ctx: HeaderCheckContext,
  parent: ChainEntry,
  headers: readonly Uint8Array[],
): HeaderRun {
  const entries: ChainEntry[] = [];
  let prev = parent;
  for (let i = 0; i < headers.length; i++) {
    try {
      prev = checkOne(ctx, prev, headers[i]!);
    } catch (err) {
      if (!(err instanceof BlockError)) throw err;
      return { entries, error: { index: i, error: err } };
    }
    entries.push(prev);
  }
  return { entries };
}

/** One header under `parent`: its entry, or the BlockError it breaks. */
function checkOne(ctx: HeaderCheckContext, parent: ChainEntry, raw: Uint8Array): ChainEntry {
  if (raw.length !== HEADER_SIZE)
    throw new BlockError({ code: "MALFORMED", reason: `a header of ${raw.length} bytes` });
  const header = decodeHeader(raw);
  const bytes = sha256d(raw);
  const hex = hashToHex(bytes);
  if (!bytesEqual(header.prevHash, parent.hashBytes))
    throw new BlockError(
      { code: "MALFORMED", reason: "a header that does not follow the one before it" },
      hex,
    );
  const known = ctx.tree.get(hex);
  if (known) {
    if (isInvalid(known)) throw knownInvalidError(known);
    return known;
  }
  checkHeaderWork(header, bytes, hex, ctx.params);
  checkHeaderTime(header, hex, ctx.params, ctx.now);
  checkHeaderPlace(header, hex, ctx.params, ctx.tree.view(parent), ctx.tree.heldCheckpoint());
  return ctx.tree.headerEntry(header, { hex, bytes }, parent, 0, 0);
}
