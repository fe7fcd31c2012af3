/**
 * The lab's `closed` scenario on real namespaces and real `jbc node` processes (docs/lab.md): two team
 * nodes with the network key connect and share blocks; an outsider without the key and one with another
 * key, each in its own namespace, dial them and never connect. Needs root and network namespaces.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { before, describe, it } from "node:test";
import { checkCapable, cleanStale, Topology } from "../../src/lab/netns.ts";

const MAIN = new URL("../../src/lab/main.ts", import.meta.url).pathname;

describe("network lab: closed", { timeout: 180_000 }, () => {
  before(async () => {
    try {
      await checkCapable();
    } catch (err) {
      throw new Error(`the lab tests need root and network namespaces: ${(err as Error).message}`);
    }
    await cleanStale();
  });

  it("outsiders without the team's key never connect; the team's nodes do", async () => {
    const proc = spawn(process.execPath, ["--import", "tsx", MAIN, "--scenario", "closed", "--json"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const lines: string[] = [];
    createInterface({ input: proc.stdout! }).on("line", (l) => lines.push(l));
    const code = await new Promise<number | null>((r) => proc.on("exit", r));
    const json = JSON.parse(lines.at(-1) ?? "{}") as Record<string, unknown>;
    assert.equal(json.ok, true, `scenario failed:\n${lines.join("\n")}`);
    assert.equal(code, 0);
    assert.deepEqual(json.teamPeers, [1, 1]);
    assert.deepEqual(json.outsiderPeers, [0, 0]);
    assert.equal(json.teamHeight, 3);
    assert.deepEqual(json.outsiderHeights, [6, 6]);
    assert.deepEqual(await Topology.leftovers(Number(json.slot)), [], "the lab removed everything it made");
  });
});
