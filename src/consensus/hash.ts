import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { bytesEqual, fromHex } from "./bytes.ts";

/** A SHA-256 implementation: the digest of `data`, 32 bytes. */
export type Sha256 = (data: Uint8Array) => Uint8Array;

let impl: Sha256 = nobleSha256;

/** SHA-256("abc"), FIPS 180-2 appendix B.1: checked before an implementation is accepted. */
const ABC = new Uint8Array([0x61, 0x62, 0x63]);
const ABC_DIGEST = fromHex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

/**
 * Consensus hashes with @noble/hashes, so it runs unchanged in a browser. A host with a faster SHA-256
 * (Node's node:crypto, installed by src/node/crypto.ts) hands it in here; it must compute the same
 * function, which is checked against a known digest. Returns the implementation it replaced.
 */
export function useSha256(fn: Sha256): Sha256 {
  const digest = fn(ABC);
  if (!(digest instanceof Uint8Array) || !bytesEqual(digest, ABC_DIGEST))
    throw new Error("useSha256: the implementation does not compute SHA-256");
  const previous = impl;
  impl = fn;
  return previous;
}

export function sha256(data: Uint8Array): Uint8Array {
  return impl(data);
}

/** Bitcoin's double SHA-256. */
export function sha256d(data: Uint8Array): Uint8Array {
  return impl(impl(data));
}
