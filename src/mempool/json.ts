/**
 * Records as JSON, the one shape every path uses (issue 9): `POST /api/records` takes it, `GET
 * /api/records/:id` returns it, `jbc record add/get/verify` write and read it.
 *
 *   { "data": "...", "encoding": "utf8" | "hex" | "base64" (default utf8),
 *     "publicKey": 64 hex digits?, "signature": 128 hex digits? }
 *
 * With both `publicKey` and `signature` it is a signed record, with neither a data record; one without
 * the other is refused. Decoding is strict (hex of even length, canonical padded base64), so one JSON
 * value means one record. Signatures are not checked here: admission does that (`Mempool.admit`).
 */
import { z } from "zod";
import type { DataRecord, SignedRecord } from "../consensus/records.ts";

export const RecordEncoding = z.enum(["utf8", "hex", "base64"]);
export type RecordEncoding = z.infer<typeof RecordEncoding>;

const hexOf = (digits: number) =>
  z.string().regex(new RegExp(`^[0-9a-fA-F]{${digits}}$`), `${digits} hex digits`);

/** A record submitted or shown as JSON (what the API's request and response schemas embed). */
export const RecordJson = z
  .object({
    type: z.enum(["data", "signed"]).optional(),
    data: z.string(),
    encoding: RecordEncoding.default("utf8"),
    publicKey: hexOf(64).optional(),
    signature: hexOf(128).optional(),
  })
  .strict()
  .refine((r) => (r.publicKey === undefined) === (r.signature === undefined), {
    message: "publicKey and signature go together: give both for a signed record, neither for a data record",
  })
  .refine((r) => r.type === undefined || (r.type === "signed") === (r.publicKey !== undefined), {
    message: "type does not match the fields given",
  });
export type RecordJson = z.input<typeof RecordJson>;

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function bytesFrom(text: string, encoding: RecordEncoding): Uint8Array | string {
  switch (encoding) {
    case "utf8":
      // A lone surrogate would be encoded as U+FFFD, silently changing the data.
      if (!text.isWellFormed()) return "data has a lone surrogate, which UTF-8 cannot encode";
      return utf8.encode(text);
    case "hex":
      if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return "data is not even-length hex";
      return new Uint8Array(Buffer.from(text, "hex"));
    case "base64": {
      if (!BASE64.test(text)) return "data is not padded base64";
      const bytes = new Uint8Array(Buffer.from(text, "base64"));
      // Non-zero bits in the last character's unused part decode to the same bytes: refuse them too.
      if (Buffer.from(bytes).toString("base64") !== text) return "data is not canonical base64";
      return bytes;
    }
  }
}

export type RecordFromJsonResult =
  | { ok: true; record: DataRecord | SignedRecord }
  | { ok: false; issues: string[] };

/** Parses a JSON value into a record; every problem is listed in `issues` (the API answers 400). */
export function recordFromJson(value: unknown): RecordFromJsonResult {
  const parsed = RecordJson.safeParse(value);
  if (!parsed.success)
    return {
      ok: false,
      issues: parsed.error.issues.map((i) =>
        i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message,
      ),
    };
  const j = parsed.data;
  const data = bytesFrom(j.data, j.encoding);
  if (typeof data === "string") return { ok: false, issues: [`data: ${data}`] };
  if (j.publicKey === undefined || j.signature === undefined)
    return { ok: true, record: { type: "data", data } };
  return {
    ok: true,
    record: {
      type: "signed",
      data,
      publicKey: new Uint8Array(Buffer.from(j.publicKey, "hex")),
      signature: new Uint8Array(Buffer.from(j.signature, "hex")),
    },
  };
}

/** A record as the API shows it: `type` and `encoding` always present. */
export interface RecordJsonView {
  type: "data" | "signed";
  data: string;
  encoding: RecordEncoding;
  publicKey?: string;
  signature?: string;
}

/** The JSON form of a record: `utf8` when the data is valid UTF-8 (so it reads as text), else base64. */
export function recordToJson(record: DataRecord | SignedRecord): RecordJsonView {
  let data: string;
  let encoding: RecordEncoding;
  try {
    data = utf8Strict.decode(record.data);
    encoding = "utf8";
  } catch {
    data = Buffer.from(record.data).toString("base64");
    encoding = "base64";
  }
  if (record.type === "data") return { type: "data", data, encoding };
  return {
    type: "signed",
    data,
    encoding,
    publicKey: Buffer.from(record.publicKey).toString("hex"),
    signature: Buffer.from(record.signature).toString("hex"),
  };
}
