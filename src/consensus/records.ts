import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToNumberLE } from "@noble/curves/utils.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { bytesEqual, concatBytes, copyBytes, DecodeError, Reader, Writer } from "./bytes.ts";
import { sha256d } from "./hash.ts";

/**
 * Block records. Record 0 of every block is the miner record (height, so every merkle root is unique;
 * the miner's name, as the original put "Mined by node on port 5000" in its data; an extra-nonce the
 * miner rolls when the 32-bit nonce runs out). Other records carry arbitrary data, optionally signed
 * with ed25519. A record's id is the double SHA-256 of its serialized bytes.
 */

export const RecordType = { MINER: 0, DATA: 1, SIGNED: 2 } as const;

/** Protocol-wide bounds, the same on every network. */
export const MAX_MINER_NAME_BYTES = 64;
export const MAX_RECORD_SIZE = 64 * 1024;

export interface MinerRecord {
  type: "miner";
  height: number;
  /** 64-bit extra-nonce, rolled by the miner. */
  extraNonce: bigint;
  /** UTF-8, at most MAX_MINER_NAME_BYTES bytes. */
  miner: string;
}

export interface DataRecord {
  type: "data";
  data: Uint8Array;
}

export interface SignedRecord {
  type: "signed";
  data: Uint8Array;
  /** Raw 32-byte ed25519 public key. */
  publicKey: Uint8Array;
  /** 64-byte ed25519 signature over signedMessage(data). */
  signature: Uint8Array;
}

export type BlockRecord = MinerRecord | DataRecord | SignedRecord;

const utf8 = new TextEncoder();

