/**
 * The record routes (docs/api.md "Records"): submission to the mempool, lookup with an inclusion proof,
 * an author's records and the mempool's state. Every record goes through `mempool.admit`, the one
 * admission path; the mempool's refusal codes map to HTTP statuses as docs/ledger-design.md's table says.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { type BlockRecord, type DataRecord, encodeRecord, type SignedRecord } from "../consensus/records.ts";
import {
  httpClient,
  type MempoolError,
  type RecordSource,
  recordFromJson,
  recordToJson,
} from "../mempool/index.ts";
import { BoundedMap } from "../util/bounded.ts";
import { TokenBucket } from "../util/bucket.ts";
import type { ApiBackend, RecordsBackend } from "./backend.ts";
import { MAX_RECORDS_PER_REQUEST } from "./routes.ts";
import {
  ApiError,
  type AuthorRecords,
  type MempoolView,
  type RecordAck,
  type RecordBody,
  type RecordDetail,
} from "./schemas.ts";

export interface RecordsApiOptions {
  /** Records one client (by IP address) may submit per second, sustained (default 10,000). */
  ratePerSec?: number;
  /** Records one client may submit in a burst (default 20,000: twenty full batches). */
  burst?: number;
  /** Seconds a client is told to wait after 503 MEMPOOL_FULL (default 10). */
  retryAfterSec?: number;
}

const DEFAULT_AUTHOR_PAGE = 20;
const DEFAULT_MEMPOOL_PAGE = 100;
/** Clients whose buckets are remembered at once (addresses are cheap to change; memory must not grow). */
const MAX_CLIENTS = 10_000;

/** The HTTP status and code an admission refusal answers with (docs/ledger-design.md). */
function refusal(err: MempoolError, index?: number): ApiError {
  const status =
    err.code === "RECORD_TOO_LARGE"
      ? 413
      : err.code === "BAD_SIGNATURE"
        ? 422
        : err.code === "UNAUTHORISED_AUTHOR"
          ? 403
          : err.code === "MEMPOOL_FULL"
            ? 503
            : 400;
  const details: Record<string, unknown> = { ...err.data };
  delete details["code"];
  if (index !== undefined) details["index"] = index;
  return new ApiError(
    status,
    err.code,
    index === undefined ? err.message : `record ${index}: ${err.message}`,
    details,
  );
}

/** The record as the API shows it; a miner record shows its fields. */
export function recordBody(rec: BlockRecord): RecordBody {
  if (rec.type === "miner")
    return { type: "miner", height: rec.height, extraNonce: rec.extraNonce.toString(), miner: rec.miner };
  return recordToJson(rec);
}

export class RecordsApi {
  private readonly buckets = new BoundedMap<string, TokenBucket>(MAX_CLIENTS);
  private readonly rate: number;
  private readonly burst: number;
  private readonly retryAfter: number;

  constructor(
    private readonly backend: Pick<ApiBackend, "chain" | "records">,
    opts: RecordsApiOptions = {},
  ) {
    this.rate = opts.ratePerSec ?? 10_000;
    this.burst = Math.max(MAX_RECORDS_PER_REQUEST, opts.burst ?? 20_000);
    this.retryAfter = opts.retryAfterSec ?? 10;
  }

  private need(): RecordsBackend {
    const r = this.backend.records;
    if (!r) throw new ApiError(503, "RECORDS_UNAVAILABLE", "this node keeps no mempool");
    return r;
  }

  /** Parses the body into records: every schema problem is a 400 before anything is admitted. */
  private parse(req: FastifyRequest): { records: Array<DataRecord | SignedRecord>; array: boolean } {
    const body = req.body;
    if (body instanceof Uint8Array)
      return { records: [{ type: "data", data: new Uint8Array(body) }], array: false };
    // Anything else that got past the content-type parsers (a JSON string or null, a text/plain body) fails
    // the schema, as on every JSON route.
    if (body === undefined || body === null || typeof body !== "object")
      throw new ApiError(
        400,
        "BAD_REQUEST",
        "invalid body: send a JSON record, a JSON array of records, or application/octet-stream data",
      );
    const array = Array.isArray(body);
    const items: unknown[] = array ? body : [body];
    if (array && (items.length < 1 || items.length > MAX_RECORDS_PER_REQUEST))
      throw new ApiError(
        400,
        "BAD_REQUEST",
        `invalid body: an array of 1 to ${MAX_RECORDS_PER_REQUEST} records, got ${items.length}`,
      );
    const records: Array<DataRecord | SignedRecord> = [];
    const issues: Array<{ path: string[]; message: string }> = [];
    items.forEach((item, i) => {
      const r = recordFromJson(item);
      if (r.ok) records.push(r.record);
      else for (const m of r.issues) issues.push({ path: array ? [String(i)] : [], message: m });
    });
    if (issues.length > 0) {
      const text = issues.map((x) => (x.path.length ? `${x.path[0]}: ${x.message}` : x.message)).join("; ");
      throw new ApiError(400, "BAD_REQUEST", `invalid body: ${text}`, { issues });
    }
    return { records, array };
  }

