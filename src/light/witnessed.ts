/**
 * Proofs a team's auditor checks offline (docs/light.md, "Witnessed proof files"): a proof file may carry
 * the cosigned checkpoint note its node held (`checkpoint`, a C2SP signed note, src/consensus/checkpoint.ts).
 * With the team's witnesses' verifier keys and a quorum, the record is witnessed when the note carries
 * valid signatures of at least `quorum` of them, is for the file's network, and names a block that the
 * file's checked headers hold at its height, at or above the record's block: the headers link the record's
 * block to a checkpoint the team's nodes signed, and those nodes never reorganise below it. No node is
 * asked. The checkpoint's chain work is not checked (the file's headers do not start at genesis).
 */
import { checkpointOrigin, checkQuorum, type WitnessCheckpoint } from "../consensus/checkpoint.ts";
import type { NoteVerifier } from "../consensus/note.ts";
import type { NetworkParams } from "../consensus/params.ts";
import type { ProofFile, ProofFileResult } from "./proof-file.ts";

export type WitnessedResult =
  | { ok: true; checkpoint: WitnessCheckpoint; cosigners: string[]; depth: number }
  | { ok: false; reason: string };

/** Whether a verified proof file's record is at or below a checkpoint cosigned by `quorum` of `witnesses`. */
export function verifyWitnessed(
  params: NetworkParams,
  file: ProofFile,
  result: Extract<ProofFileResult, { valid: true }>,
  witnesses: readonly NoteVerifier[],
  quorum: number,
): WitnessedResult {
  if (file.checkpoint === undefined)
    return {
      ok: false,
      reason: "the file carries no cosigned checkpoint (made by a node without a witness)",
    };
  const q = checkQuorum(file.checkpoint, checkpointOrigin(params), witnesses, quorum);
  if (!q.ok) return { ok: false, reason: `its checkpoint: ${q.reason}` };
  const cp = q.checkpoint;
  const record = result.proof.height;
  if (cp.height < record)
    return {
      ok: false,
      reason: `the checkpoint at height ${cp.height} is below the record's block (${record})`,
    };
  const held = result.segment.mainAt(cp.height);
  if (held?.hash !== cp.hash)
    return {
      ok: false,
      reason: `the file's headers do not hold the checkpoint's block ${cp.hash} at height ${cp.height}`,
    };
  return { ok: true, checkpoint: cp, cosigners: q.cosigners, depth: cp.height - record };
}