// ignoreBOM keeps a leading U+FEFF in the string instead of dropping it, so decoding is one-to-one.
const utf8Strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The one record size consensus forbids: 64 bytes, the size of a merkle inner node's preimage
 * (`left ‖ right`). A record of that size could be read as an inner node and an inner node as a record,
 * which would let a proof "show" bytes no block holds and a forged body hash to a real block's root
 * (Bitcoin's 64-byte transaction problem, a consensus rule in BIP 54). docs/consensus.md, "The 64-byte
 * rule", has the argument. In practice: a data record of 62 bytes of data, or a miner record whose name
 * is 50 bytes.
 */
export const FORBIDDEN_RECORD_SIZE = 64;

/** Bytes of a miner record, whatever its height and extra-nonce: 14 plus the name's CompactSize and bytes. */
export function minerRecordSize(name: string): number {
  const n = utf8.encode(name).length;
  return 1 + 4 + 8 + (n < 0xfd ? 1 : 3) + n;
}

/**
 * Why `name` cannot be a miner's name (over MAX_MINER_NAME_BYTES of UTF-8, or making the miner record
 * FORBIDDEN_RECORD_SIZE bytes), or undefined when it can. Checked up front by every command that takes one.
 */
export function minerNameProblem(name: string): string | undefined {
  const n = utf8.encode(name).length;
  if (n > MAX_MINER_NAME_BYTES)
    return `the miner name is ${n} bytes of UTF-8, at most ${MAX_MINER_NAME_BYTES}`;
  if (minerRecordSize(name) === FORBIDDEN_RECORD_SIZE)
    return `a miner name of exactly ${n} bytes makes a ${FORBIDDEN_RECORD_SIZE}-byte miner record, which consensus forbids (docs/consensus.md, "The 64-byte rule"): add or remove a character`;
  return undefined;
}

/** Serializes one record. Throws DecodeError when a field is out of bounds. */
export function encodeRecord(rec: BlockRecord, w = new Writer(64)): Uint8Array {
  switch (rec.type) {
    case "miner": {
      const name = utf8.encode(rec.miner);
      if (name.length > MAX_MINER_NAME_BYTES)
        throw new DecodeError(`miner name over ${MAX_MINER_NAME_BYTES} bytes`);
      if (!Number.isInteger(rec.height) || rec.height < 0 || rec.height > 0xffffffff)
        throw new DecodeError("miner height out of range");
      if (rec.extraNonce < 0n || rec.extraNonce > 0xffffffffffffffffn)
        throw new DecodeError("extraNonce out of range");
      w.u8(RecordType.MINER).u32(rec.height).u64(rec.extraNonce).varBytes(name);
      break;
    }
    case "data":
      w.u8(RecordType.DATA).varBytes(rec.data);
      break;
    case "signed":
      if (rec.publicKey.length !== 32 || rec.signature.length !== 64)
        throw new DecodeError("signed record needs a 32-byte key and a 64-byte signature");
      w.u8(RecordType.SIGNED).bytes(rec.publicKey).varBytes(rec.data).bytes(rec.signature);
      break;
  }
  return w.finish();
}

/**
 * Reads one record; bounds are protocol-wide, so any input either decodes or throws DecodeError. Its byte
 * fields are copies (`own`, by default `copyBytes`), so a record read from a block or a message does not
 * keep the whole of it alive.
 */
export function readRecord(r: Reader, own: (view: Uint8Array) => Uint8Array = copyBytes): BlockRecord {
  const type = r.u8("record type");
  switch (type) {
    case RecordType.MINER: {
      const height = r.u32("miner height");
      const extraNonce = r.u64("miner extraNonce");
      const nameBytes = r.varBytes(MAX_MINER_NAME_BYTES, "miner name");
      let miner: string;
      try {
        miner = utf8Strict.decode(nameBytes);
      } catch {
        throw new DecodeError("miner name is not valid UTF-8");
      }
      return { type: "miner", height, extraNonce, miner };
    }
    case RecordType.DATA:
      return { type: "data", data: own(r.varBytes(MAX_RECORD_SIZE, "record data")) };
    case RecordType.SIGNED: {
      const publicKey = own(r.bytes(32, "record public key"));
      const data = own(r.varBytes(MAX_RECORD_SIZE, "record data"));
      const signature = own(r.bytes(64, "record signature"));
      return { type: "signed", data, publicKey, signature };
    }
    default:
      throw new DecodeError(`unknown record type ${type}`);
  }
}

/**
 * Steps over one record without building it (no copies, no UTF-8 decoding), with the bounds `readRecord`
 * applies: a proof reads one record of a block and needs only where the others end.
 */
export function skipRecord(r: Reader): void {
  const type = r.u8("record type");
  switch (type) {
    case RecordType.MINER:
      r.skip(12, "miner height and extraNonce");
      r.skipVarBytes(MAX_MINER_NAME_BYTES, "miner name");
      return;
    case RecordType.DATA:
      r.skipVarBytes(MAX_RECORD_SIZE, "record data");
      return;
    case RecordType.SIGNED:
      r.skip(32, "record public key");
      r.skipVarBytes(MAX_RECORD_SIZE, "record data");
      r.skip(64, "record signature");
      return;
    default:
      throw new DecodeError(`unknown record type ${type}`);
  }
}

/** Decodes exactly one record from bytes (its fields copies: it keeps nothing of `bytes` alive). */
export function decodeRecord(bytes: Uint8Array): BlockRecord {
  const r = new Reader(bytes);
  const rec = readRecord(r);
  r.end("record");
  return rec;
}

/**
 * Decodes exactly one record whose byte fields are views into `bytes`, not copies: for a holder that
 * keeps `bytes` (exactly the record's) as long as the record, as the mempool does, so the record's data
 * is held once and not twice.
 */
export function decodeRecordViews(bytes: Uint8Array): BlockRecord {
  const r = new Reader(bytes);
  const rec = readRecord(r, (view) => view);
  r.end("record");
  return rec;
}

/** A record's id: double SHA-256 of its bytes (internal byte order). */
export function recordId(rec: BlockRecord): Uint8Array {
  return sha256d(encodeRecord(rec));
}

const SIGN_DOMAIN = utf8.encode("jbc record v1\n");

/** The bytes an ed25519 signature covers: a domain tag, then the data. */
export function signedMessage(data: Uint8Array): Uint8Array {
  const m = new Uint8Array(SIGN_DOMAIN.length + data.length);
  m.set(SIGN_DOMAIN);
  m.set(data, SIGN_DOMAIN.length);
  return m;
}

/** Raw 32-byte public key for a 32-byte ed25519 seed. */
export function ed25519PublicKey(seed: Uint8Array): Uint8Array {
  return ed25519.getPublicKey(seed);
}

/** Builds a signed record for `data` with a 32-byte ed25519 seed. */
export function signRecord(data: Uint8Array, seed: Uint8Array): SignedRecord {
  if (seed.length !== 32) throw new RangeError("ed25519 seed must be 32 bytes");
  const signature = ed25519.sign(signedMessage(data), seed);
  return { type: "signed", data, publicKey: ed25519PublicKey(seed), signature };
}

/** An ed25519 verifier: whether `signature` is `publicKey`'s over `message`. Never throws. */
export type Ed25519Verify = (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array) => boolean;

/**
 * The ed25519 rule of jbc, the one OpenSSL applies (and so every jbc node did through node:crypto):
 * S below the group order L; the key any 255-bit y that decodes to a curve point (small-order and
 * non-canonical keys included, hashed as given); k = SHA-512(R || A || M) mod L; and the signature
 * holds when [S]B - [k]A encodes to exactly the 32 bytes of R (the cofactorless check, so R must be
 * canonical and carries no small-order part). @noble/curves' own verify checks the cofactored equation,
 * which accepts signatures this rule refuses, so the rule is written out over its curve arithmetic.
 * test/consensus/records.test.ts compares it with node:crypto on edge cases.
 */
export function ed25519Verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== 64 || publicKey.length !== 32) return false;
  // Read here, not at module level, so a bundle that never verifies can leave the curve code out.
  const Point = ed25519.Point;
  const L = Point.Fn.ORDER;
  const r = signature.subarray(0, 32);
  const s = bytesToNumberLE(signature.subarray(32));
  if (s >= L) return false;
  let a: InstanceType<typeof ed25519.Point>;
  try {
    a = Point.fromBytes(publicKey, true);
  } catch {
    return false;
  }
  const k = bytesToNumberLE(sha512(concatBytes(r, publicKey, message))) % L;
  const check = Point.BASE.multiplyUnsafe(s).subtract(a.multiplyUnsafe(k));
  return bytesEqual(check.toBytes(), r);
}

