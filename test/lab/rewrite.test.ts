/**
 * The lab's `rewrite` scenario on real namespaces and real `jbc node` processes (docs/lab.md): an attacker
 * with ten times the team's hash power releases a private branch forking below the team's checkpoints.
 * Without witnesses the team reorganises below the checkpoint depth and loses confirmed records; with a
 * 2-of-3 quorum of the team's node keys it refuses the branch, keeps every record and reports the fork.
 * Needs root and network namespaces.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { before, describe, it } from "node:test";
import { checkCapable, cleanStale, Topology } from "../../src/lab/netns.ts";

const MAIN = new URL("../../src/lab/main.ts", import.meta.url).pathname;

describe("network lab: rewrite", { timeout: 240_000 }, () => {
  before(async () => {
    try {
      await checkCapable();
    } catch (err) {
      throw new Error(`the lab tests need root and network namespaces: ${(err as Error).message}`);
    }
    await cleanStale();
  });

  it("a 10x attacker rewrites an unwitnessed team's history but not a witnessed one's", async () => {
    const proc = spawn(process.execPath, ["--import", "tsx", MAIN, "--scenario", "rewrite", "--json"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const lines: string[] = [];
    createInterface({ input: proc.stdout! }).on("line", (l) => lines.push(l));
    const code = await new Promise<number | null>((r) => proc.on("exit", r));
    const json = JSON.parse(lines.at(-1) ?? "{}") as Record<string, unknown>;
    assert.equal(json.ok, true, `scenario failed:\n${lines.join("\n")}`);
    assert.equal(code, 0);
    assert.equal(json.lostWithWitnesses, 0);
    assert.ok((json.lostWithoutWitnesses as number) > 0, "without witnesses confirmed records are dropped");
    assert.ok(
      (json.reorgDepthWithout as number) > (json.checkpointDepth as number),
      "without witnesses the reorg goes below the checkpoint depth",
    );
    assert.equal(typeof json.alertSeconds, "number");
    assert.deepEqual(await Topology.leftovers(Number(json.slot)), [], "the lab removed everything it made");
  });
});
