/**
 * Witnessed checkpoints (docs/ledger-design.md, "Witnessed checkpoints"): a node's best chain at depth k,
 * as the body of a C2SP signed note (note.ts) shaped like a tlog-checkpoint
 * (https://c2sp.org/tlog-checkpoint), so a checkpoint parser reads the origin, a size and a hash:
 *
 *   jbc/<network>/<first 16 hex of the genesis hash>     origin: one per network and genesis
 *   <height>                                            the block's height (a tlog parser's "size")
 *   <base64 of the block hash, 32 bytes, display order>  (a tlog parser's "root hash")
 *   chainwork <decimal>                                 an extension line: the cumulative work
 *
 * Every witness signs this same text with a plain Ed25519 note signature (type 0x01), so a cosigned
 * checkpoint is one note with several signature lines. Pure: nodes, `jbc record verify` and the explorer
 * share it.
 */
import { fromHex, toHex } from "./bytes.ts";
import {
  base64Decode,
  base64Encode,
  type Note,
  type NoteSignature,
  type NoteVerifier,
  parseNote,
  parseVerifierKey,
  verifyNoteSignature,
} from "./note.ts";
import type { NetworkParams } from "./params.ts";

/** What a checkpoint says: a block of a network's chain. */
export interface WitnessCheckpoint {
  readonly origin: string;
  readonly height: number;
  /** Display-order hex of the block hash. */
  readonly hash: string;
  readonly chainWork: bigint;
}

/** A checkpoint note that does not parse, or that is for another network. */
export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CheckpointError";
  }
}

/** The origin line of `params`' checkpoints. */
export function checkpointOrigin(params: Pick<NetworkParams, "name" | "genesisHash">): string {
  return `jbc/${params.name}/${params.genesisHash.slice(0, 16)}`;
}

/** The signed text of a checkpoint (four lines, each ending in "\n"). */
export function formatCheckpoint(cp: WitnessCheckpoint): string {
  if (!/^[\x21-\x7e]+$/.test(cp.origin)) throw new CheckpointError("the origin must be printable, no space");
  if (!Number.isSafeInteger(cp.height) || cp.height < 0) throw new CheckpointError("bad height");
  return `${cp.origin}\n${cp.height}\n${base64Encode(fromHex(cp.hash))}\nchainwork ${cp.chainWork}\n`;
}

/** Parses a checkpoint's text; CheckpointError unless it is exactly the four lines formatCheckpoint writes. */
export function parseCheckpoint(text: string): WitnessCheckpoint {
  const lines = text.split("\n");
  const [origin, height, hash, work, end] = lines;
  if (lines.length !== 5 || end !== "" || !origin || !/^[\x21-\x7e]+$/.test(origin))
    throw new CheckpointError("a checkpoint is four lines: origin, height, hash, chainwork");
  if (!height || !/^(0|[1-9][0-9]{0,15})$/.test(height) || !Number.isSafeInteger(Number(height)))
    throw new CheckpointError("the height is not a decimal number");
  const hashBytes = base64Decode(hash ?? "");
  if (hashBytes?.length !== 32) throw new CheckpointError("the hash is not 32 bytes of base64");
  const w = /^chainwork (0|[1-9][0-9]{0,77})$/.exec(work ?? "");
  if (!w) throw new CheckpointError("the chainwork line is not 'chainwork <decimal>'");
  return { origin, height: Number(height), hash: toHex(hashBytes), chainWork: BigInt(w[1]!) };
}

/** Reads a witnesses file: one verifier key per line; blank lines and lines starting with "#" skipped. */
export function parseWitnesses(text: string): NoteVerifier[] {
  const out: NoteVerifier[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const v = parseVerifierKey(line);
    if (out.some((o) => o.name === v.name))
      throw new CheckpointError(`witness ${v.name} is listed twice: names must be unique`);
    out.push(v);
  }
  return out;
}

/** The witnesses among `witnesses` whose valid signature `note` carries (each counted once). */
export function cosigners(
  note: Note,
  witnesses: readonly NoteVerifier[],
): Array<{ witness: NoteVerifier; signature: NoteSignature }> {
  const out: Array<{ witness: NoteVerifier; signature: NoteSignature }> = [];
  for (const w of witnesses) {
    const sig = note.signatures.find((s) => s.name === w.name && s.keyId === w.keyId);
    if (sig && verifyNoteSignature(note.text, sig, w)) out.push({ witness: w, signature: sig });
  }
  return out;
}

export type QuorumResult =
  | { ok: true; checkpoint: WitnessCheckpoint; cosigners: string[] }
  | { ok: false; reason: string; checkpoint?: WitnessCheckpoint; cosigners?: string[] };

/**
 * Whether a checkpoint note is for `origin` and carries valid signatures of at least `quorum` of
 * `witnesses` (distinct names). Never throws.
 */
export function checkQuorum(
  noteText: string,
  origin: string,
  witnesses: readonly NoteVerifier[],
  quorum: number,
): QuorumResult {
  let note: Note;
  let checkpoint: WitnessCheckpoint;
  try {
    note = parseNote(noteText);
    checkpoint = parseCheckpoint(note.text);
  } catch (err) {
    return { ok: false, reason: `not a checkpoint note: ${(err as Error).message}` };
  }
  if (checkpoint.origin !== origin)
    return { ok: false, reason: `a checkpoint of ${checkpoint.origin}, not of ${origin}`, checkpoint };
  const names = cosigners(note, witnesses).map((c) => c.witness.name);
  if (names.length < quorum)
    return {
      ok: false,
      reason: `${names.length} of the listed witnesses cosigned it (${names.join(", ") || "none"}), ${quorum} needed`,
      checkpoint,
      cosigners: names,
    };
  return { ok: true, checkpoint, cosigners: names };
}
