/**
 * The lab's `closed` scenario on real namespaces and real `jbc node` processes (docs/lab.md): two team
 * nodes with the network key connect and share blocks; an outsider without the key and one with another
 * key, each in its own namespace, dial them and never connect. Needs root and network namespaces.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { assertOk, lab, requireLab } from "./run.ts";

describe("network lab: closed", { timeout: 180_000 }, () => {
  before(requireLab);

  it("outsiders without the team's key never connect; the team's nodes do", async () => {
    const r = await lab(["--scenario", "closed", "--json"], true);
    assertOk(r);
    const { json } = r;
    assert.deepEqual(json.teamPeers, [1, 1]);
    assert.deepEqual(json.outsiderPeers, [0, 0]);
    assert.equal(json.teamHeight, 3);
    assert.deepEqual(json.outsiderHeights, [6, 6]);
  });
});
