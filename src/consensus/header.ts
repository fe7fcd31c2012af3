import { DecodeError, fromHex, Reader, reversed, toHex, Writer } from "./bytes.ts";
import { sha256d } from "./hash.ts";

/** Size of the serialized header: exactly Bitcoin's. */
export const HEADER_SIZE = 80;

/**
 * Bitcoin's block header. Hashes (`prevHash`, `merkleRoot`) are in internal byte order, as they are
 * serialized; `hashToHex` turns them into the reversed form Bitcoin prints.
 */
export interface BlockHeader {
  version: number;
  prevHash: Uint8Array;
  merkleRoot: Uint8Array;
  /** Seconds since the Unix epoch (uint32). */
  time: number;
  /** Compact target. */
  bits: number;
  nonce: number;
}

/** Serializes a header to its 80 little-endian bytes. */
export function encodeHeader(h: BlockHeader): Uint8Array {
  if (h.prevHash.length !== 32 || h.merkleRoot.length !== 32)
    throw new DecodeError("header hashes must be 32 bytes");
  const w = new Writer(HEADER_SIZE);
  w.u32(h.version).bytes(h.prevHash).bytes(h.merkleRoot).u32(h.time).u32(h.bits).u32(h.nonce);
  return w.finish();
}

/** Reads a header from a reader positioned at it (used by the block decoder). */
export function readHeader(r: Reader): BlockHeader {
  const version = r.u32("header version");
  // Copies even of a Buffer, whose slice() is a view: a header outlives the message it came in (the
  // chain's header index held 54 headers whose hashes kept 3.3 MB of 64 KiB block messages alive in
  // issue 17's soak). A copy this small lives in V8's heap, with no backing store of its own.
  const prevHash = new Uint8Array(r.bytes(32, "header prevHash"));
  const merkleRoot = new Uint8Array(r.bytes(32, "header merkleRoot"));
  const time = r.u32("header time");
  const bits = r.u32("header bits");
  const nonce = r.u32("header nonce");
  return { version, prevHash, merkleRoot, time, bits, nonce };
}

/** Parses exactly 80 bytes into a header; anything else throws DecodeError. */
export function decodeHeader(bytes: Uint8Array): BlockHeader {
  if (bytes.length !== HEADER_SIZE)
    throw new DecodeError(`header must be ${HEADER_SIZE} bytes, got ${bytes.length}`);
  return readHeader(new Reader(bytes));
}

/** Double SHA-256 of the header bytes, internal byte order. */
export function headerHashBytes(h: BlockHeader): Uint8Array {
  return sha256d(encodeHeader(h));
}

/** The header's hash as Bitcoin displays it (byte-reversed hex). */
export function headerHash(h: BlockHeader): string {
  return hashToHex(headerHashBytes(h));
}

/** Internal-order hash bytes to display hex. */
export function hashToHex(hash: Uint8Array): string {
  return toHex(reversed(hash));
}

/** Display hex to internal-order hash bytes; throws DecodeError unless it is 64 hex digits. */
export function hexToHash(hex: string): Uint8Array {
  if (hex.length !== 64) throw new DecodeError("hash must be 64 hex digits");
  return reversed(fromHex(hex));
}

/** The hash as an unsigned 256-bit integer (internal bytes are little-endian), for target comparison. */
export function hashToBigInt(hash: Uint8Array): bigint {
  return BigInt(`0x${toHex(reversed(hash))}`);
}
