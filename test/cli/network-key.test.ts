/**
 * A closed network on the command line, through the real executable: `jbc keygen --network-key`, and
 * `jbc node` refusing a bad network key or allow-list with a clear message and exit code 2.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import { readNetworkKeyFile } from "../../src/net/private.ts";

const run = promisify(execFile);
const BIN = new URL("../../bin/jbc.mjs", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "jbc-netkey-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function jbc(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [BIN, ...args], {
      timeout: 30_000,
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

describe("jbc keygen --network-key", () => {
  it("writes a 0600 swarm.key file, prints its fingerprint, and never overwrites it", async () => {
    const path = join(dir, "swarm.key");
    const first = await jbc(["keygen", "--network-key", path]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const text = readFileSync(path, "utf8");
    assert.match(text, /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/);
    assert.match(first.stdout, new RegExp(`fingerprint ${readNetworkKeyFile(path).fingerprint}`));
    const again = await jbc(["keygen", "--network-key", path]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists/);
    assert.equal(readFileSync(path, "utf8"), text);
  });

  it("wants exactly one of --out and --network-key", async () => {
    const both = await jbc(["keygen", "--out", join(dir, "k.json"), "--network-key", join(dir, "k2")]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /exactly one of --out/);
    assert.equal((await jbc(["keygen"])).code, 2);
  });
});

describe("jbc node refuses a bad closed-network setting with exit code 2", () => {
  const bad = join(dir, "bad.key");
  writeFileSync(bad, "/key/swarm/psk/1.0.0/\n/base16/\n1234\n");

  it("a malformed key file, by flag or by environment", async () => {
    const flag = await jbc(["node", "--network-key", bad, "--port", "0"]);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /bad\.key is not a network key file: the key line is not 64 hex digits/);
    const env = await jbc(["node", "--port", "0"], { JBC_NETWORK_KEY: bad });
    assert.equal(env.code, 2);
    assert.match(env.stderr, /JBC_NETWORK_KEY=.*not a network key file/);
  });

  it("a missing key file, and an allow-list entry that is not a peer id", async () => {
    const missing = await jbc(["node", "--network-key", join(dir, "none.key"), "--port", "0"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read network key file/);
    const peers = await jbc(["node", "--allow-peers", "12D3KooWnot-a-peer", "--port", "0"]);
    assert.equal(peers.code, 2);
    assert.match(peers.stderr, /"12D3KooWnot-a-peer" is not a libp2p peer id/);
  });

  it("jbc config print shows the key file's path, never the key", async () => {
    const good = join(dir, "good.key");
    await jbc(["keygen", "--network-key", good]);
    const hex = readFileSync(good, "utf8").split("\n")[2]!;
    const r = await jbc(["config", "print", "--network-key", good]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`network-key\\s+${good.replace(/[/.]/g, "\\$&")}\\s+flag`));
    assert.doesNotMatch(r.stdout, new RegExp(hex));
  });
});
