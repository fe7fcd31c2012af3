import type { ApiBackend } from "../backend.ts";
import type { GroupHandlers } from "../handler.ts";
import { RecordsApi, type RecordsApiOptions } from "../records.ts";

/**
 * The records group: submission to the mempool, one record with its proof, an author's records, the
 * mempool's state. The work is RecordsApi's (src/api/records.ts); this maps the routes onto it.
 */

/** Handlers of the records group's routes, with one submission rate limiter for all of them. */
export function getRecordsApi(
  opts: RecordsApiOptions,
  backend: Pick<ApiBackend, "chain" | "records">,
): GroupHandlers<"records"> {
  const records = new RecordsApi(backend, opts);
  return {
    submitRecords: async ({ req, reply }) => records.submit(req, reply),
    getRecord: async ({ params }) => records.get(params.id),
    getRecords: async ({ query }) => records.byAuthor(query),
    getMempool: async ({ query }) => records.mempool(query),
  };
}
