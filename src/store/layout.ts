/**
 * LevelDB key layout (documented in docs/storage.md). Every key starts with a one-byte prefix, after
 * bcoin's lib/blockchain/layout.js. Heights are big-endian so iteration follows height order.
 *
 *   'V'               → schema version (u32 LE) + network id (u32 LE) + genesis hash (32) (schema.ts)
 *   'b' + hash(32)    → serialized block
 *   'e' + hash(32)    → block-tree entry (entry.ts)
 *   'h' + height(u32 BE) → hash(32) of the main-chain block at that height
 *   't'               → hash(32) of the main-chain tip
 *   'x' + peer id     → ban expiry, u64 ms since the epoch (bans.ts; owned by the network layer)
 *   'r' + id(32)      → height (u32 BE) + position (u32 BE) of the main-chain record with that id
 *   'a' + key(32) + height(u32 BE) + position(u32 BE) → id(32) of a signed main-chain record
 *   'm' + hash(32)    → the merkle tree's upper levels of a block of more than 32 records (consensus/merkle.ts)
 *
 * Hashes are in internal byte order. Only the layout lives here: what each value holds is decoded by the
 * file named beside it, and the schema version (which keys a store of each version has) is schema.ts's.
 */

export const P_META = 0x56; // 'V'
export const P_BLOCK = 0x62; // 'b'
export const P_ENTRY = 0x65; // 'e'
export const P_HEIGHT = 0x68; // 'h'
export const P_TIP = 0x74; // 't'
export const P_BAN = 0x78; // 'x'
export const P_RECORD = 0x72; // 'r'
export const P_AUTHOR = 0x61; // 'a'
export const P_UPPER = 0x6d; // 'm'

/** The one key of the store's metadata ('V'). */
export const META_KEY = Uint8Array.of(P_META);
/** The one key of the main-chain tip's hash ('t'). */
export const TIP_KEY = Uint8Array.of(P_TIP);

// Keys and small values are Buffers from Node's pool, not `new Uint8Array(n)`: V8 keeps typed arrays of up
// to 64 bytes inside its heap and must move each one out before LevelDB's binding can read it, which made a
// block's 15 puts take about twice as long (docs/benchmarks.md, "processBlock, where the time goes").
/** `prefix` followed by `body`, in a Buffer from Node's pool. */
function prefixed(prefix: number, body: Uint8Array): Uint8Array {
  const k = Buffer.allocUnsafe(1 + body.length);
  k[0] = prefix;
  k.set(body, 1);
  return k;
}

/** The key of a block's body: 'b' + hash (internal order). */
export const blockKey = (hash: Uint8Array): Uint8Array => prefixed(P_BLOCK, hash);
/** The key of a block's tree entry: 'e' + hash (internal order). */
export const entryKey = (hash: Uint8Array): Uint8Array => prefixed(P_ENTRY, hash);
/** The key of a block's merkle upper levels: 'm' + hash (internal order). */
export const upperKey = (hash: Uint8Array): Uint8Array => prefixed(P_UPPER, hash);
/** The key of a peer's ban: 'x' + the peer id in UTF-8. */
export const banKey = (id: string): Uint8Array => prefixed(P_BAN, new TextEncoder().encode(id));

/** The key of the main-chain hash at `height`: 'h' + height u32 BE, so keys sort in height order. */
export function heightKey(height: number): Uint8Array {
  const k = Buffer.allocUnsafe(5);
  k[0] = P_HEIGHT;
  k.writeUInt32BE(height, 1);
  return k;
}

/** The key of a record's place in the record-id index: 'r' + id (internal order). */
export const recordKey = (id: Uint8Array): Uint8Array => prefixed(P_RECORD, id);

/** A record's place as the 'r' value: height and position, both u32 BE. */
export function encodePlace(height: number, index: number): Uint8Array {
  const v = Buffer.allocUnsafe(8);
  v.writeUInt32BE(height, 0);
  v.writeUInt32BE(index, 4);
  return v;
}

/** Reads a place written by encodePlace (from an 'r' value, or the tail of an 'a' key at `offset`). */
export function decodePlace(bytes: Uint8Array, offset = 0): { height: number; index: number } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset + offset, 8);
  return { height: dv.getUint32(0, false), index: dv.getUint32(4, false) };
}

/** The key of a signed record in the author index: 'a' + public key + height u32 BE + position u32 BE. */
export function authorKey(publicKey: Uint8Array, height: number, index: number): Uint8Array {
  const k = Buffer.allocUnsafe(41);
  k[0] = P_AUTHOR;
  k.set(publicKey, 1);
  k.writeUInt32BE(height, 33);
  k.writeUInt32BE(index, 37);
  return k;
}

/** Lower and upper bounds (gte, lt) of all keys with a prefix. */
export function prefixRange(prefix: number): { gte: Uint8Array; lt: Uint8Array } {
  return { gte: Uint8Array.of(prefix), lt: Uint8Array.of(prefix + 1) };
}
