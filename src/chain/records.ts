import { DecodeError, fromHex, toHex } from "../consensus/bytes.ts";
import { hashToHex, hexToHash } from "../consensus/header.ts";
import type { ConfirmedIn } from "../consensus/validate.ts";
import { readStoredRecord, type StoredRecord } from "./proofs.ts";
import type { ChainStore, RecordPlace } from "./store.ts";
import type { BlockTree } from "./tree.ts";
import type { ChainEntry, RecordLocation } from "./types.ts";

/** Runs `fn` behind every call of the chain's queue (Chain.exclusive). */
export type Exclusive = <T>(fn: () => Promise<T>) => Promise<T>;

/** A 32-byte public key from 64 hex digits (DecodeError otherwise). */
function fromHexKey(hex: string): Uint8Array {
  if (hex.length !== 64) throw new DecodeError("public key must be 64 hex digits");
  return fromHex(hex);
}

/**
 * The record index as the main chain sees it: the store's record-id and author indexes, with each place
 * named by the main-chain block at its height. The index and the main chain move together in one batch,
 * but a read outside the chain's queue can straddle that batch; `epoch` tells it so, and it reads again
 * inside the queue. The Chain owns one, and runs every change of the main chain through `moving`.
 */
export class RecordView {
  /**
   * Odd while a batch that moves the main chain (and the record index) is written and applied to memory:
   * readers outside the queue (findRecord, recordsByAuthor) read again when it changed under them.
   */
  private epoch = 0;

  constructor(
    private readonly store: ChainStore,
    private readonly tree: BlockTree,
    private readonly exclusive: Exclusive,
  ) {}

  /**
   * Where a record (display-hex id) is confirmed on the main chain, or undefined. Throws DecodeError on a bad
   * id.
   */
  findRecord(id: string): Promise<RecordLocation | undefined> {
    const idBytes = hexToHash(id);
    return this.stable(async () => {
      const [place] = await this.store.getRecordPlaces([idBytes]);
      return place && this.locate(place);
    });
  }

  /**
   * The record at a place findRecord or recordsByAuthor gave, with its proof when asked; undefined when not
   * stored.
   */
  async readRecord(place: RecordLocation, opts: { proof: boolean }): Promise<StoredRecord | undefined> {
    const e = this.tree.get(place.blockHash);
    return e && readStoredRecord(this.store, e.hashBytes, place.index, opts.proof);
  }

  /** Whether a record (display-hex id) is confirmed on the main chain. */
  async isRecordConfirmed(id: string): Promise<boolean> {
    const [place] = await this.store.getRecordPlaces([hexToHash(id)]);
    return place !== undefined;
  }

  /** A signer's confirmed records, newest first: at most `limit`, strictly before the cursor `before`. */
  recordsByAuthor(
    publicKeyHex: string,
    opts: { limit: number; before?: { height: number; index: number } },
  ): Promise<Array<RecordLocation & { id: string }>> {
    const key = fromHexKey(publicKeyHex);
    return this.stable(async () => {
      const rows = await this.store.recordsByAuthor(key, opts.limit, opts.before);
      const out: Array<RecordLocation & { id: string }> = [];
      for (const r of rows) {
        const loc = this.locate(r);
        if (loc) out.push({ id: hashToHex(r.id), ...loc });
      }
      return out;
    });
  }

  /**
   * Runs a change of the main chain (its store batch, then its application to memory) with the epoch odd
   * throughout, so a read that overlaps it is repeated. Runs inside the queue.
   */
  async moving(change: () => Promise<void>): Promise<void> {
    this.epoch++;
    try {
      await change();
    } finally {
      this.epoch++;
    }
  }

  /**
   * The exactly-once view for blocks about to join the main chain above `fork`: the ids' places in the
   * index (one read for all), where a place above the fork is in a block this switch disconnects and so
   * counts as absent; `overlay` holds the ids of blocks earlier in the branch or run (display hash of the
   * block), which count as present. Runs inside the queue (the main chain must not move before it is used).
   */
  async confirmedView(
    ids: Uint8Array[],
    fork: ChainEntry,
    overlay: ReadonlyMap<string, string>,
  ): Promise<ConfirmedIn> {
    const places = await this.store.getRecordPlaces(ids);
    const found = new Map<string, RecordPlace>();
    places.forEach((p, i) => {
      if (p && p.height <= fork.height) found.set(toHex(ids[i]!), p);
    });
    if (found.size === 0 && overlay.size === 0) return () => undefined;
    return (id) => {
      const k = toHex(id);
      const earlier = overlay.get(k);
      if (earlier !== undefined) return earlier;
      const p = found.get(k);
      return p && (this.tree.at(p.height)?.hash ?? `height ${p.height}`);
    };
  }

  private locate(place: RecordPlace): RecordLocation | undefined {
    const entry = this.tree.at(place.height);
    return entry && { blockHash: entry.hash, height: place.height, index: place.index };
  }

  /**
   * Runs a read of the index against a settled main chain: again, in the queue, if a batch moved it
   * meanwhile.
   */
  private async stable<T>(read: () => Promise<T>): Promise<T> {
    const before = this.epoch;
    const out = await read();
    if (before % 2 === 0 && before === this.epoch) return out;
    return this.exclusive(read);
  }
}