  /**
   * POST /api/records. A batch is checked whole before any record of it is admitted: the schema (400),
   * every record's size (413) and the room the batch needs (503): bad input changes nothing. Records
   * are then admitted in order; one refused there (a bad signature, 422; the pool filled meanwhile by
   * another client, 503) ends the request with that error, and records of the batch admitted before it
   * stay pending (a resubmission answers their status).
   */
  async submit(req: FastifyRequest, reply: FastifyReply): Promise<RecordAck | RecordAck[]> {
    const { mempool } = this.need();
    const { records, array } = this.parse(req);
    const client = req.socket.remoteAddress ?? "unknown";
    let bucket = this.buckets.get(client);
    if (!bucket) {
      bucket = new TokenBucket(this.burst, this.rate);
      this.buckets.set(client, bucket);
    }
    if (!bucket.take(records.length)) {
      reply.header("retry-after", String(Math.max(1, Math.ceil(bucket.waitMs(records.length) / 1000))));
      throw new ApiError(429, "TOO_MANY_REQUESTS", `more than ${this.rate} records/s from ${client}`);
    }
    const max = this.backend.chain.params.maxRecordSize;
    const encoded = records.map((r) => encodeRecord(r).slice());
    let bytes = 0;
    for (let i = 0; i < encoded.length; i++) {
      const size = encoded[i]!.length;
      if (size > max)
        throw new ApiError(
          413,
          "RECORD_TOO_LARGE",
          `${array ? `record ${i}: ` : ""}record of ${size} bytes exceeds ${max}`,
          { size, max, ...(array ? { index: i } : {}) },
        );
      bytes += size;
    }
    const full = (): ApiError => {
      reply.header("retry-after", String(this.retryAfter));
      const s = mempool.stats();
      return new ApiError(
        503,
        "MEMPOOL_FULL",
        `mempool full: ${s.count}/${s.maxCount} records, ${s.bytes}/${s.maxBytes} bytes`,
        {
          count: s.count,
          bytes: s.bytes,
          maxCount: s.maxCount,
          maxBytes: s.maxBytes,
        },
      );
    };
    // The client's share of the pool (src/mempool/shares.ts): its address, or its IPv6 /64.
    const source: RecordSource = { kind: "api", client: httpClient(req.socket.remoteAddress) };
    // A batch the pool cannot take whole is refused whole (a batch of only known records is refused
    // too: rare, and a retry answers their status). One record goes to admit, which answers known ones.
    if (array && !mempool.hasRoom(source, records.length, bytes)) throw full();
    const out: RecordAck[] = [];
    for (let i = 0; i < encoded.length; i++) {
      const r = await mempool.admit(encoded[i]!, source);
      if (r.ok) out.push({ id: r.entry.id, status: "pending" });
      else if (r.error.code === "ALREADY_PENDING") out.push({ id: r.id!, status: "pending" });
      else if (r.error.code === "ALREADY_CONFIRMED") out.push({ id: r.id!, status: "confirmed" });
      else if (r.error.code === "MEMPOOL_FULL") throw full();
      else throw refusal(r.error, array ? i : undefined);
    }
    reply.status(202);
    return array ? out : out[0]!;
  }

  /** GET /api/records/:id: the mempool first, then the record index. */
  async get(id: string): Promise<RecordDetail> {
    const { mempool, index } = this.need();
    const pending = mempool.get(id);
    if (pending) return { id, status: "pending", record: recordBody(pending.record) };
    const place = await index.findRecord(id);
    // No cache: the proof costs one block read and at most 32 record hashes (src/chain/proofs.ts).
    const found = place && (await index.readRecord(place, { proof: true }));
    if (!place || !found?.proof) {
      // It may have been mined between the two looks.
      const again = mempool.get(id);
      if (again) return { id, status: "pending", record: recordBody(again.record) };
      throw new ApiError(404, "RECORD_NOT_FOUND", `no record ${id}`);
    }
    return {
      id,
      status: "confirmed",
      record: recordBody(found.record),
      block: { hash: place.blockHash, height: place.height, time: found.time },
      index: place.index,
      confirmations: Math.max(0, this.backend.chain.height - place.height + 1),
      proof: found.proof,
    };
  }

  /** GET /api/records?author=: the author's confirmed records, newest first. */
  async byAuthor(q: {
    author: string;
    limit?: number | undefined;
    before?: string | undefined;
  }): Promise<AuthorRecords> {
    const { index } = this.need();
    const limit = q.limit ?? DEFAULT_AUTHOR_PAGE;
    let before: { height: number; index: number } | undefined;
    if (q.before !== undefined) {
      const [h, i] = q.before.split(":").map(Number);
      before = { height: h!, index: i! };
    }
    // One more than asked tells whether there is a next page.
    const places = await index.recordsByAuthor(q.author, { limit: limit + 1, ...(before ? { before } : {}) });
    const page = places.slice(0, limit);
    const tipHeight = this.backend.chain.height;
    const records: AuthorRecords["records"] = [];
    for (const p of page) {
      const found = await index.readRecord(p, { proof: false });
      if (!found) continue; // reorganised away between the index read and the block read
      records.push({
        id: p.id,
        record: recordBody(found.record),
        block: { hash: p.blockHash, height: p.height, time: found.time },
        index: p.index,
        confirmations: Math.max(0, tipHeight - p.height + 1),
      });
    }
    const last = page.at(-1);
    return { records, next: places.length > limit && last ? `${last.height}:${last.index}` : null };
  }

  /** GET /api/mempool. */
  mempool(q: { limit?: number | undefined; after?: string | undefined }): MempoolView {
    const { mempool } = this.need();
    const limit = q.limit ?? DEFAULT_MEMPOOL_PAGE;
    const ids = mempool.ids(limit + 1, q.after);
    const page = ids.slice(0, limit);
    return {
      ...mempool.stats(),
      ids: page,
      next: ids.length > limit ? (page.at(-1) ?? null) : null,
    };
  }
}
