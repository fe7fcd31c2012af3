import { StoreError } from "../../chain/store.ts";
import { MAX_BLOCK_RECORDS } from "../../consensus/block.ts";
import { hashToHex } from "../../consensus/header.ts";
import type { Migration } from "./step.ts";

/**
 * Schema 4 → 5: the record cap (docs/consensus.md, "Records per block"). Stores of schema 4 were written when
 * a block could hold as many records as fit in 1,000,000 bytes (499,960 of 2 bytes); this jbc refuses a block
 * of more than MAX_BLOCK_RECORDS records, from genesis. As the 64-byte rule's step (v4) does, the step writes
 * nothing: a store without such a block (main, side or invalid alike) is valid under the new rule and is
 * upgraded as it is; a store with one is refused, naming the block and what to do, and stays at schema 4 (the
 * two rules are never mixed). It reads only the block-tree entries: each keeps its block's record count, so
 * no body is read.
 */
export const recordCap: Migration = {
  from: 4,
  name: "refuse stores holding a block over the record cap",
  async run(ctx) {
    for (const e of await ctx.loadEntries()) {
      if (e.recordCount <= MAX_BLOCK_RECORDS) continue;
      throw new StoreError(
        "OLD_RULES",
        `this data directory was written before jbc's record cap: block ${hashToHex(e.hash)} at height ${e.height} holds ${e.recordCount} records, more than the ${MAX_BLOCK_RECORDS} consensus now allows (docs/consensus.md, "Records per block"); move the directory aside and sync a new one: mv ${ctx.path} ${ctx.path}.old`,
        ctx.path,
      );
    }
  },
};
