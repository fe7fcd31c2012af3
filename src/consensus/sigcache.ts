import { toHex } from "./bytes.ts";

/**
 * Signatures already verified, so that a record checked when the mempool admitted it is not verified again
 * when a block carrying it is connected (Bitcoin Core's signature cache, script/sigcache.cpp: filled by
 * mempool acceptance, read by ConnectBlock). Pure and bounded; the node builds one and hands it to the
 * mempool (which fills it) and to the chain (which reads it).
 *
 * What an entry means: "the signed record whose id is this verified". The key is the record's id, the
 * double SHA-256 of its serialized bytes, which hold the public key, the data and the signature: a record
 * with the same id has the same key, message and signature, so the verdict is the same; a forger who
 * changes any of the three gets another id and is verified in full. Only successful verifications are
 * added, and only by whoever ran the verification (`add` after `verifyRecordSignature` returned true), so
 * nothing a peer sends can plant an entry. A failed verification is never cached.
 *
 * Bounded by count, oldest entry dropped first: a flood of valid records can push others out, which costs
 * their block a full verification again (never a wrong verdict). Bitcoin Core also erases an entry once
 * a block used it; so does `take`.
 */
export class SignatureCache {
  /** Ids in internal byte order, as hex, in insertion order (a Set keeps it). */
  private readonly ids = new Set<string>();

  /** `maxEntries`: ids kept at most (default 65,536: 16 maximum-size blocks of signed records). */
  constructor(readonly maxEntries = 65_536) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError("maxEntries must be ≥ 1");
  }

  /** Ids held now. */
  get size(): number {
    return this.ids.size;
  }

  /** Records that the signed record with this id (internal order) verified. Call only after it did. */
  add(id: Uint8Array): void {
    const key = toHex(id);
    if (this.ids.has(key)) return;
    if (this.ids.size >= this.maxEntries) {
      const oldest = this.ids.values().next();
      if (!oldest.done) this.ids.delete(oldest.value);
    }
    this.ids.add(key);
  }

  /** Whether the signed record with this id verified (added and not yet dropped). */
  has(id: Uint8Array): boolean {
    return this.ids.has(toHex(id));
  }

  /** Whether it verified, forgetting it: a block that connects uses each record once. */
  take(id: Uint8Array): boolean {
    return this.ids.delete(toHex(id));
  }
}