let verifyImpl: Ed25519Verify = ed25519Verify;

/**
 * Hands in a faster verifier with the same rule (src/node/crypto.ts installs node:crypto's), after checking
 * that it accepts a signature and refuses it over other data. Returns the one it replaced.
 */
export function useEd25519Verify(fn: Ed25519Verify): Ed25519Verify {
  const rec = signRecord(utf8.encode("useEd25519Verify"), new Uint8Array(32).fill(1));
  const message = signedMessage(rec.data);
  const other = signedMessage(utf8.encode("useEd25519Verify?"));
  if (fn(rec.signature, message, rec.publicKey) !== true || fn(rec.signature, other, rec.publicKey) !== false)
    throw new Error("useEd25519Verify: the implementation does not verify ed25519");
  const previous = verifyImpl;
  verifyImpl = fn;
  return previous;
}

/**
 * Whether `signature` is `publicKey`'s ed25519 signature of `message` under jbc's rule, checked by the
 * verifier installed (useEd25519Verify: node:crypto's in a node, ed25519Verify otherwise). Never throws.
 */
export function verifyEd25519(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    return verifyImpl(signature, message, publicKey);
  } catch {
    return false;
  }
}

/** Whether a signed record's signature verifies. Never throws: a malformed key is simply invalid. */
export function verifyRecordSignature(rec: SignedRecord): boolean {
  try {
    return verifyImpl(rec.signature, signedMessage(rec.data), rec.publicKey);
  } catch {
    return false;
  }
}
