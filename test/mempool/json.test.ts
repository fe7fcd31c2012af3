import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { encodeRecord, signRecord, verifyRecordSignature } from "../../src/consensus/records.ts";
import { recordFromJson, recordToJson } from "../../src/mempool/index.ts";

const seed = new Uint8Array(32).fill(5);
const utf8 = new TextEncoder();

function issues(value: unknown): string[] {
  const r = recordFromJson(value);
  assert.equal(r.ok, false, JSON.stringify(value));
  return r.ok ? [] : r.issues;
}

describe("records as JSON", () => {
  it("reads data in each encoding, utf8 by default", () => {
    const want = utf8.encode("héllo");
    for (const json of [
      { data: "héllo" },
      { data: "héllo", encoding: "utf8" },
      { data: Buffer.from(want).toString("hex"), encoding: "hex" },
      { data: Buffer.from(want).toString("hex").toUpperCase(), encoding: "hex" },
      { data: Buffer.from(want).toString("base64"), encoding: "base64" },
    ]) {
      const r = recordFromJson(json);
      assert.ok(r.ok, JSON.stringify(json));
      assert.deepEqual(r.record, { type: "data", data: want });
    }
  });

  it("reads a signed record whose signature then verifies", () => {
    const signed = signRecord(utf8.encode("signed text"), seed);
    const r = recordFromJson({
      data: "signed text",
      publicKey: Buffer.from(signed.publicKey).toString("hex"),
      signature: Buffer.from(signed.signature).toString("hex"),
    });
    assert.ok(r.ok);
    assert.equal(r.record.type, "signed");
    assert.deepEqual(encodeRecord(r.record), encodeRecord(signed));
    assert.ok(r.record.type === "signed" && verifyRecordSignature(r.record));
  });

  it("refuses anything ambiguous or malformed, saying why", () => {
    const key = "ab".repeat(32);
    const sig = "cd".repeat(64);
    assert.match(issues({ data: "x", publicKey: key }).join(), /go together/);
    assert.match(issues({ data: "x", signature: sig }).join(), /go together/);
    assert.match(
      issues({ data: "x", publicKey: key.slice(2), signature: sig }).join(),
      /publicKey: 64 hex digits/,
    );
    assert.match(issues({ data: "x", type: "signed" }).join(), /type does not match/);
    assert.match(issues({ data: 5 }).join(), /^data: /);
    assert.match(issues({ data: "x", encoding: "latin1" }).join(), /^encoding: /);
    assert.match(issues({ data: "x", extra: 1 }).join(), /extra/);
    assert.match(issues({ data: "abc", encoding: "hex" }).join(), /even-length hex/);
    assert.match(issues({ data: "zz", encoding: "hex" }).join(), /even-length hex/);
    assert.match(issues({ data: "aGk", encoding: "base64" }).join(), /padded base64/);
    assert.match(issues({ data: "aGk=\n", encoding: "base64" }).join(), /padded base64/);
    assert.match(issues({ data: "aGl=", encoding: "base64" }).join(), /canonical base64/);
    assert.match(issues({ data: "\ud800" }).join(), /lone surrogate/);
    for (const v of [null, "text", [], 1]) assert.ok(issues(v).length > 0);
  });

  it("round-trips every record through its JSON form (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (data, sign) => {
        const rec = sign ? signRecord(data, seed) : { type: "data" as const, data };
        const json = JSON.parse(JSON.stringify(recordToJson(rec)));
        const back = recordFromJson(json);
        assert.ok(back.ok, JSON.stringify(json));
        assert.deepEqual(encodeRecord(back.record), encodeRecord(rec));
      }),
      { numRuns: 500 },
    );
    assert.deepEqual(recordToJson({ type: "data", data: utf8.encode("text") }), {
      type: "data",
      data: "text",
      encoding: "utf8",
    });
    assert.equal(recordToJson({ type: "data", data: Uint8Array.of(0xff) }).encoding, "base64");
  });
});
