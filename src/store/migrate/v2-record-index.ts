import { indexedRecords } from "../../chain/store.ts";
import { decodeBlock } from "../../consensus/block.ts";
import { P_HEIGHT, prefixRange } from "../layout.ts";
import { putRecords } from "../record-index.ts";
import { forEachBody, type Migration } from "./step.ts";

/**
 * Schema 1 → 2: builds the record-id and author indexes ('r', 'a') from the main chain ('h' records, in
 * height order), MIGRATE_BATCH blocks a batch. Every put is idempotent: a half-built index is completed.
 */
export const recordIndex: Migration = {
  from: 1,
  name: "record-id and author indexes ('r', 'a') of the main chain",
  async run(ctx) {
    const hashes = await ctx.read(ctx.db.values(prefixRange(P_HEIGHT)).all());
    await forEachBody(ctx, hashes, "main-chain block", (raw, height, batch) => {
      putRecords(batch, indexedRecords(decodeBlock(raw), height));
    });
  },
};
