/**
 * The lab's `rewrite` scenario on real namespaces and real `jbc node` processes (docs/lab.md): an attacker
 * with ten times the team's hash power releases a private branch forking below the team's checkpoints.
 * Without witnesses the team reorganises below the checkpoint depth and loses confirmed records; with a
 * 2-of-3 quorum of the team's node keys it refuses the branch, keeps every record and reports the fork.
 * Needs root and network namespaces.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { assertOk, lab, requireLab } from "./run.ts";

describe("network lab: rewrite", { timeout: 240_000 }, () => {
  before(requireLab);

  it("a 10x attacker rewrites an unwitnessed team's history but not a witnessed one's", async () => {
    const r = await lab(["--scenario", "rewrite", "--json"], true);
    assertOk(r);
    const { json } = r;
    assert.equal(json.lostWithWitnesses, 0);
    assert.ok((json.lostWithoutWitnesses as number) > 0, "without witnesses confirmed records are dropped");
    assert.ok(
      (json.reorgDepthWithout as number) > (json.checkpointDepth as number),
      "without witnesses the reorg goes below the checkpoint depth",
    );
    assert.equal(typeof json.alertSeconds, "number");
  });
});
