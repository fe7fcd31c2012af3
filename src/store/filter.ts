import type { Db } from "./db.ts";
import { readOrFail } from "./errors.ts";
import { P_RECORD, prefixRange } from "./layout.ts";

/** Probes per id, and bits per id the filter is sized for: about 1% false positives. */
const PROBES = 7;
const BITS_PER_ID = 10;

/**
 * A Bloom filter over record ids, so the exactly-once lookups of a block whose records are all new (the
 * common case) answer "certainly absent" without a LevelDB read. Ids are sha256d outputs, uniform already,
 * so the k probe positions come from two 32-bit words of the id (Kirsch–Mitzenmacher double hashing).
 * About 10 bits per id and 7 probes: about 1% of new ids still go to LevelDB. It only ever answers "maybe"
 * for an id it was given, so a filter that holds a superset of the index is correct (ids of disconnected
 * blocks stay in it until the next rebuild).
 */
export class IdFilter {
  private readonly bits: Uint32Array;
  private readonly size: number;
  /** Ids added; past `capacity` the false-positive rate climbs and the owner rebuilds a larger filter. */
  count = 0;

  /** An empty filter sized for `capacity` ids (65,536 bits at least). */
  constructor(readonly capacity: number) {
    this.size = Math.max(1 << 16, Math.ceil(capacity * BITS_PER_ID));
    this.bits = new Uint32Array(Math.ceil(this.size / 32));
  }

  /** Adds an id (32 bytes, or at least 8): `mayHave` answers true for it from now on. */
  add(id: Uint8Array): void {
    const dv = new DataView(id.buffer, id.byteOffset, 8);
    const h1 = dv.getUint32(0, true);
    const h2 = dv.getUint32(4, true) | 1;
    for (let i = 0; i < PROBES; i++) {
      const bit = (h1 + Math.imul(i, h2)) >>> 0;
      const at = bit % this.size;
      this.bits[at >>> 5]! |= 1 << (at & 31);
    }
    this.count++;
  }

  /** False: the id was never added. True: it may have been. */
  mayHave(id: Uint8Array): boolean {
    const dv = new DataView(id.buffer, id.byteOffset, 8);
    const h1 = dv.getUint32(0, true);
    const h2 = dv.getUint32(4, true) | 1;
    for (let i = 0; i < PROBES; i++) {
      const bit = (h1 + Math.imul(i, h2)) >>> 0;
      const at = bit % this.size;
      if ((this.bits[at >>> 5]! & (1 << (at & 31))) === 0) return false;
    }
    return true;
  }
}

/**
 * The store's filter in front of the record-id index ('r' keys): built from the index at open, given every
 * id before the batch that writes it, and rebuilt larger in the background when it fills. It always holds
 * every id of the index (and maybe more), so "certainly absent" is always true.
 */
export class RecordIdFilter {
  /** Every id of the record index (and maybe more): lookups of ids it lacks skip LevelDB. */
  private filter = new IdFilter(0);
  /** The larger filter being filled from the index while this one is too full; new ids go to both. */
  private next: IdFilter | undefined;

  /** A filter over the index of `db` (at `path`, for errors); empty until `rebuild` has run. */
  constructor(
    private readonly db: Db,
    private readonly path: string,
  ) {}

  /** False: the id is certainly not in the record index. True: it may be. */
  mayHave(id: Uint8Array): boolean {
    return this.filter.mayHave(id);
  }

  /** Takes an id about to be written to the index (into the filter being rebuilt too, if any). */
  add(id: Uint8Array): void {
    this.filter.add(id);
    this.next?.add(id);
  }

  /**
   * Starts a rebuild in the background when the filter holds more ids than it was sized for and none is
   * running; until it is done the full filter answers "maybe" more often, which only costs lookups.
   */
  growIfFull(): void {
    if (!this.next && this.filter.count > this.filter.capacity) this.rebuild().catch(() => {});
  }

  /**
   * Fills a filter sized for twice the index (estimated from LevelDB's size of the 'r' range, about 45
   * bytes a key) from its keys, then uses it; ids written meanwhile go into it too (`add`). Run at open
   * and when the filter fills up; again at once when the estimate was too low.
   */
  async rebuild(expected?: number): Promise<void> {
    const range = prefixRange(P_RECORD);
    const estimate = expected ?? Math.ceil((await this.db.approximateSize(range.gte, range.lt)) / 40);
    const next = new IdFilter(Math.max(1 << 20, 2 * estimate));
    this.next = next;
    const it = this.db.keys(range);
    try {
      for (;;) {
        const batch = await readOrFail(it.nextv(8192), this.path);
        if (batch.length === 0) break;
        for (const k of batch) next.add(k.subarray(1));
      }
    } finally {
      this.next = undefined;
      await it.close();
    }
    this.filter = next;
    if (next.count > next.capacity) await this.rebuild(next.count);
  }
}
