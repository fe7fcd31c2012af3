import type { BlockSource } from "../chain/interfaces.ts";
import type { ChainEntry } from "../chain/types.ts";
import { MAX_BLOCK_SIZE, recordOffsets } from "../consensus/block.ts";
import { Reader } from "../consensus/bytes.ts";
import { HEADER_SIZE } from "../consensus/header.ts";
import { decodeRecord, skipRecord } from "../consensus/records.ts";
import { yieldIfSpent } from "../util/slices.ts";
import { ByteLru } from "./cache.ts";
import { type PagedRecord, type RecordsPage, recordView } from "./views.ts";

/**
 * The records of one stored block, a page at a time, for GET /api/blocks/:id. A block may hold 199,979
 * records (1 MB of 5-byte records): its whole view was 27 MiB of JSON, every record decoded, hashed and
 * its signature verified on every request, and eight such requests held the event loop for 14.5 s. A page
 * decodes and hashes only its own records, from the block's bytes and where each record starts; both are
 * kept in caches bounded by bytes (the block bodies, and the pages as shown), so a popular block costs one
 * store read, one scan of its record lengths and one rendering per page, not one per request.
 */

/** Records a page holds when the client does not say (and at most 1,000: routes.ts). */
export const DEFAULT_RECORDS_PAGE = 100;
/** A page ends once its records' bytes reach this (so a page of 64 KiB records stays small). */
export const PAGE_RECORD_BYTES = 256 * 1024;
/** Bytes of block bodies (their bytes and record offsets) the view keeps by default. */
export const DEFAULT_VIEW_CACHE_BYTES = 32 * 1024 * 1024;

/** A stored block's bytes and where each of its records starts (`count + 1` offsets, the last its end). */
export interface BlockBody {
  raw: Uint8Array;
  offsets: Uint32Array;
}

/** The records of `body` from `from`, before they are shown: a page's bounds and the next page's start. */
export interface BodyPage {
  count: number;
  from: number;
  records: PagedRecord[];
  next: number | null;
}

/**
 * The records of `body` from index `from`, at most `limit` of them and, past the first, no more than
 * PAGE_RECORD_BYTES of record bytes; a `from` past the last record gives an empty last page.
 */
export function recordPage(body: BlockBody, from: number, limit: number): BodyPage {
  const { raw, offsets } = body;
  const count = offsets.length - 1;
  const records: PagedRecord[] = [];
  let i = Math.min(from, count);
  for (let bytes = 0; i < count && records.length < limit; i++) {
    const size = offsets[i + 1]! - offsets[i]!;
    if (records.length > 0 && bytes + size > PAGE_RECORD_BYTES) break;
    const encoded = raw.subarray(offsets[i]!, offsets[i + 1]!);
    records.push({ index: i, bytes: encoded, record: decodeRecord(encoded) });
    bytes += size;
  }
  return { count, from, records, next: i < count ? i : null };
}

/**
 * consensus's recordOffsets(raw), the one step of a view whose time grows with the block (10 to 40 ms for
 * 199,980 records), in the API's time slices. A test checks the two agree. Throws DecodeError as it does.
 */
export async function recordOffsetsSliced(raw: Uint8Array): Promise<Uint32Array> {
  if (raw.length > MAX_BLOCK_SIZE) return recordOffsets(raw);
  const r = new Reader(raw);
  r.skip(HEADER_SIZE, "header");
  const count = r.varint(Math.floor((MAX_BLOCK_SIZE - HEADER_SIZE) / 2), "record count");
  const offsets = new Uint32Array(count + 1);
  for (let i = 0; i < count; i++) {
    offsets[i] = r.pos;
    skipRecord(r);
    if ((i & 4095) === 4095) await yieldIfSpent();
  }
  offsets[count] = r.pos;
  r.end("block");
  return offsets;
}

/** Pages of block records as the view shows them, from bodies read once; both cached by bytes. */
export class BlockPages {
  private readonly bodies: ByteLru<string, BlockBody>;
  /** Rendered pages by block, status (signature verdicts follow it), start and size; an eighth of the budget. */
  private readonly pages: ByteLru<string, RecordsPage>;
  /** Body reads in flight, so that clients asking for the same block at once share one. */
  private readonly loading = new Map<string, Promise<BlockBody | undefined>>();

  constructor(
    private readonly chain: Pick<BlockSource, "getRawBlock">,
    maxBytes = DEFAULT_VIEW_CACHE_BYTES,
  ) {
    this.bodies = new ByteLru(maxBytes - (maxBytes >> 3));
    this.pages = new ByteLru(maxBytes >> 3);
  }

  /** Records of the block `e` from `from`, at most `limit` (recordPage's bounds); undefined without a body. */
  async page(e: ChainEntry, from: number, limit: number): Promise<RecordsPage | undefined> {
    const key = `${e.hash}:${e.status}:${from}:${limit}`;
    const hit = this.pages.get(key);
    if (hit) return hit;
    const body = await this.body(e.hash);
    if (!body) return undefined;
    const page = recordPage(body, from, limit);
    const shown: RecordsPage = { ...page, records: page.records.map((p) => recordView(e, p)) };
    // About its JSON: the record bytes twice (hex), and the id and field names of each.
    let bytes = 0;
    for (const p of page.records) bytes += 2 * p.bytes.length + 200;
    this.pages.set(key, shown, bytes);
    return shown;
  }

  /** Bytes the caches hold. */
  get cachedBytes(): number {
    return this.bodies.bytes + this.pages.bytes;
  }

  private body(hash: string): Promise<BlockBody | undefined> {
    const hit = this.bodies.get(hash);
    if (hit) return Promise.resolve(hit);
    let load = this.loading.get(hash);
    if (!load) {
      load = this.load(hash).finally(() => this.loading.delete(hash));
      this.loading.set(hash, load);
    }
    return load;
  }

  private async load(hash: string): Promise<BlockBody | undefined> {
    const raw = await this.chain.getRawBlock(hash);
    if (!raw) return undefined;
    const body = { raw, offsets: await recordOffsetsSliced(raw) };
    this.bodies.set(hash, body, raw.byteLength + body.offsets.byteLength);
    return body;
  }
}
