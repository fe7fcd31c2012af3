/**
 * C2SP signed notes (https://c2sp.org/signed-note), the format transparency logs and their witnesses
 * sign checkpoints in, so that existing tooling (golang.org/x/mod/sumdb/note, transparency-dev's witness
 * and verifiers) reads jbc's witnessed checkpoints (docs/ledger-design.md, "Witnessed checkpoints").
 *
 * A note is UTF-8 text ending in a newline, a blank line, then one line per signature:
 *   "— <name> <base64(key id, 4 bytes big-endian || signature)>\n"
 * Only the Ed25519 type (0x01) is implemented: key id = the first 4 bytes of
 * SHA-256(name || 0x0A || 0x01 || public key), a verifier key is "<name>+<key id, 8 hex>+<base64(0x01 ||
 * public key)>". Pure (no I/O, no Buffer): the explorer and `jbc record verify` read notes too.
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesEqual } from "./bytes.ts";
import { verifyEd25519 } from "./records.ts";

/** Signature type byte of Ed25519 in signed notes. */
export const NOTE_ED25519 = 0x01;
/** Most signature lines a note may carry (as the Go reference implementation). */
export const MAX_NOTE_SIGNATURES = 100;
const SIG_PREFIX = "— ";

export type NoteErrorCode = "MALFORMED_NOTE" | "MALFORMED_KEY" | "UNSUPPORTED_KEY";

/** A note or key that does not parse; `code` says which. */
export class NoteError extends Error {
  constructor(
    readonly code: NoteErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "NoteError";
  }
}

/** A verifier: a signer's name, key id and raw 32-byte Ed25519 public key. */
export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  readonly publicKey: Uint8Array;
}

/** One signature line of a note, not yet verified. */
export interface NoteSignature {
  readonly name: string;
  readonly keyId: number;
  /** The signature bytes after the key id (64 for Ed25519). */
  readonly signature: Uint8Array;
}

/** A parsed note: its signed text (ending in "\n") and its signature lines. */
export interface Note {
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/** Base64 (standard alphabet, padded) of `bytes`. */
export function base64Encode(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** Bytes of standard padded base64; NoteError MALFORMED_KEY-free: undefined when it is not base64. */
export function base64Decode(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
  try {
    const s = atob(text);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    // Canonical only: one text per byte string, so a signature line cannot be re-encoded to look new.
    return base64Encode(out) === text ? out : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `s` holds an ASCII control character (but "\n" when `newline` is allowed). */
function hasControl(s: string, newline: boolean): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && !(newline && c === 0x0a)) || c === 0x7f) return true;
  }
  return false;
}

/** Whether `name` may name a signer: non-empty, no whitespace, no "+", printable. */
export function isNoteName(name: string): boolean {
  return name.length > 0 && !/[\s+]/u.test(name) && !hasControl(name, false);
}

/** The Ed25519 key id of `name` with `publicKey`: SHA-256(name || "\n" || 0x01 || key), first 4 bytes. */
export function noteKeyId(name: string, publicKey: Uint8Array): number {
  const n = utf8.encode(name);
  const m = new Uint8Array(n.length + 2 + publicKey.length);
  m.set(n);
  m[n.length] = 0x0a;
  m[n.length + 1] = NOTE_ED25519;
  m.set(publicKey, n.length + 2);
  const h = sha256(m);
  return ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0;
}

const hex8 = (id: number): string => id.toString(16).padStart(8, "0");

/** The verifier key text of a signer: "<name>+<key id hex>+<base64(0x01 || public key)>". */
export function formatVerifierKey(name: string, publicKey: Uint8Array): string {
  if (!isNoteName(name)) throw new NoteError("MALFORMED_KEY", `not a signer name: ${JSON.stringify(name)}`);
  const k = new Uint8Array(33);
  k[0] = NOTE_ED25519;
  k.set(publicKey, 1);
  return `${name}+${hex8(noteKeyId(name, publicKey))}+${base64Encode(k)}`;
}

/** Parses a verifier key; NoteError when malformed, of another type, or its key id does not match. */
export function parseVerifierKey(vkey: string): NoteVerifier {
  const parts = vkey.split("+");
  // The base64 part may itself hold "+": the name and the hash are the first two fields.
  const [name, hash] = parts;
  const b64 = parts.slice(2).join("+");
  if (parts.length < 3 || name === undefined || hash === undefined || !isNoteName(name))
    throw new NoteError("MALFORMED_KEY", "a verifier key is <name>+<key id>+<base64 key>");
  if (!/^[0-9a-f]{8}$/.test(hash)) throw new NoteError("MALFORMED_KEY", "the key id is not 8 hex digits");
  const key = base64Decode(b64);
  if (!key || key.length === 0) throw new NoteError("MALFORMED_KEY", "the key is not base64");
  if (key[0] !== NOTE_ED25519 || key.length !== 33)
    throw new NoteError("UNSUPPORTED_KEY", `key type ${key[0]} (length ${key.length}): only Ed25519 (1)`);
  const publicKey = key.subarray(1);
  const keyId = noteKeyId(name, publicKey);
  if (hex8(keyId) !== hash) throw new NoteError("MALFORMED_KEY", "the key id does not match the key");
  return { name, keyId, publicKey };
}

