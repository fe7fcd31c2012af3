import { decodeBlock, recordIds } from "../../consensus/block.ts";
import { computeMerkleRoot, UPPER_TREE_SPAN } from "../../consensus/merkle.ts";
import { upperKey } from "../layout.ts";
import { forEachBody, type Migration } from "./step.ts";

/**
 * Schema 2 → 3: the merkle upper levels ('m') of every stored block of more than UPPER_TREE_SPAN records
 * (main and side, as new writes store them with every body), MIGRATE_BATCH blocks a batch; blocks of at
 * most UPPER_TREE_SPAN records are not read. Idempotent: a put of what the body gives.
 */
export const upperTrees: Migration = {
  from: 2,
  name: "merkle upper levels ('m') of blocks of more than 32 records",
  async run(ctx) {
    const entries = await ctx.loadEntries();
    const big = entries.filter((e) => e.recordCount > UPPER_TREE_SPAN).map((e) => e.hash);
    await forEachBody(ctx, big, "block", (raw, i, batch) => {
      const { upper } = computeMerkleRoot(recordIds(decodeBlock(raw)), true);
      if (upper) batch.put(upperKey(big[i]!), upper);
    });
  },
};
