/**
 * The C2SP signed-note codec against the reference implementation's vector (golang.org/x/mod/sumdb/note,
 * note_test.go: the PeterNeumann key and note; Ed25519 is deterministic, so signing must give the
 * published line byte for byte), and the checkpoint body and quorum check built on it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  checkpointOrigin,
  checkQuorum,
  formatCheckpoint,
  parseCheckpoint,
  parseWitnesses,
} from "../../src/consensus/checkpoint.ts";
import {
  formatNote,
  formatVerifierKey,
  NoteError,
  noteKeyId,
  noteSigner,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
  signNoteText,
  verifyNoteSignature,
} from "../../src/consensus/note.ts";
import { regtest } from "../../src/consensus/params.ts";

const VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const TEXT =
  "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const NOTE = `${TEXT}\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;

describe("signed note (C2SP)", () => {
  it("reproduces the reference vector: key id, verifier key, signature line", () => {
    const signer = parseSignerKey(SKEY);
    const v = parseVerifierKey(VKEY);
    assert.equal(v.keyId, 0xc74f20a3);
    assert.equal(noteKeyId("PeterNeumann", v.publicKey), 0xc74f20a3);
    assert.equal(formatVerifierKey(signer.name, signer.publicKey), VKEY);
    assert.equal(formatNote({ text: TEXT, signatures: [signNoteText(TEXT, signer)] }), NOTE);
    const parsed = parseNote(NOTE);
    assert.equal(parsed.text, TEXT);
    assert.equal(verifyNoteSignature(parsed.text, parsed.signatures[0]!, v), true);
    assert.equal(
      verifyNoteSignature(TEXT.replace("cryptography", "cryptographY"), parsed.signatures[0]!, v),
      false,
    );
  });

  it("refuses mangled keys and notes with a typed error", () => {
    for (const bad of [
      "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
      "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
      "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
      "PeterNeumann+c74f20a3",
    ])
      assert.throws(() => parseVerifierKey(bad), NoteError, bad);
    for (const bad of [
      TEXT,
      `${TEXT}\n`,
      `${TEXT}\n— PeterNeumann x08go\n`,
      `x\n\n— a b\n`,
      `\u0001\n\n${NOTE}`,
    ])
      assert.throws(() => parseNote(bad), NoteError, JSON.stringify(bad));
  });
});

describe("checkpoint note", () => {
  const origin = checkpointOrigin(regtest);
  const cp = { origin, height: 42, hash: "ab".repeat(32), chainWork: 123456789012345678901234567890n };
  const keys = ["w1", "w2", "w3"].map((n, i) => noteSigner(n, new Uint8Array(32).fill(i + 1)));
  const witnesses = parseWitnesses(keys.map((k) => formatVerifierKey(k.name, k.publicKey)).join("\n"));

  it("round-trips the four lines", () => {
    const text = formatCheckpoint(cp);
    assert.equal(text.split("\n").length, 5);
    assert.deepEqual(parseCheckpoint(text), cp);
    assert.throws(() => parseCheckpoint(text.replace("42", "042")));
    assert.throws(() => parseCheckpoint(`${text}extra\n`));
  });

  it("counts distinct valid witness signatures toward the quorum", () => {
    const text = formatCheckpoint(cp);
    const two = formatNote({
      text,
      signatures: [signNoteText(text, keys[0]!), signNoteText(text, keys[2]!)],
    });
    assert.deepEqual(checkQuorum(two, origin, witnesses, 2), {
      ok: true,
      checkpoint: cp,
      cosigners: ["w1", "w3"],
    });
    assert.equal(checkQuorum(two, origin, witnesses, 3).ok, false);
    assert.equal(checkQuorum(two, "jbc/other/0000", witnesses, 1).ok, false);
    // A signature over another checkpoint does not count, nor does a stranger's.
    const other = formatCheckpoint({ ...cp, height: 43 });
    const stranger = noteSigner("w2", new Uint8Array(32).fill(9));
    const forged = formatNote({
      text,
      signatures: [signNoteText(other, keys[0]!), signNoteText(text, stranger)],
    });
    assert.deepEqual(checkQuorum(forged, origin, witnesses, 1).ok, false);
  });
});
