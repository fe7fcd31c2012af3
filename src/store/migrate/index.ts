/**
 * The schema migrations, in order: entry i takes a store from version i + 1 to i + 2, so the schema
 * version this jbc writes is one more than the number of entries (schema.ts `SCHEMA_VERSION`). On open,
 * a store of this node's network and an older version runs every step from its version on, in order
 * (schema.ts `upgrade`), after bcoin's and hsd's numbered migrations.
 *
 * To add a step N → N + 1: write `vN+1-<what>.ts` here exporting a `Migration` with `from: N` (see
 * step.ts; `forEachBody` reads bodies in batches), append it below, and describe the new version in
 * docs/storage.md ("V: metadata", "Startup"). test/store/migrate.test.ts checks the table's order.
 */
import type { Migration } from "./step.ts";
import { recordIndex } from "./v2-record-index.ts";
import { upperTrees } from "./v3-upper-trees.ts";
import { no64ByteRecords } from "./v4-no-64-byte-records.ts";
import { recordCap } from "./v5-record-cap.ts";

/** Every schema step, oldest first: MIGRATIONS[i].from === i + 1. */
export const MIGRATIONS: readonly Migration[] = [recordIndex, upperTrees, no64ByteRecords, recordCap];
