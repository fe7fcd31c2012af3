/** The checks of an admission that need nothing but the record: size, decoding, type; and its id. */
import { type AuthorPolicy, authorRefusal } from "../consensus/authors.ts";
import { DecodeError } from "../consensus/bytes.ts";
import { hashToHex } from "../consensus/header.ts";
import {
  type BlockRecord,
  decodeRecordViews,
  encodeRecord,
  FORBIDDEN_RECORD_SIZE,
  recordId,
} from "../consensus/records.ts";
import { errorMessage } from "../util/errors.ts";
import { MempoolError } from "./errors.ts";

/**
 * A record (object or bytes) as the pool keeps it: its own copy of the bytes and its id, or the refusal
 * (`RECORD_TOO_LARGE` over `max` bytes, `MALFORMED`, `RECORD_64_BYTES`, `MINER_RECORD`, and under an
 * author policy `UNAUTHORISED_AUTHOR` at `height`, the height of the next block). Never throws.
 */
export function precheck(
  record: BlockRecord | Uint8Array,
  max: number,
  authors?: AuthorPolicy,
  height = 1,
):
  | { ok: true; rec: BlockRecord; bytes: Uint8Array; id: string }
  | { ok: false; id: null; error: MempoolError } {
  let rec: BlockRecord;
  let bytes: Uint8Array;
  try {
    if (record instanceof Uint8Array) {
      if (record.length > max)
        return {
          ok: false,
          id: null,
          error: new MempoolError({ code: "RECORD_TOO_LARGE", size: record.length, max }),
        };
      // The pool's own copy, exactly the record's (also of a Buffer, whose slice() is a view), and the
      // record read as views into it: the pool holds each record's bytes once, not twice (issue 17's
      // soak: a full 64 MiB pool held 128 MiB of ArrayBuffers when the decoded record had copies).
      bytes = new Uint8Array(record);
      rec = decodeRecordViews(bytes);
    } else {
      bytes = encodeRecord(record).slice();
      rec = decodeRecordViews(bytes);
    }
  } catch (err) {
    const reason = err instanceof DecodeError ? err.message : errorMessage(err);
    return { ok: false, id: null, error: new MempoolError({ code: "MALFORMED", reason }) };
  }
  if (bytes.length > max)
    return {
      ok: false,
      id: null,
      error: new MempoolError({ code: "RECORD_TOO_LARGE", size: bytes.length, max }),
    };
  if (bytes.length === FORBIDDEN_RECORD_SIZE)
    return { ok: false, id: null, error: new MempoolError({ code: "RECORD_64_BYTES" }) };
  if (rec.type === "miner") return { ok: false, id: null, error: new MempoolError({ code: "MINER_RECORD" }) };
  // Before the signature check, so an outsider's records cost a set lookup, not a verification.
  const refused = authorRefusal(authors, rec, height);
  if (refused)
    return { ok: false, id: null, error: new MempoolError({ code: "UNAUTHORISED_AUTHOR", ...refused }) };
  // Decoding is canonical (one encoding per record), so these are the bytes the id hashes.
  return { ok: true, rec, bytes, id: hashToHex(recordId(rec)) };
}
