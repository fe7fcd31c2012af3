/**
 * The witnessed part of proof files (docs/light.md, "Witnessed proof files"): `jbc record get --proof`
 * adds the node's cosigned checkpoint note, and `jbc record verify --witnesses FILE --quorum N` checks it
 * against a team's witnesses, offline (src/light/witnessed.ts).
 */
import type { CheckpointView } from "../../api/checkpoint.ts";
import type { NoteVerifier } from "../../consensus/note.ts";
import type { WitnessedResult } from "../../light/witnessed.ts";

/**
 * The node's cosigned checkpoint note for a file whose headers run from the record's block (`height`) to
 * `to`: the final one when it is in that range, else the latest; undefined when the node has none (no
 * witness, an older node) or neither is in range.
 */
export async function fetchCheckpointNote(
  url: string,
  height: number,
  to: number,
): Promise<string | undefined> {
  let view: CheckpointView;
  try {
    const res = await fetch(`${url.replace(/\/+$/, "")}/api/checkpoint`, {
      headers: { accept: "application/json" },
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) return undefined;
    view = (await res.json()) as CheckpointView;
  } catch {
    return undefined;
  }
  for (const cp of [view.final, view.latest])
    if (cp && cp.height >= height && cp.height <= to && typeof cp.note === "string") return cp.note;
  return undefined;
}

/** What --witnesses and --quorum say, printed; whether the record is witnessed. */
export function printWitnessed(
  check: ((witnesses: readonly NoteVerifier[], quorum: number) => WitnessedResult) | undefined,
  o: { witnesses: NoteVerifier[]; quorum?: number },
  log: (line: string) => void,
): boolean {
  const quorum = o.quorum ?? Math.floor(o.witnesses.length / 2) + 1;
  if (!check) {
    log("NOT WITNESSED: a file without headers cannot be checked against a checkpoint");
    return false;
  }
  const r = check(o.witnesses, quorum);
  if (!r.ok) {
    log(`NOT WITNESSED: ${r.reason}`);
    return false;
  }
  const cp = r.checkpoint;
  log(
    `witnessed: the record's block is ${r.depth} block(s) below the checkpoint at height ${cp.height} (${cp.hash}), cosigned by ${r.cosigners.length} of ${o.witnesses.length} listed witnesses (${r.cosigners.join(", ")}; quorum ${quorum}): the team's nodes never reorganise below it`,
  );
  return true;
}
