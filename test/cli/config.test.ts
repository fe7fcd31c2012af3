import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { promisify } from "node:util";
import { ApiClient } from "../../src/api/client.ts";
import { waitFor } from "../helpers/wait.ts";

/**
 * Settings from flags, JBC_* environment variables, a TOML or JSON config file and defaults, in that
 * order, with real `jbc` processes: `jbc config print` names each setting's source, a node runs with
 * them, and an unknown key or a bad value stops the command before anything starts.
 */

const run = promisify(execFile);
const BIN = new URL("../../bin/jbc.mjs", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "jbc-config-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs jbc with only the given JBC_* variables set. */
async function jbc(args: string[], env: Record<string, string> = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("JBC_")));
  try {
    const r = await run(process.execPath, [BIN, ...args], { env: { ...clean, ...env }, timeout: 30_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

/** `jbc config print`'s table as key → [value, source]. */
function table(stdout: string): Map<string, [string, string]> {
  const rows = stdout.trim().split("\n").slice(1);
  return new Map(
    rows.map((r) => {
      const [key, value, source] = r.split(/\s{2,}/);
      return [key!, [value!, source!]];
    }),
  );
}

test("flags beat the environment, which beats the file, which beats the defaults", async () => {
  const toml = join(dir, "node.toml");
  writeFileSync(
    toml,
    'port = 5100\nthreads = 3\nhost = "0.0.0.0"\npeer = ["127.0.0.1:6001", "http://10.0.0.2:5000"]\nmdns = true\np2p = false\n',
  );
  const r = await jbc(["config", "print", "--config", toml, "--port", "5300"], {
    JBC_PORT: "5200",
    JBC_THREADS: "2",
    JBC_MINE: "yes",
  });
  assert.equal(r.code, 0, r.stderr);
  const t = table(r.stdout);
  assert.deepEqual(t.get("port"), ["5300", "flag"]);
  assert.deepEqual(t.get("threads"), ["2", "env"]);
  assert.deepEqual(t.get("mine"), ["true", "env"]);
  assert.deepEqual(t.get("host"), ["0.0.0.0", "file"]);
  assert.deepEqual(t.get("peer"), ["127.0.0.1:6001,http://10.0.0.2:5000", "file"]);
  assert.deepEqual(t.get("mdns"), ["true", "file"]);
  assert.deepEqual(t.get("p2p"), ["false", "file"]);
  assert.deepEqual(t.get("log-level"), ["info", "default"]);
  assert.deepEqual(t.get("network"), ["devnet", "default"]);

  // JSON works the same, and JBC_CONFIG names the file.
  const json = join(dir, "node.json");
  writeFileSync(json, JSON.stringify({ network: "regtest", "log-level": "warn", "json-cache-mb": 0 }));
  const j = await jbc(["config", "print"], { JBC_CONFIG: json });
  assert.equal(j.code, 0, j.stderr);
  const tj = table(j.stdout);
  assert.deepEqual(tj.get("network"), ["regtest", "file"]);
  assert.deepEqual(tj.get("log-level"), ["warn", "file"]);
  assert.deepEqual(tj.get("json-cache-mb"), ["0", "file"]);
});

test("an unknown key or a bad value is an error naming it, before anything starts (exit 2)", async () => {
  const datadir = join(dir, "never");
  const cases: Array<[string, string, RegExp]> = [
    ["unknown.toml", `datadir = "${datadir}"\nprot = 5000\n`, /unknown key "prot"/],
    [
      "port.toml",
      `datadir = "${datadir}"\nport = 70000\n`,
      /port = 70000: expected an integer from 0 to 65535/,
    ],
    ["mine.toml", `datadir = "${datadir}"\nmine = "often"\n`, /mine = "often": expected true or false/],
    ["net.json", JSON.stringify({ datadir, network: "mainnet" }), /network = "mainnet"/],
    ["broken.toml", "port = = 1\n", /config file .*broken\.toml/],
  ];
  for (const [name, text, message] of cases) {
    const file = join(dir, name);
    writeFileSync(file, text);
    const r = await jbc(["node", "--config", file]);
    assert.equal(r.code, 2, `${name}: ${r.stderr}`);
    assert.match(r.stderr, message, name);
  }
  const env = await jbc(["node", "--datadir", datadir], { JBC_LOG_KEEP: "many" });
  assert.equal(env.code, 2);
  assert.match(env.stderr, /JBC_LOG_KEEP=many: expected an integer/);
  assert.equal(existsSync(datadir), false, "nothing was started");
});

test("a node runs with the settings of its config file and environment", { timeout: 60_000 }, async () => {
  const datadir = join(dir, "node");
  const file = join(dir, "run.toml");
  writeFileSync(file, `network = "regtest"\nport = 0\np2p = false\ndatadir = "${datadir}"\n`);
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("JBC_")));
  const proc = spawn(process.execPath, [BIN, "node", "--config", file], {
    env: { ...clean, JBC_MINER: "from the environment" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout.on("data", (b: Buffer) => {
    out += b.toString();
  });
  try {
    const url = await waitFor(() => /"url":"(http:\/\/[^"]+)"/.exec(out)?.[1], {
      timeoutMs: 30_000,
      what: "the node to start",
    });
    const status = await new ApiClient(url).status();
    assert.equal(status.network, "regtest");
    assert.equal(status.mining.miner, "from the environment");
    assert.equal(status.peers, 0);
    assert.ok(existsSync(join(datadir, "chain")));
  } finally {
    proc.kill("SIGTERM");
  }
  assert.equal(await new Promise((r) => proc.on("exit", (c) => r(c))), 0);
});
