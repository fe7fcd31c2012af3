import { createPrivateKey, createPublicKey, hash, type KeyObject, sign, verify } from "node:crypto";
import { toHex } from "../consensus/bytes.ts";
import { useSha256 } from "../consensus/hash.ts";
import { useEd25519Verify } from "../consensus/records.ts";
import { BoundedMap } from "../util/bounded.ts";

/** node:crypto's one-shot SHA-256 (Node >= 20.12); the digest is a Buffer, as it always was in Node. */
function nativeSha256(data: Uint8Array): Uint8Array {
  return hash("sha256", data, "buffer");
}

// DER prefix that wraps a raw ed25519 key as SubjectPublicKeyInfo, the form node:crypto imports.
const SPKI_PREFIX = new Uint8Array([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

/**
 * Parsed public keys of recent signers: importing a key costs about as much as the verification itself
 * (about 100 µs each here), and a log's records mostly come from a few authors. Bounded, since keys are
 * free to make.
 */
const keys = new BoundedMap<string, KeyObject>(4096);

function publicKeyObject(publicKey: Uint8Array): KeyObject {
  const hex = toHex(publicKey);
  let key = keys.get(hex);
  if (!key) {
    const der = new Uint8Array(SPKI_PREFIX.length + 32);
    der.set(SPKI_PREFIX);
    der.set(publicKey, SPKI_PREFIX.length);
    key = createPublicKey({ key: Buffer.from(der.buffer), format: "der", type: "spki" });
    keys.set(hex, key);
  }
  return key;
}

/** OpenSSL's ed25519 verify: the rule consensus's own ed25519Verify writes out. */
function nativeEd25519Verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== 64 || publicKey.length !== 32) return false;
  try {
    return verify(null, message, publicKeyObject(publicKey), signature);
  } catch {
    return false;
  }
}

// DER prefix that wraps a raw ed25519 seed as a PKCS#8 private key, the form node:crypto imports.
const PKCS8_PREFIX = new Uint8Array([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);

/**
 * OpenSSL's ed25519 signing with the 32-byte `seed`: the signatures @noble's `ed25519.sign` makes (ed25519
 * is deterministic), in a tenth of the time. The node's witness signs a checkpoint a block with it.
 */
export function nativeEd25519Sign(seed: Uint8Array): (message: Uint8Array) => Uint8Array {
  if (seed.length !== 32) throw new RangeError("an ed25519 seed is 32 bytes");
  const der = new Uint8Array(PKCS8_PREFIX.length + 32);
  der.set(PKCS8_PREFIX);
  der.set(seed, PKCS8_PREFIX.length);
  const key = createPrivateKey({ key: Buffer.from(der.buffer), format: "der", type: "pkcs8" });
  return (message) => new Uint8Array(sign(null, message, key));
}

/**
 * Consensus hashes and verifies with @noble (pure JS, so it also runs in the browser). In Node, OpenSSL does
 * the same work faster (docs/benchmarks.md, "Issue 8"): the node, the benchmarks and anything else running in
 * Node call this once to hand node:crypto to consensus. Idempotent.
 */
export function useNativeCrypto(): void {
  useSha256(nativeSha256);
  useEd25519Verify(nativeEd25519Verify);
}
