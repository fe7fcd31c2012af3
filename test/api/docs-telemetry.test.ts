import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { tempDir } from "../helpers/chain.ts";

/**
 * No install of jbc phones home (docs/api.md "The reference page and install-time analytics"):
 * swagger-ui-dist, which serves /api/docs, depends on @scarf/scarf, whose postinstall reports every install
 * to scarf.sh unless the root package, or a package between the root and scarf, opts out. The real
 * postinstall script runs here as npm runs it, pointed at a local HTTP server (its SCARF_LOCAL_PORT switch),
 * so a change of scarf, of its version or of package.json that turns reporting back on fails here, and
 * even then nothing leaves the machine.
 */

const repo = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const scarfDir = join(repo, "node_modules", "@scarf", "scarf");
const dirs: string[] = [];

after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Runs scarf's postinstall from `scarfAt` for an install started in `root`; what it printed, and requests. */
async function runPostinstall(
  scarfAt: string,
  root: string,
): Promise<{ output: string; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.end("ok");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const tmp = tempDir("jbc-scarf-tmp-");
  dirs.push(tmp);
  try {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      INIT_CWD: root,
      SCARF_LOCAL_PORT: String((server.address() as AddressInfo).port),
      SCARF_VERBOSE: "true",
      // Its rate-limit file goes here, not into the shared temporary directory.
      TMPDIR: tmp,
    };
    // The opt-out must come from package.json, not from this environment.
    for (const name of ["SCARF_ANALYTICS", "SCARF_NO_ANALYTICS", "DO_NOT_TRACK", "npm_config_global"])
      delete env[name];
    const child = spawn(process.execPath, ["report.js"], { cwd: scarfAt, env });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    await new Promise<void>((resolve) => child.once("exit", () => resolve()));
    return { output, requests };
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

test("installing jbc itself (npm ci in the repository): scarf's postinstall reports nothing", async (t) => {
  if (!existsSync(join(scarfDir, "report.js"))) {
    t.skip("@scarf/scarf is not installed: nothing can report");
    return;
  }
  const { output, requests } = await runPostinstall(scarfDir, repo);
  assert.deepEqual(requests, [], output);
  // The reason is package.json's scarfSettings, read without running `npm ls` (skipTraversal).
  assert.match(output, /User has opted out/, output);
});

test("installing jbc as a dependency: the opt-out in jbc's package.json holds for the installing project", async (t) => {
  if (!existsSync(join(scarfDir, "report.js"))) {
    t.skip("@scarf/scarf is not installed: nothing can report");
    return;
  }
  // A project that depends on jbc, laid out as npm installs it: jbc, swagger-ui-dist and scarf hoisted.
  const project = tempDir("jbc-scarf-project-");
  dirs.push(project);
  const modules = join(project, "node_modules");
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "a-project", version: "1.0.0", dependencies: { jbc: "0.1.0" } }),
  );
  const jbc = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as Record<string, unknown>;
  // Only the dependency that leads to scarf: the others are not installed in this sketch of a project.
  jbc["dependencies"] = {
    "swagger-ui-dist": (jbc["dependencies"] as Record<string, string>)["swagger-ui-dist"],
  };
  mkdirSync(join(modules, "jbc"), { recursive: true });
  writeFileSync(join(modules, "jbc", "package.json"), JSON.stringify(jbc));
  mkdirSync(join(modules, "swagger-ui-dist"), { recursive: true });
  cpSync(
    join(repo, "node_modules", "swagger-ui-dist", "package.json"),
    join(modules, "swagger-ui-dist", "package.json"),
  );
  cpSync(scarfDir, join(modules, "@scarf", "scarf"), { recursive: true });

  // Scarf walks `npm ls` (with a 3 s limit of its own) to find who depends on it; on a loaded machine that
  // may time out, which also reports nothing but proves nothing, so that case is tried again.
  let run = await runPostinstall(join(modules, "@scarf", "scarf"), project);
  for (let i = 0; i < 6 && /error from npm -ls/.test(run.output); i++) {
    await new Promise((r) => setTimeout(r, 2_000 * (i + 1)));
    run = await runPostinstall(join(modules, "@scarf", "scarf"), project);
  }
  assert.deepEqual(run.requests, [], run.output);
  assert.match(run.output, /disabled via a package\.json in the dependency chain/, run.output);
});
