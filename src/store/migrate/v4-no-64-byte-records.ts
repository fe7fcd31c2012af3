import { StoreError } from "../../chain/store.ts";
import { recordOffsets } from "../../consensus/block.ts";
import { hashToHex } from "../../consensus/header.ts";
import { FORBIDDEN_RECORD_SIZE } from "../../consensus/records.ts";
import { forEachBody, type Migration } from "./step.ts";

/**
 * Schema 3 → 4: the 64-byte rule (docs/consensus.md). Stores of schema 3 were written when a record of
 * exactly 64 bytes was valid; this jbc refuses such records from genesis. The step reads every stored body
 * (main, side and invalid alike: only the record lengths, no decoding of records) and writes nothing: a
 * store without such a record is valid under the new rule and is upgraded as it is; a store with one is
 * refused, naming the block and what to do, and stays at schema 3 (the two rules are never mixed).
 */
export const no64ByteRecords: Migration = {
  from: 3,
  name: "refuse stores holding a 64-byte record (the 64-byte rule)",
  async run(ctx) {
    const entries = await ctx.loadEntries();
    const hashes = entries.map((e) => e.hash);
    await forEachBody(ctx, hashes, "block", (raw, i) => {
      const offsets = recordOffsets(raw);
      for (let r = 0; r + 1 < offsets.length; r++) {
        if (offsets[r + 1]! - offsets[r]! !== FORBIDDEN_RECORD_SIZE) continue;
        const e = entries[i]!;
        throw new StoreError(
          "OLD_RULES",
          `this data directory was written under jbc's old merkle rule: block ${hashToHex(e.hash)} at height ${e.height} holds a 64-byte record (record ${r}), which consensus now forbids (docs/consensus.md, "The 64-byte rule"); move the directory aside and sync a new one: mv ${ctx.path} ${ctx.path}.old`,
          ctx.path,
        );
      }
    });
  },
};
