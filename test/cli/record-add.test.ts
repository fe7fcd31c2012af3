/**
 * `jbc record add / get / list` against a real node process (regtest, no p2p, a miner started on
 * demand), the real executable for the full round trip and the command in-process for the rest.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it, mock } from "node:test";
import { promisify } from "node:util";
import { writeNewKeyFile } from "../../src/cli/commands/keygen.ts";
import { recordCommand } from "../../src/cli/commands/record.ts";
import { tempDir } from "../helpers/chain.ts";
import { killAll, type NodeProcess, spawnNode } from "../helpers/spawn.ts";

const run = promisify(execFile);
const BIN = new URL("../../bin/jbc.mjs", import.meta.url).pathname;
const tmp = tempDir("jbc-record-add-");

let node: NodeProcess;
before(async () => {
  node = await spawnNode({ name: "n", datadir: join(tmp, "n"), args: ["--no-p2p"] });
});
after(async () => {
  await killAll();
  rmSync(tmp, { recursive: true, force: true });
});

async function recordCli(args: string[]): Promise<{ ok: boolean; out: string; err: string }> {
  const out: string[] = [];
  const errs: string[] = [];
  const log = mock.method(console, "log", (...a: unknown[]) => out.push(a.join(" ")));
  const err = mock.method(console, "error", (...a: unknown[]) => errs.push(a.join(" ")));
  const saved = process.exitCode;
  process.exitCode = 0;
  try {
    await recordCommand().parseAsync(args, { from: "user" });
    return { ok: process.exitCode === 0, out: out.join("\n"), err: errs.join("\n") };
  } finally {
    process.exitCode = saved;
    log.mock.restore();
    err.mock.restore();
  }
}

describe("jbc record add / get / list", () => {
  it("adds a signed record, waits for 2 confirmations, saves its proof, and the proof verifies", async () => {
    const keyFile = join(tmp, "key.json");
    const key = await writeNewKeyFile(keyFile);
    await node.api.startMining();
    try {
      const r = await run(process.execPath, [
        BIN,
        "record",
        "add",
        "signed by the CLI",
        "--key",
        keyFile,
        "--url",
        node.url,
        "--wait",
        "2",
      ]);
      const [id, confirmed] = r.stdout.trim().split("\n");
      assert.match(id!, /^[0-9a-f]{64}$/);
      assert.match(confirmed!, /^confirmed in block [0-9a-f]{64} at height \d+ \(\d+ confirmation\(s\)\)$/);
      const proof = join(tmp, "proof.json");
      const g = await recordCli(["get", id!, "--url", node.url, "--proof", proof]);
      assert.ok(g.ok, g.err);
      const saved = JSON.parse(readFileSync(proof, "utf8"));
      assert.equal(saved.id, id);
      assert.equal(saved.record.publicKey, key.publicKey);
      assert.equal(saved.record.data, "signed by the CLI");
      const v = await recordCli([
        "verify",
        proof,
        "--network",
        "regtest",
        "--url",
        node.url,
        "--confirmations",
        "2",
      ]);
      assert.ok(v.ok, v.out);
      // The author's list, by key and by key file.
      const l = await recordCli(["list", "--author", key.publicKey, "--url", node.url]);
      assert.ok(l.ok, l.err);
      assert.match(l.out, new RegExp(`^\\d+:1  ${id}  "signed by the CLI"$`, "m"));
      const lf = await recordCli(["list", "--author", keyFile, "--url", node.url, "--json"]);
      assert.equal(JSON.parse(lf.out).records[0].id, id);
    } finally {
      await node.api.stopMining();
    }
  });

  it("adds a file's bytes as a data record; get shows it pending; errors are clear", async () => {
    const file = join(tmp, "data.bin");
    writeFileSync(file, Buffer.from([0, 1, 2, 0xff]));
    const a = await recordCli(["add", "--file", file, "--url", node.url]);
    assert.ok(a.ok, a.err);
    const g = await recordCli(["get", a.out.trim(), "--url", node.url]);
    assert.deepEqual(JSON.parse(g.out).record, { type: "data", data: "AAEC/w==", encoding: "base64" });
    const p = await recordCli(["get", a.out.trim(), "--url", node.url, "--proof", join(tmp, "p.json")]);
    assert.equal(p.ok, false);
    assert.match(p.err, /is pending: no proof until it is in a block/);
    const both = await recordCli(["add", "text", "--file", file, "--url", node.url]);
    assert.equal(both.ok, false);
    assert.match(both.err, /one of them/);
    const missing = await recordCli(["get", "ab".repeat(32), "--url", node.url]);
    assert.equal(missing.ok, false);
    assert.match(missing.err, /no record/);
    const big = await recordCli(["add", "x".repeat(70_000), "--url", node.url]);
    assert.equal(big.ok, false);
    assert.match(big.err, /exceeds 65536/);
    const none = await recordCli(["list", "--author", "00".repeat(32), "--url", node.url]);
    assert.equal(none.out, "no records");
  });
});
