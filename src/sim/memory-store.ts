import type { ChainStore, RecordPlace, StoredEntry, StoreWrite } from "../chain/store.ts";

/** A compact map key for a hash: its 32 bytes as a latin1 string (cheaper than hex). */
function key(hash: Uint8Array): string {
  return Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength).toString("latin1");
}

/**
 * The chain's store interface in memory, for the simulator: the same contract as LevelStore (one write
 * is applied whole, reads see committed state) without the disk. Block bytes are kept by reference, so
 * nodes of one simulation that receive the same block share one copy of it.
 */
export class MemoryStore implements ChainStore {
  private readonly entries = new Map<string, StoredEntry>();
  private readonly blocks = new Map<string, Uint8Array>();
  /** Merkle upper levels of blocks of more than 32 records, as LevelStore's 'm' keys. */
  private readonly uppers = new Map<string, Uint8Array>();
  private readonly main: Array<Uint8Array | undefined> = [];
  private tip: Uint8Array | undefined;
  /** The record-id index: id → its place on the main chain. */
  private readonly records = new Map<string, RecordPlace>();
  /** The author index: public key → (place → id), as LevelStore's 'a' keys. */
  private readonly authors = new Map<string, Map<number, Uint8Array>>();
  /** Batches written, for tests and statistics. */
  writes = 0;

  async loadEntries(): Promise<StoredEntry[]> {
    return [...this.entries.values()];
  }

  async getTip(): Promise<Uint8Array | undefined> {
    return this.tip;
  }

  async getMainHash(height: number): Promise<Uint8Array | undefined> {
    return this.main[height];
  }

  async getBlock(hash: Uint8Array): Promise<Uint8Array | undefined> {
    return this.blocks.get(key(hash));
  }

  /** The serialized block, synchronously (the simulator's relay reads side blocks this way). */
  blockSync(hash: Uint8Array): Uint8Array | undefined {
    return this.blocks.get(key(hash));
  }

  async getBlocks(hashes: Uint8Array[]): Promise<Array<Uint8Array | undefined>> {
    return hashes.map((h) => this.blocks.get(key(h)));
  }

  async getUpperTrees(hashes: Uint8Array[]): Promise<Array<Uint8Array | undefined>> {
    return hashes.map((h) => this.uppers.get(key(h)));
  }

  async getRecordPlaces(ids: Uint8Array[]): Promise<Array<RecordPlace | undefined>> {
    return ids.map((id) => this.records.get(key(id)));
  }

  async recordsByAuthor(
    publicKey: Uint8Array,
    limit: number,
    before?: RecordPlace,
  ): Promise<Array<RecordPlace & { id: Uint8Array }>> {
    const rows = this.authors.get(key(publicKey));
    if (!rows || limit <= 0) return [];
    const below = before ? placeKey(before) : Number.POSITIVE_INFINITY;
    return [...rows.keys()]
      .filter((k) => k < below)
      .sort((a, b) => b - a)
      .slice(0, limit)
      .map((k) => ({ height: Math.floor(k / PLACE_SPAN), index: k % PLACE_SPAN, id: rows.get(k)! }));
  }

  async getAuthorIds(
    refs: Array<RecordPlace & { author: Uint8Array }>,
  ): Promise<Array<Uint8Array | undefined>> {
    return refs.map((r) => this.authors.get(key(r.author))?.get(placeKey(r)));
  }

  async countRecordIndex(): Promise<{ records: number; authors: number }> {
    let authors = 0;
    for (const rows of this.authors.values()) authors += rows.size;
    return { records: this.records.size, authors };
  }

  /** Applies the batch. Nothing in it can fail halfway, so it is atomic by construction. */
  async write(w: StoreWrite): Promise<void> {
    this.writes++;
    // A block and its entry usually carry the same hash bytes object: build its key once.
    let lastHash: Uint8Array | undefined;
    let lastKey = "";
    const k = (hash: Uint8Array): string => {
      if (hash !== lastHash) {
        lastHash = hash;
        lastKey = key(hash);
      }
      return lastKey;
    };
    for (const b of w.blocks ?? []) {
      this.blocks.set(k(b.hash), b.raw);
      if (b.upper) this.uppers.set(k(b.hash), b.upper);
    }
    for (const e of w.entries ?? []) this.entries.set(k(e.hash), e);
    for (const h of w.mainDel ?? []) this.main[h] = undefined;
    for (const m of w.mainPut ?? []) this.main[m.height] = m.hash;
    while (this.main.length && this.main[this.main.length - 1] === undefined) this.main.length--;
    if (w.tip) this.tip = w.tip;
    // Disconnected records first, so a record in both branches ends up at its new place (as LevelStore).
    for (const r of w.recordsDel ?? []) {
      this.records.delete(key(r.id));
      if (!r.author) continue;
      const rows = this.authors.get(key(r.author));
      rows?.delete(placeKey(r));
      if (rows?.size === 0) this.authors.delete(key(r.author));
    }
    for (const r of w.recordsPut ?? []) {
      this.records.set(key(r.id), { height: r.height, index: r.index });
      if (!r.author) continue;
      const a = key(r.author);
      let rows = this.authors.get(a);
      if (!rows) {
        rows = new Map();
        this.authors.set(a, rows);
      }
      rows.set(placeKey(r), r.id);
    }
  }
}

/** Positions in a block stay far below 2^21 (1 MB blocks), so height · 2^21 + index orders places exactly. */
const PLACE_SPAN = 2 ** 21;
const placeKey = (p: RecordPlace): number => p.height * PLACE_SPAN + p.index;
