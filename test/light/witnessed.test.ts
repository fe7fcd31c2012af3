/**
 * Witnessed proof files (docs/light.md): a proof file carrying a checkpoint note cosigned by a team's
 * witnesses verifies offline with their keys and a quorum; a missing note, too few cosigners, a stranger's
 * key, a checkpoint below the record or off the file's headers do not; a file without the field (every
 * file before issue 19) still verifies as before.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkpointOrigin, formatCheckpoint } from "../../src/consensus/checkpoint.ts";
import { formatNote, noteSigner, signNoteText } from "../../src/consensus/note.ts";
import { buildRecordProof } from "../../src/consensus/proof.ts";
import { encodeRecord, recordId } from "../../src/consensus/records.ts";
import {
  buildProofFile,
  CONTEXT_HEADERS,
  type ProofFile,
  readProofFile,
  verifyProofFile,
  verifyWitnessed,
} from "../../src/light/index.ts";
import { recordToJson } from "../../src/mempool/json.ts";
import { asertnet, blockRecords, extend, genesisLink, raws } from "../helpers/headers.ts";

const hello = { type: "data" as const, data: new TextEncoder().encode("hello, auditor") };
const chain = extend(asertnet, [genesisLink(asertnet)], 40, { records: (h) => (h === 25 ? [hello] : []) });
const keys = [1, 2, 3].map((i) => noteSigner(`team-${i}`, new Uint8Array(32).fill(i)));
const witnesses = keys.map(({ name, keyId, publicKey }) => ({ name, keyId, publicKey }));

/** The note of the checkpoint at `height` of `chain`, signed by `signers`. */
function note(height: number, signers = keys.slice(0, 2), hash = chain[height]!.hash): string {
  const text = formatCheckpoint({
    origin: checkpointOrigin(asertnet),
    height,
    hash,
    chainWork: chain[height]!.chainWork,
  });
  return formatNote({ text, signatures: signers.map((s) => signNoteText(text, s)) });
}

function fileWith(checkpoint?: string): ProofFile {
  const recs = blockRecords(25, "test", [hello]);
  const proof = buildRecordProof(chain[25]!.raw, recs.map(recordId), 1, encodeRecord(recs[0]!));
  const from = 25 - CONTEXT_HEADERS;
  const f = buildProofFile({
    params: asertnet,
    id: "x",
    record: recordToJson(hello),
    proof,
    from,
    headers: raws(chain.slice(from, 41)),
    blockOne: chain[1]!.raw,
    checkpoint,
  });
  // Through JSON and the reader, as the CLI reads a file.
  const read = readProofFile(JSON.parse(JSON.stringify(f)));
  assert.equal(read.kind, "file");
  return (read as { file: ProofFile }).file;
}

function witnessed(f: ProofFile, quorum = 2, list = witnesses) {
  const r = verifyProofFile(asertnet, f, encodeRecord(hello));
  assert.ok(r.valid, r.valid ? "" : r.reason);
  return verifyWitnessed(asertnet, f, r, list, quorum);
}

describe("witnessed proof files", () => {
  it("verify offline against the team's keys and quorum", () => {
    const r = witnessed(fileWith(note(34)));
    assert.ok(r.ok, r.ok ? "" : r.reason);
    assert.deepEqual(r.cosigners, ["team-1", "team-2"]);
    assert.equal(r.depth, 9);
    assert.ok(witnessed(fileWith(note(25))).ok, "the record's own block as checkpoint");
  });

  it("refuse a missing note, too few cosigners, strangers, and checkpoints off the record's history", () => {
    const reasons = [
      witnessed(fileWith()),
      witnessed(fileWith(note(34)), 3),
      witnessed(fileWith(note(34, [keys[0]!, noteSigner("team-2", new Uint8Array(32).fill(7))]))),
      witnessed(fileWith(note(24))),
      witnessed(fileWith(note(34, keys.slice(0, 2), chain[33]!.hash))),
    ].map((r) => (r.ok ? "ok" : r.reason));
    assert.match(reasons[0]!, /no cosigned checkpoint/);
    assert.match(reasons[1]!, /2 of the listed witnesses .* 3 needed/);
    assert.match(reasons[2]!, /1 of the listed witnesses/);
    assert.match(reasons[3]!, /below the record's block/);
    assert.match(reasons[4]!, /do not hold the checkpoint's block/);
  });

  it("a file without the field verifies as before; a non-string field is malformed", () => {
    const f = fileWith();
    assert.equal(f.checkpoint, undefined);
    assert.ok(verifyProofFile(asertnet, f, encodeRecord(hello)).valid);
    assert.equal(readProofFile({ ...JSON.parse(JSON.stringify(f)), checkpoint: 5 }).kind, "malformed");
  });
});
