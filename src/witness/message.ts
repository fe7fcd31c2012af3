/**
 * The cosignature gossip message (docs/protocol.md, "Checkpoint cosignatures"): UTF-8 text, at most
 * MAX_COSIGN_BYTES, the signer's verifier key on the first line, then a signed note (the checkpoint's four
 * lines, a blank line, exactly one signature line, by that key):
 *
 *   <name>+<key id>+<base64 key>\n
 *   jbc/<network>/<genesis16>\n<height>\n<base64 hash>\nchainwork <n>\n
 *   \n
 *   — <name> <base64(key id || signature)>\n
 *
 * The key travels with the signature so any node can check it (and price a forgery), whether or not the
 * signer is one of its configured witnesses; only configured witnesses count toward a quorum.
 */
import { parseCheckpoint, type WitnessCheckpoint } from "../consensus/checkpoint.ts";
import {
  formatNote,
  formatVerifierKey,
  type NoteSignature,
  type NoteVerifier,
  parseNote,
  parseVerifierKey,
  verifyNoteSignature,
} from "../consensus/note.ts";

/** Most bytes a cosignature message may have (a real one is about 330). */
export const MAX_COSIGN_BYTES = 1024;

/** One signer's signature over one checkpoint, as gossiped. */
export interface Cosignature {
  readonly verifier: NoteVerifier;
  readonly text: string;
  readonly checkpoint: WitnessCheckpoint;
  readonly signature: NoteSignature;
}

/** Why a message is refused: malformed (does not parse) or forged (the signature does not verify). */
export class CosignError extends Error {
  constructor(
    readonly code: "MALFORMED" | "FORGED" | "OVERSIZED",
    message: string,
  ) {
    super(message);
    this.name = "CosignError";
  }
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/** The message for `signer`'s signature `sig` over `text`. */
export function encodeCosignature(verifier: NoteVerifier, text: string, sig: NoteSignature): Uint8Array {
  const vkey = formatVerifierKey(verifier.name, verifier.publicKey);
  return utf8.encode(`${vkey}\n${formatNote({ text, signatures: [sig] })}`);
}

/** Decodes and verifies a message; CosignError MALFORMED, OVERSIZED or FORGED otherwise. */
export function decodeCosignature(data: Uint8Array): Cosignature {
  return verifyCosignature(parseCosignature(data));
}

/** Throws CosignError FORGED unless the signature is the verifier's over the text; returns `c`. */
export function verifyCosignature(c: Cosignature): Cosignature {
  if (!verifyNoteSignature(c.text, c.signature, c.verifier))
    throw new CosignError("FORGED", `the signature is not ${c.verifier.name}'s over the checkpoint`);
  return c;
}

/**
 * Decodes a message without checking its signature (the caller checks it, with verifyCosignature, only
 * when the message would change something); CosignError MALFORMED or OVERSIZED otherwise.
 */
export function parseCosignature(data: Uint8Array): Cosignature {
  if (data.length > MAX_COSIGN_BYTES)
    throw new CosignError("OVERSIZED", `${data.length} bytes, at most ${MAX_COSIGN_BYTES}`);
  let verifier: NoteVerifier;
  let text: string;
  let checkpoint: WitnessCheckpoint;
  let signature: NoteSignature;
  try {
    const s = utf8Decoder.decode(data);
    const nl = s.indexOf("\n");
    verifier = parseVerifierKey(s.slice(0, nl));
    const note = parseNote(s.slice(nl + 1));
    if (note.signatures.length !== 1) throw new Error("one signature per message");
    signature = note.signatures[0]!;
    text = note.text;
    checkpoint = parseCheckpoint(text);
  } catch (err) {
    throw new CosignError("MALFORMED", (err as Error).message);
  }
  return { verifier, text, checkpoint, signature };
}
