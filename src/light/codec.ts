/**
 * Byte formats of the light client's files: base64 (no Buffer, so it runs in a browser) and the compact
 * header chain that proof files and the light state carry.
 *
 * A compact chain is the first header whole (80 bytes), then 52 bytes for each header after it:
 *
 *   link (4) · version (4) · merkleRoot (32) · time (4) · bits (4) · nonce (4)
 *
 * A header's parent hash is the double SHA-256 of the header before it, so it need not travel: the reader
 * recomputes it, which is the hashing a verifier does anyway. `link` is the first 4 bytes of the parent
 * hash as the header really carries it, kept so that a chain whose headers do not follow each other is
 * refused as such ("header N does not link") rather than as a proof-of-work failure of the next header.
 * 1,000 headers take 52,080 bytes, 69,440 in base64, against 106,667 for whole headers in base64: what keeps
 * a proof buried under 1,000 blocks under 100 KB (docs/light.md).
 */
import { DecodeError } from "../consensus/bytes.ts";
import { sha256d } from "../consensus/hash.ts";
import { HEADER_SIZE } from "../consensus/header.ts";

/** Bytes per header after the first in a compact chain. */
export const COMPACT_HEADER_SIZE = 52;
/** Bytes of the parent hash a compact header keeps. */
const LINK_SIZE = 4;

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_CODES = new Uint8Array(64);
const B64_VALUE = new Uint8Array(128).fill(255);
for (let i = 0; i < 64; i++) {
  B64_CODES[i] = B64.charCodeAt(i);
  B64_VALUE[B64.charCodeAt(i)] = i;
}
const ascii = new TextDecoder();

/** Standard base64 with padding (RFC 4648 §4). */
export function toBase64(bytes: Uint8Array): string {
  const n = bytes.length;
  const out = new Uint8Array(4 * Math.ceil(n / 3));
  let o = 0;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out[o++] = B64_CODES[v >>> 18]!;
    out[o++] = B64_CODES[(v >>> 12) & 63]!;
    out[o++] = B64_CODES[(v >>> 6) & 63]!;
    out[o++] = B64_CODES[v & 63]!;
  }
  if (i < n) {
    const v = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8);
    out[o++] = B64_CODES[v >>> 18]!;
    out[o++] = B64_CODES[(v >>> 12) & 63]!;
    out[o++] = i + 1 < n ? B64_CODES[(v >>> 6) & 63]! : 61;
    out[o++] = 61;
  }
  return ascii.decode(out);
}

/**
 * Parses canonical padded base64; anything else (other characters, missing or misplaced padding, bits
 * set after the last byte) throws DecodeError, so one string means one byte string.
 */
export function fromBase64(text: string): Uint8Array {
  if (text.length % 4 !== 0) throw new DecodeError("base64 length is not a multiple of 4");
  let pad = 0;
  if (text.endsWith("==")) pad = 2;
  else if (text.endsWith("=")) pad = 1;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    const last = i + 4 === text.length;
    let v = 0;
    for (let j = 0; j < 4; j++) {
      const c = text.charCodeAt(i + j);
      let d: number;
      if (c === 61 && last && j >= 4 - pad) d = 0;
      else {
        d = c < 128 ? B64_VALUE[c]! : 255;
        if (d === 255) throw new DecodeError(`not base64 at character ${i + j}`);
      }
      v = (v << 6) | d;
    }
    if (last && pad > 0 && (v & (pad === 2 ? 0xffff : 0xff)) !== 0)
      throw new DecodeError("base64 with bits set after its last byte");
    out[o++] = v >>> 16;
    if (o < out.length) out[o++] = (v >>> 8) & 0xff;
    if (o < out.length) out[o++] = v & 0xff;
  }
  return out;
}

/**
 * The compact form of consecutive headers (each the parent of the next). Throws RangeError when they do
 * not follow each other: a file that would not verify is never written.
 */
export function encodeCompactChain(headers: readonly Uint8Array[]): Uint8Array {
  if (headers.length === 0) throw new RangeError("a compact chain needs at least one header");
  const out = new Uint8Array(HEADER_SIZE + COMPACT_HEADER_SIZE * (headers.length - 1));
  let prev = headers[0]!;
  if (prev.length !== HEADER_SIZE) throw new RangeError(`headers must be ${HEADER_SIZE} bytes`);
  out.set(prev, 0);
  let o = HEADER_SIZE;
  for (let i = 1; i < headers.length; i++) {
    const h = headers[i]!;
    if (h.length !== HEADER_SIZE) throw new RangeError(`headers must be ${HEADER_SIZE} bytes`);
    const parent = sha256d(prev);
    for (let k = 0; k < 32; k++)
      if (h[4 + k] !== parent[k]) throw new RangeError(`header ${i} does not follow header ${i - 1}`);
    out.set(h.subarray(4, 4 + LINK_SIZE), o);
    out.set(h.subarray(0, 4), o + 4);
    out.set(h.subarray(36, 80), o + 8);
    o += COMPACT_HEADER_SIZE;
    prev = h;
  }
  return out;
}

/** Why a compact chain was refused: its bytes, or the first header that does not link. */
export class CompactChainError extends Error {
  constructor(
    readonly code: "MALFORMED" | "BAD_LINK",
    /** Position of the offending header in the chain (0 is the first), for BAD_LINK. */
    readonly index: number,
    message: string,
  ) {
    super(message);
    this.name = "CompactChainError";
  }
}

/**
 * The whole 80-byte headers of a compact chain, each rebuilt with its parent's hash; throws
 * CompactChainError on a length that is not a whole chain, and on a header whose kept link bytes are not
 * its parent's hash.
 */
export function decodeCompactChain(bytes: Uint8Array): Uint8Array[] {
  if (bytes.length < HEADER_SIZE || (bytes.length - HEADER_SIZE) % COMPACT_HEADER_SIZE !== 0)
    throw new CompactChainError(
      "MALFORMED",
      0,
      `${bytes.length} bytes is not one 80-byte header and 52-byte headers after it`,
    );
  const count = 1 + (bytes.length - HEADER_SIZE) / COMPACT_HEADER_SIZE;
  const all = new Uint8Array(count * HEADER_SIZE);
  all.set(bytes.subarray(0, HEADER_SIZE), 0);
  const out: Uint8Array[] = [all.subarray(0, HEADER_SIZE)];
  for (let i = 1; i < count; i++) {
    const c = bytes.subarray(
      HEADER_SIZE + (i - 1) * COMPACT_HEADER_SIZE,
      HEADER_SIZE + i * COMPACT_HEADER_SIZE,
    );
    const parent = sha256d(out[i - 1]!);
    for (let k = 0; k < LINK_SIZE; k++)
      if (c[k] !== parent[k])
        throw new CompactChainError("BAD_LINK", i, `header ${i} does not link to header ${i - 1}`);
    const h = all.subarray(i * HEADER_SIZE, (i + 1) * HEADER_SIZE);
    h.set(c.subarray(4, 8), 0);
    h.set(parent, 4);
    h.set(c.subarray(8, 52), 36);
    out.push(h);
  }
  return out;
}

/** Splits concatenated 80-byte headers; a length that is not a multiple of 80 throws DecodeError. */
export function splitHeaders(bytes: Uint8Array): Uint8Array[] {
  if (bytes.length % HEADER_SIZE !== 0)
    throw new DecodeError(`${bytes.length} bytes is not a whole number of ${HEADER_SIZE}-byte headers`);
  const out: Uint8Array[] = [];
  for (let o = 0; o < bytes.length; o += HEADER_SIZE) out.push(bytes.subarray(o, o + HEADER_SIZE));
  return out;
}
