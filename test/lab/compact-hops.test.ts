/**
 * scripts/compact-hops.ts on a small set of node logs written as the nodes write them (pino JSON lines):
 * a block mined on n0, pushed to n1 (high-bandwidth) and announced to n2 by header (GETCMPCT), n1 relaying
 * it on to n2 too. The times are chosen so each figure has one known answer.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { compactHops } from "../../scripts/compact-hops.ts";

const dir = mkdtempSync(join(tmpdir(), "jbc-hops-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const ID = { n0: "12D3KooWzero", n1: "12D3KooWone", n2: "12D3KooWtwo" };
const H = "ab".repeat(32);

function log(node: keyof typeof ID, lines: object[]): void {
  const all = [{ level: 30, time: 1, msg: "p2p listening", peerId: ID[node] }, ...lines];
  writeFileSync(join(dir, `${node}-node-1.log`), `${all.map((l) => JSON.stringify(l)).join("\n")}\n`);
}

describe("compact-hops", () => {
  it("splits each hop into the wire and the receiver's work", () => {
    log("n0", [{ level: 20, time: 1_000, msg: "compact: relayed", hash: H, pushed: 1, announced: 1 }]);
    // n1: the pushed compact block in hand at 1,210 (processed 40 ms later), relayed onward at 1,240.
    log("n1", [
      { level: 20, time: 1_240, msg: "compact: relayed", hash: H, from: ID.n0, pushed: 1, announced: 0 },
      {
        level: 20,
        time: 1_250,
        msg: "compact block rebuilt",
        hash: H,
        peer: ID.n0,
        asked: 0,
        matchedMs: 5,
        rebuiltMs: 8,
        processedMs: 40,
      },
    ]);
    // n2: n0's header, then its GETCMPCT answered at 1,610 (410 ms); n1's push came too late to count.
    log("n2", [
      { level: 20, time: 1_610, msg: "compact: getcmpct answered", hash: H, peer: ID.n0, ms: 410 },
      {
        level: 20,
        time: 1_660,
        msg: "compact block rebuilt",
        hash: H,
        peer: ID.n0,
        asked: 3,
        matchedMs: 7,
        rebuiltMs: 20,
        processedMs: 50,
      },
    ]);
    const r = compactHops(dir);
    assert.equal(r.rebuilt, 2);
    assert.deepEqual(r.sentToInHandMs, { n: 2, p50: 610, p90: 610, max: 610 });
    assert.deepEqual(r.inHandToRelayedMs, { n: 1, p50: 30, p90: 30, max: 30 });
    assert.deepEqual(r.inHandToProcessedMs, { n: 2, p50: 50, p90: 50, max: 50 });
    assert.deepEqual(r.getcmpctMs, { n: 1, p50: 410, p90: 410, max: 410 });
    assert.equal(r.getblocktxn, 1);
    assert.equal(r.recordsAsked, 3);
    assert.equal(r.pushedCompact, 2);
    assert.equal(r.announcedHeader, 1);
  });
});
