/**
 * The lab's `cosign` scenario, small (docs/lab.md): three team nodes on their own hosts, 100 ms one-way
 * links, the network key, their keys as witnesses with a quorum of 2; the lab mines one block a second.
 * Asserts the structure of the result and that every checkpoint reached the quorum on every node, not
 * its timing (a loaded 2-core machine decides that). Needs root and network namespaces.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { before, describe, it } from "node:test";
import { checkCapable, cleanStale, Topology } from "../../src/lab/netns.ts";

const MAIN = new URL("../../src/lab/main.ts", import.meta.url).pathname;
const CHECKPOINTS = 4;

describe("network lab: cosign", { timeout: 120_000 }, () => {
  before(async () => {
    try {
      await checkCapable();
    } catch (err) {
      throw new Error(`the lab tests need root and network namespaces: ${(err as Error).message}`);
    }
    await cleanStale();
  });

  it("every checkpoint is cosigned by the quorum on every node, timed from the block that made it signable", async () => {
    const args = ["--scenario", "cosign", "--blocks", String(CHECKPOINTS), "--block-interval", "1", "--json"];
    const proc = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const lines: string[] = [];
    createInterface({ input: proc.stdout! }).on("line", (l) => lines.push(l));
    const code = await new Promise<number | null>((r) => proc.on("exit", r));
    const json = JSON.parse(lines.at(-1) ?? "{}") as Record<string, unknown>;
    assert.equal(json.ok, true, `scenario failed:\n${lines.join("\n")}`);
    assert.equal(code, 0);
    assert.equal(json.scenario, "cosign");
    assert.deepEqual([json.nodes, json.quorum, json.delayMs], [3, 2, 100]);
    // A block mined on a node that had not yet received the one before is stale and makes no checkpoint;
    // the pace of one a second over 100 ms makes that rare, not impossible.
    assert.ok((json.checkpoints as number) >= CHECKPOINTS - 1, `${json.checkpoints} checkpoints`);
    assert.equal(json.measured, json.checkpoints, "every checkpoint reached the quorum on every node");
    assert.equal(json.missing, 0);
    for (const f of ["p50Ms", "p99Ms", "blockP50Ms", "cosignP50Ms", "minerP50Ms", "othersP50Ms"])
      assert.equal(typeof json[f], "number", f);
    assert.ok((json.p50Ms as number) <= (json.p99Ms as number));
    // A block needs at least one crossing of a 100 ms link to reach the other two nodes.
    assert.ok((json.blockP50Ms as number) >= 100, `found → on all nodes ${json.blockP50Ms} ms`);
    assert.deepEqual(Object.keys(json.perNode as object), ["n0", "n1", "n2"]);
    assert.deepEqual(await Topology.leftovers(Number(json.slot)), [], "the lab removed everything it made");
  });
});
