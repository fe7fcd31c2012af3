import type { ChainStore, StoredEntry, StoreWrite } from "../chain/store.ts";

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
  private readonly main: Array<Uint8Array | undefined> = [];
  private tip: Uint8Array | undefined;
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
    for (const b of w.blocks ?? []) this.blocks.set(k(b.hash), b.raw);
    for (const e of w.entries ?? []) this.entries.set(k(e.hash), e);
    for (const h of w.mainDel ?? []) this.main[h] = undefined;
    for (const m of w.mainPut ?? []) this.main[m.height] = m.hash;
    while (this.main.length && this.main[this.main.length - 1] === undefined) this.main.length--;
    if (w.tip) this.tip = w.tip;
  }
}
