/**
 * LevelDB key layout (documented in docs/storage.md). Every key starts with a one-byte prefix, after
 * bcoin's lib/blockchain/layout.js. Heights are big-endian so iteration follows height order.
 *
 *   'V'               → schema version (u32 LE) + network id (u32 LE) + genesis hash (32)
 *   'b' + hash(32)    → serialized block
 *   'e' + hash(32)    → block-tree entry (see encodeEntry)
 *   'h' + height(u32 BE) → hash(32) of the main-chain block at that height
 *   't'               → hash(32) of the main-chain tip
 *   'x' + peer id     → ban-list entry (owned by the network layer)
 *
 * Hashes are in internal byte order.
 */
export const SCHEMA_VERSION = 1;

export const P_META = 0x56; // 'V'
export const P_BLOCK = 0x62; // 'b'
export const P_ENTRY = 0x65; // 'e'
export const P_HEIGHT = 0x68; // 'h'
export const P_TIP = 0x74; // 't'
export const P_BAN = 0x78; // 'x'

export const META_KEY = Uint8Array.of(P_META);
export const TIP_KEY = Uint8Array.of(P_TIP);

function prefixed(prefix: number, body: Uint8Array): Uint8Array {
  const k = new Uint8Array(1 + body.length);
  k[0] = prefix;
  k.set(body, 1);
  return k;
}

export const blockKey = (hash: Uint8Array): Uint8Array => prefixed(P_BLOCK, hash);
export const entryKey = (hash: Uint8Array): Uint8Array => prefixed(P_ENTRY, hash);
export const banKey = (id: string): Uint8Array => prefixed(P_BAN, new TextEncoder().encode(id));

export function heightKey(height: number): Uint8Array {
  const k = new Uint8Array(5);
  k[0] = P_HEIGHT;
  new DataView(k.buffer).setUint32(1, height, false);
  return k;
}

/** Lower and upper bounds (gte, lt) of all keys with a prefix. */
export function prefixRange(prefix: number): { gte: Uint8Array; lt: Uint8Array } {
  return { gte: Uint8Array.of(prefix), lt: Uint8Array.of(prefix + 1) };
}