/** A signer from a 32-byte Ed25519 seed. */
export interface NoteSigner extends NoteVerifier {
  sign(message: Uint8Array): Uint8Array;
}

/** A note signer named `name` holding the 32-byte Ed25519 `seed`. */
export function noteSigner(name: string, seed: Uint8Array): NoteSigner {
  if (seed.length !== 32) throw new RangeError("an Ed25519 seed is 32 bytes");
  if (!isNoteName(name)) throw new NoteError("MALFORMED_KEY", `not a signer name: ${JSON.stringify(name)}`);
  const publicKey = ed25519.getPublicKey(seed);
  return { name, publicKey, keyId: noteKeyId(name, publicKey), sign: (m) => ed25519.sign(m, seed) };
}

/** Parses the Go tooling's signer key "PRIVATE+KEY+<name>+<key id>+<base64(0x01 || seed)>". */
export function parseSignerKey(skey: string): NoteSigner {
  const parts = skey.split("+");
  if (parts[0] !== "PRIVATE" || parts[1] !== "KEY" || parts.length < 5)
    throw new NoteError("MALFORMED_KEY", "a signer key is PRIVATE+KEY+<name>+<key id>+<base64 key>");
  const key = base64Decode(parts.slice(4).join("+"));
  if (!key || key[0] !== NOTE_ED25519 || key.length !== 33)
    throw new NoteError("UNSUPPORTED_KEY", "only Ed25519 signer keys");
  const signer = noteSigner(parts[2]!, key.subarray(1));
  if (hex8(signer.keyId) !== parts[3]) throw new NoteError("MALFORMED_KEY", "the key id does not match");
  return signer;
}

/** Checks a note's text: UTF-8 ending in "\n", no control character but "\n", no blank line inside. */
function checkText(text: string): void {
  if (text.length === 0 || !text.endsWith("\n"))
    throw new NoteError("MALFORMED_NOTE", "text must end in \\n");
  if (hasControl(text, true)) throw new NoteError("MALFORMED_NOTE", "control characters in the text");
}

/** One signature line ("— name base64\n" without the newline). */
export function formatSignatureLine(sig: NoteSignature): string {
  const b = new Uint8Array(4 + sig.signature.length);
  new DataView(b.buffer).setUint32(0, sig.keyId);
  b.set(sig.signature, 4);
  return `${SIG_PREFIX}${sig.name} ${base64Encode(b)}`;
}

/** The signature `signer` makes over `text` (not yet in a note). */
export function signNoteText(text: string, signer: NoteSigner): NoteSignature {
  checkText(text);
  return { name: signer.name, keyId: signer.keyId, signature: signer.sign(utf8.encode(text)) };
}

/** A note's full text: `text`, a blank line, the signature lines (at least one). */
export function formatNote(note: Note): string {
  checkText(note.text);
  if (note.signatures.length === 0 || note.signatures.length > MAX_NOTE_SIGNATURES)
    throw new NoteError("MALFORMED_NOTE", `a note carries 1 to ${MAX_NOTE_SIGNATURES} signatures`);
  return `${note.text}\n${note.signatures.map((s) => `${formatSignatureLine(s)}\n`).join("")}`;
}

/** Parses a note into its text and signature lines (not verified); NoteError MALFORMED_NOTE otherwise. */
export function parseNote(msg: string | Uint8Array): Note {
  let s: string;
  try {
    s = typeof msg === "string" ? msg : utf8Decoder.decode(msg);
  } catch {
    throw new NoteError("MALFORMED_NOTE", "not UTF-8");
  }
  const split = s.lastIndexOf("\n\n");
  if (split < 0) throw new NoteError("MALFORMED_NOTE", "no blank line before the signatures");
  const text = s.slice(0, split + 1);
  checkText(text);
  const block = s.slice(split + 2);
  if (!block.endsWith("\n")) throw new NoteError("MALFORMED_NOTE", "the signatures must end in \\n");
  const lines = block.slice(0, -1).split("\n");
  if (lines.length > MAX_NOTE_SIGNATURES) throw new NoteError("MALFORMED_NOTE", "too many signatures");
  const signatures = lines.map((line) => {
    const m = /^— (\S+) (\S+)$/u.exec(line);
    const b = m ? base64Decode(m[2]!) : undefined;
    if (!m || !isNoteName(m[1]!) || !b || b.length < 5)
      throw new NoteError("MALFORMED_NOTE", `malformed signature line ${JSON.stringify(line.slice(0, 120))}`);
    const keyId = new DataView(b.buffer, b.byteOffset).getUint32(0);
    return { name: m[1]!, keyId, signature: b.slice(4) };
  });
  return { text, signatures };
}

/** Whether `sig` is `verifier`'s valid Ed25519 signature over `text` (name, key id and signature). */
export function verifyNoteSignature(text: string, sig: NoteSignature, verifier: NoteVerifier): boolean {
  if (sig.name !== verifier.name || sig.keyId !== verifier.keyId) return false;
  // The installed verifier (node:crypto's in a node): a team node checks two cosignatures a block.
  return verifyEd25519(sig.signature, utf8.encode(text), verifier.publicKey);
}

/** Whether two verifiers are the same key under the same name. */
export function sameVerifier(a: NoteVerifier, b: NoteVerifier): boolean {
  return a.name === b.name && a.keyId === b.keyId && bytesEqual(a.publicKey, b.publicKey);
}
