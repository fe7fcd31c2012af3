import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import { hexToBytes } from "@noble/hashes/utils.js";
import { KeyFileError, readKeyFile, writeNewKeyFile } from "../../src/cli/commands/keygen.ts";
import { ed25519PublicKey, signRecord, verifyRecordSignature } from "../../src/consensus/records.ts";

/** `jbc keygen` through the real executable, and the key file helpers it is built on. */

const run = promisify(execFile);
const BIN = new URL("../../bin/jbc.mjs", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "jbc-keygen-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function jbc(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [BIN, ...args], { timeout: 30_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

describe("jbc keygen", () => {
  it("writes a 0600 ed25519 key file whose key signs records that verify, and never overwrites it", async () => {
    const out = join(dir, "key.json");
    const first = await jbc(["keygen", "--out", out]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(statSync(out).mode & 0o777, 0o600);
    const text = readFileSync(out, "utf8");
    const key = JSON.parse(text) as { type: string; publicKey: string; secretKey: string };
    assert.equal(key.type, "ed25519");
    assert.match(first.stdout, new RegExp(`public key ${key.publicKey}`));
    // noble's public key is the one node:crypto derives from the same seed, and it signs records.
    const seed = hexToBytes(key.secretKey);
    assert.equal(Buffer.from(ed25519PublicKey(seed)).toString("hex"), key.publicKey);
    const rec = signRecord(new TextEncoder().encode("hello"), seed);
    assert.ok(verifyRecordSignature(rec));
    assert.deepEqual(await readKeyFile(out), { secretKey: seed, publicKey: hexToBytes(key.publicKey) });

    const again = await jbc(["keygen", "--out", out]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists; not overwriting it/);
    assert.equal(readFileSync(out, "utf8"), text, "the existing key is untouched");

    const other = await writeNewKeyFile(join(dir, "other.json"));
    assert.notEqual(other.secretKey, key.secretKey, "every key is fresh");
  });

  it("does not follow a symlink, not even a dangling one", async () => {
    const target = join(dir, "target.json");
    const link = join(dir, "link.json");
    symlinkSync(target, link);
    await assert.rejects(
      writeNewKeyFile(link),
      (e: unknown) => e instanceof KeyFileError && e.code === "EXISTS",
    );
    assert.throws(() => statSync(target), /ENOENT/, "nothing was created through the link");
    await assert.rejects(writeNewKeyFile(join(dir, "no", "such", "dir.json")), /cannot create/);
  });

  it("refuses key files that are not one or whose public key does not match", async () => {
    const good = await writeNewKeyFile(join(dir, "good.json"));
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ ...good, publicKey: "00".repeat(32) }));
    await assert.rejects(readKeyFile(bad), /does not belong/);
    writeFileSync(bad, "{ not json");
    await assert.rejects(readKeyFile(bad), (e: unknown) => e instanceof KeyFileError && e.code === "INVALID");
    writeFileSync(bad, JSON.stringify({ type: "rsa" }));
    await assert.rejects(readKeyFile(bad), /not a jbc ed25519 key file/);
  });
});
