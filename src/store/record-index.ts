/**
 * Writing the record-id and author indexes ('r' and 'a' keys, docs/storage.md): what a batch puts for the
 * records of a block joining the main chain and deletes for one leaving it. Shared by `LevelStore.write`
 * and the schema 1 → 2 migration, which builds the same keys from the main chain.
 */
import type { IndexedRecord } from "../chain/store.ts";
import type { Batch } from "./db.ts";
import { authorKey, encodePlace, recordKey } from "./layout.ts";

/**
 * Puts the index keys of `records` into `batch`; each id goes into `filter` first, so the filter never
 * lacks an id the index holds (a filter holding more is still correct).
 */
export function putRecords(
  batch: Batch,
  records: IndexedRecord[],
  filter?: { add(id: Uint8Array): void },
): void {
  for (const r of records) {
    filter?.add(r.id);
    batch.put(recordKey(r.id), encodePlace(r.height, r.index));
    if (r.author) batch.put(authorKey(r.author, r.height, r.index), r.id);
  }
}

/** Deletes the index keys of `records` in `batch` (their 'r' key, and their 'a' key when signed). */
export function deleteRecords(batch: Batch, records: IndexedRecord[]): void {
  for (const r of records) {
    batch.del(recordKey(r.id));
    if (r.author) batch.del(authorKey(r.author, r.height, r.index));
  }
}
