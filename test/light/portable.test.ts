/**
 * The light client runs where consensus runs (the explorer, issue 18 item 6): src/light imports only its
 * own files, src/consensus and @noble, and uses no Node global. The browser half is
 * test/web/light.test.ts.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { scan } from "../helpers/portable.ts";

const DIR = join(import.meta.dirname, "..", "..", "src", "light");
const ALLOWED = /^(\.\/[a-z-]+\.ts|\.\.\/consensus\/[a-z-]+\.ts|@noble\/(hashes|curves)\/.*)$/;

describe("src/light is portable", () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith(".ts"));

  it("scans every source file of src/light", () => {
    assert.ok(files.includes("client.ts") && files.includes("sync.ts") && files.length >= 7, files.join());
  });

  it("imports only its own files, src/consensus and @noble, never a node: module", () => {
    const bad = files.flatMap((f) =>
      scan(join(DIR, f))
        .imports.filter((s) => !ALLOWED.test(s))
        .map((s) => `${f}: ${s}`),
    );
    assert.deepEqual(bad, []);
  });

  it("uses no Node-only global (Buffer, process, require, ...)", () => {
    assert.deepEqual(
      files.flatMap((f) => scan(join(DIR, f)).globals.map((g) => `${f}: ${g}`)),
      [],
    );
  });

  it("the package root exports it", async () => {
    const jbc = (await import("../../src/index.ts")) as Record<string, unknown>;
    for (const name of [
      "LightClient",
      "verifyProofFile",
      "placeSegment",
      "syncSource",
      "HttpHeaderSource",
      "loadLightState",
    ])
      assert.equal(typeof jbc[name], "function", name);
  });
});
