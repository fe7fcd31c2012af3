/**
 * The network lab's short scenarios on real namespaces and real `jbc node` processes (docs/lab.md):
 * remote-api, lockout, bad-peer, partition and churn, plus cleanup after Ctrl-C and after SIGKILL. The lab needs
 * root and network namespaces; where it cannot run, this file fails and says why (CI runs as root).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { before, describe, it } from "node:test";
import { cleanStale, Topology } from "../../src/lab/netns.ts";
import { assertOk, LAB_MAIN, lab, requireLab, startLab } from "./run.ts";

describe("network lab (short scenarios)", { timeout: 240_000 }, () => {
  before(requireLab);

  it("remote-api: from another namespace, changing routes need the token", async () => {
    const r = await lab(["--scenario", "remote-api"]);
    assertOk(r);
    assert.equal(r.json.stopMiningWithoutToken, 401);
    assert.equal(r.json.stopMiningWithToken, 200);
  });

  it("lockout: 50 idle sockets from one host do not keep an honest peer out", async () => {
    const r = await lab(["--scenario", "lockout", "--sockets", "50"]);
    assertOk(r);
    assert.ok(Number(r.json.joinSeconds) <= 5);
  });

  it("bad-peer: banned by id and address on every honest node, stays out under a new identity", async () => {
    const r = await lab(["--scenario", "bad-peer", "--nodes", "3"]);
    assertOk(r);
    assert.equal(r.json.reconnectNewIdentity, 0);
  });

  it("partition: 2 + 2 split while mining and taking records, healed into one tip, every record once", async () => {
    // 20 s: libp2p's connection monitor drops the connections across the split within 15 s (a ping every
    // 10 s, given up after 5 s), so the heal goes through new connections and the losing half's records
    // must be announced again to reach the winning half.
    const r = await lab([
      "--scenario",
      "partition",
      "--nodes",
      "4",
      "--seconds",
      "20",
      "--block-interval",
      "0.5",
      "--records",
      "6",
    ]);
    assertOk(r);
    assert.equal(typeof r.json.finalHeight, "number");
    assert.equal(r.json.crossSiteLinksAtHeal, 0, "the split had closed the connections across it");
    const l = r.json.ledger as Record<string, unknown>;
    assert.deepEqual(l.submitted, { a: 6, b: 6, both: 4 });
    assert.equal(l.confirmedInLosing, 6, "the losing half confirmed its own records");
    assert.equal(l.pendingAgain, 6, "all pending again on every losing node after the heal");
    assert.equal(l.unconfirmedEvents, 6);
    assert.equal(l.wronglyUnconfirmed, 0, "records the winning chain holds stay confirmed");
    assert.equal(l.reconfirmed, 6, "confirmed again on the winning chain, on every node");
    assert.equal(l.lost, 0);
    assert.equal(l.duplicates, 0);
    assert.equal(l.indexWrong, 0);
    assert.equal(typeof l.reconfirmSeconds, "number");
  });

  it("churn: SIGKILL and restart while mining, every store verifies, nothing confirmed is lost", async () => {
    const r = await lab([
      "--scenario",
      "churn",
      "--nodes",
      "3",
      "--seconds",
      "20",
      "--block-interval",
      "0.5",
    ]);
    assertOk(r);
    assert.ok(Number(r.json.kills) >= 1);
    assert.equal(r.json.storesVerified, 3);
  });

  it("refuses bad options with a usage error (exit 2) before it makes anything", async () => {
    for (const args of [
      ["--scenario", "partition", "--records", "0"],
      ["--scenario", "partition", "--records", "2.5"],
      ["--scenario", "churn", "--nodes", "1e3"],
      ["--scenario", "propagation", "--delays", "50,x"],
      ["--scenario", "propagation", "--relay", "cmpct"],
      ["--scenario", "propagation", "--relay", "full,full"],
      ["--scenario", "late-joiner", "--peers", "0"],
      // Three serving peers and the joiner need four hosts.
      ["--scenario", "late-joiner", "--peers", "3", "--nodes", "3"],
      ["--scenario", "nope"],
    ]) {
      const r = spawnSync(process.execPath, ["--import", "tsx", LAB_MAIN, ...args], { encoding: "utf8" });
      assert.equal(r.status, 2, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /error: option|unknown scenario|needs at least 4 nodes/, args.join(" "));
      assert.equal(r.stdout, "", args.join(" "));
    }
    assert.deepEqual(await Topology.leftovers(0), [], "nothing was made");
  });

  it("without root: one line and exit code 3", async () => {
    // Dropped to nobody with util-linux's setpriv (the lab tests run as root).
    const r = spawnSync(
      "setpriv",
      [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        process.execPath,
        "--import",
        "tsx",
        LAB_MAIN,
        "--scenario",
        "remote-api",
      ],
      { encoding: "utf8", env: { ...process.env, HOME: "/tmp" } },
    );
    assert.equal(r.status, 3, r.stderr);
    assert.equal(r.stdout, "lab: cannot run here: the lab needs root (ip netns)\n");
  });

  it("cleans up after Ctrl-C, and a SIGKILLed lab's remains at the next start", async () => {
    for (const signal of ["SIGINT", "SIGKILL"] as const) {
      const run = startLab(["--scenario", "remote-api"]);
      const slot = await new Promise<number>((resolve) =>
        run.onLine((l) => {
          const m = /^lab slot (\d+):/.exec(l);
          if (m) resolve(Number(m[1]));
        }),
      );
      await new Promise((r) => setTimeout(r, 1_500)); // the node is starting in its namespace
      run.proc.kill(signal);
      const r = await run.done;
      if (signal === "SIGINT") {
        assert.equal(r.code, 130);
        assert.deepEqual(await Topology.leftovers(slot), []);
      } else {
        assert.notDeepEqual(await Topology.leftovers(slot), [], "a SIGKILLed lab leaves its namespaces");
        assert.ok((await cleanStale()).includes(slot));
        assert.deepEqual(await Topology.leftovers(slot), []);
      }
    }
  });
});
