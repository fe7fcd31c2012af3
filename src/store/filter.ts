/**
 * A Bloom filter over record ids, so the exactly-once lookups of a block whose records are all new (the
 * common case) answer "certainly absent" without a LevelDB read. Ids are sha256d outputs, uniform already,
 * so the k probe positions come from two 32-bit words of the id (Kirsch–Mitzenmacher double hashing).
 * About 10 bits per id and 7 probes: about 1% of new ids still go to LevelDB. It only ever answers "maybe"
 * for an id it was given, so a filter that holds a superset of the index is correct (ids of disconnected
 * blocks stay in it until the next rebuild).
 */
const PROBES = 7;
const BITS_PER_ID = 10;

export class IdFilter {
  private readonly bits: Uint32Array;
  private readonly size: number;
  /** Ids added; past `capacity` the false-positive rate climbs and the owner rebuilds a larger filter. */
  count = 0;

  constructor(readonly capacity: number) {
    this.size = Math.max(1 << 16, Math.ceil(capacity * BITS_PER_ID));
    this.bits = new Uint32Array(Math.ceil(this.size / 32));
  }

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
