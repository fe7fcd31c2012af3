/**
 * Consensus runs anywhere JavaScript runs (the explorer loads it in the browser): no `node:` module, no
 * Node global, only relative imports and @noble. The browser half of the proof is test/web/consensus.test.ts.
 * Also: the pure-JS paths give what node:crypto and Buffer give, and a host can hand in node:crypto's
 * SHA-256 only if it computes SHA-256.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ed25519 } from "@noble/curves/ed25519.js";
import fc from "fast-check";
import { DecodeError, fromHex, toHex } from "../../src/consensus/bytes.ts";
import { sha256, sha256d, useSha256 } from "../../src/consensus/hash.ts";
import { noteSigner, signNoteText, verifyNoteSignature } from "../../src/consensus/note.ts";
import {
  ed25519Verify,
  signRecord,
  useEd25519Verify,
  verifyRecordSignature,
} from "../../src/consensus/records.ts";
import { nativeEd25519Sign, useNativeCrypto } from "../../src/node/crypto.ts";
import { scan } from "../helpers/portable.ts";

const DIR = join(import.meta.dirname, "..", "..", "src", "consensus");
const ALLOWED_PACKAGES = /^@noble\/(hashes|curves)\//;

describe("consensus is portable", () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith(".ts"));

  it("scans every source file of src/consensus", () => {
    assert.ok(files.includes("hash.ts") && files.includes("records.ts") && files.length >= 10, files.join());
  });

  it("imports only its own files and @noble, never a node: module", () => {
    const bad: string[] = [];
    for (const f of files) {
      for (const spec of scan(join(DIR, f)).imports) {
        if (!spec.startsWith("./") && !ALLOWED_PACKAGES.test(spec)) bad.push(`${f}: ${spec}`);
      }
    }
    assert.deepEqual(bad, []);
  });

  it("uses no Node-only global (Buffer, process, require, ...)", () => {
    const bad = files.flatMap((f) => scan(join(DIR, f)).globals.map((g) => `${f}: ${g}`));
    assert.deepEqual(bad, []);
  });

  it("the scanner sees what it must refuse", () => {
    const probe = join(import.meta.dirname, "..", "..", "src", "node", "crypto.ts");
    const { imports, globals } = scan(probe);
    assert.ok(imports.includes("node:crypto"));
    assert.ok(globals.some((g) => g.startsWith("Buffer")));
  });
});

describe("hex without Buffer", () => {
  it("toHex and fromHex agree with Buffer on any bytes (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.nat(8), (bytes, offset) => {
        // A view into a larger buffer, as the slabs and subarrays hand out.
        const big = new Uint8Array(bytes.length + offset + 3);
        big.set(bytes, offset);
        const view = big.subarray(offset, offset + bytes.length);
        const hex = Buffer.from(bytes).toString("hex");
        assert.equal(toHex(view), hex);
        assert.deepEqual(fromHex(hex), Uint8Array.from(bytes));
        assert.deepEqual(fromHex(hex.toUpperCase()), Uint8Array.from(bytes));
      }),
    );
  });

  it("fromHex refuses odd lengths and every non-hex character with a DecodeError", () => {
    for (const bad of ["0", "abc", "0g", "g0", " 0", "0x00", "é0", "0\u0130", "\u0100\u0100", "--"]) {
      assert.throws(() => fromHex(bad), DecodeError, JSON.stringify(bad));
    }
  });
});

describe("crypto injection", () => {
  const nodeSha = (d: Uint8Array) => Uint8Array.from(createHash("sha256").update(d).digest());

  it("consensus's own SHA-256 equals node:crypto's (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (data) => {
        assert.deepEqual(sha256(data), nodeSha(data));
        assert.deepEqual(sha256d(data), nodeSha(nodeSha(data)));
      }),
    );
  });

  it("refuses an implementation that does not compute SHA-256, and keeps the one it had", () => {
    const before = sha256d(new Uint8Array(80));
    assert.throws(() => useSha256(() => new Uint8Array(32)), /does not compute SHA-256/);
    assert.throws(() => useSha256((d) => nodeSha(nodeSha(d))), /does not compute SHA-256/);
    assert.deepEqual(sha256d(new Uint8Array(80)), before);
  });

  it("hashes through what the host hands in, and gives it back", () => {
    let calls = 0;
    const previous = useSha256((d) => {
      calls++;
      return nodeSha(d);
    });
    try {
      const calledAtInstall = calls;
      assert.deepEqual(sha256d(new Uint8Array(3)), nodeSha(nodeSha(new Uint8Array(3))));
      assert.equal(calls - calledAtInstall, 2);
    } finally {
      useSha256(previous);
    }
  });

  it("refuses an ed25519 verifier that accepts everything or nothing", () => {
    assert.throws(() => useEd25519Verify(() => true), /does not verify ed25519/);
    assert.throws(() => useEd25519Verify(() => false), /does not verify ed25519/);
    const rec = signRecord(new Uint8Array([1, 2, 3]), new Uint8Array(32).fill(4));
    assert.equal(verifyRecordSignature(rec), true);
    assert.equal(verifyRecordSignature({ ...rec, data: new Uint8Array([1, 2]) }), false);
  });

  it("a note signature is checked by the installed ed25519 verifier (node:crypto's in a node)", () => {
    const signer = noteSigner("team-1", new Uint8Array(32).fill(5));
    const text =
      "jbc/regtest/0011223344556677\n7\nq83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=\nchainwork 8\n";
    const sig = signNoteText(text, signer);
    let calls = 0;
    const previous = useEd25519Verify((s, m, k) => {
      calls++;
      return ed25519Verify(s, m, k);
    });
    try {
      const atInstall = calls;
      assert.equal(verifyNoteSignature(text, sig, signer), true);
      assert.equal(verifyNoteSignature(text.replace("7", "8"), sig, signer), false);
      assert.equal(calls - atInstall, 2);
    } finally {
      useEd25519Verify(previous);
    }
  });

  it("node:crypto's ed25519 signing gives @noble's signatures byte for byte (property)", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 300 }),
        (seed, m) => {
          assert.deepEqual(nativeEd25519Sign(seed)(m), ed25519.sign(m, seed));
        },
      ),
      { numRuns: 50 },
    );
    assert.throws(() => nativeEd25519Sign(new Uint8Array(31)), RangeError);
  });

  it("useNativeCrypto installs node:crypto's SHA-256 and ed25519 (same results), and can be called twice", () => {
    const data = new Uint8Array(120).map((_, i) => i);
    const pure = sha256d(data);
    const pureSha = useSha256(nodeSha);
    const pureVerify = useEd25519Verify(ed25519Verify);
    try {
      useNativeCrypto();
      useNativeCrypto();
      assert.equal(toHex(sha256d(data)), toHex(pure));
      const seed = new Uint8Array(32).fill(1);
      const rec = signRecord(data, seed);
      assert.equal(verifyRecordSignature(rec), true);
      assert.equal(verifyRecordSignature({ ...rec, data: data.subarray(1) }), false);
    } finally {
      assert.notEqual(useSha256(pureSha), pureSha);
      assert.notEqual(useEd25519Verify(pureVerify), pureVerify);
    }
  });
});
