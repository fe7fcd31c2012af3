/**
 * Attacks on witnessed checkpoints (docs/security.md, "Witnessed checkpoints"), with real libp2p nodes on
 * loopback, each with its witness (src/witness) and three team keys, quorum 2, depth 2:
 *   - a peer gossips a cosignature whose signature does not verify: refused, the peer penalised (banned);
 *   - a team witness's key signs another block at a height the nodes hold: reported as an equivocation
 *     with both notes (held and conflicting), not relayed, not penalised;
 *   - an attacker with a heavier private branch forking below the quorum checkpoint connects: the team's
 *     node refuses the branch (FORK_BEFORE_CHECKPOINT), keeps its tip and reports the refused fork.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { checkQuorum, formatCheckpoint } from "../../src/consensus/checkpoint.ts";
import { noteSigner, signNoteText } from "../../src/consensus/note.ts";
import { regtest } from "../../src/consensus/params.ts";
import { checkpointsTopic } from "../../src/net/gossip/cosign.ts";
import { silentLogger } from "../../src/util/logger.ts";
import { encodeCosignature } from "../../src/witness/message.ts";
import { Witness } from "../../src/witness/witness.ts";
import { buildChain, importBlocks, startNode, type TestNode, waitFor } from "../helpers/net.ts";

const running: TestNode[] = [];
after(async () => {
  await Promise.all(running.map((n) => n.stop()));
});

const keys = [1, 2, 3].map((i) => noteSigner(`team-${i}`, new Uint8Array(32).fill(i)));
const witnesses = keys.map((k) => ({ name: k.name, keyId: k.keyId, publicKey: k.publicKey }));

describe("attack: witnessed checkpoints", () => {
  it("forged cosignature → penalty; equivocation → report with both notes; heavier branch below the quorum checkpoint → refused", async () => {
    const ws: Witness[] = [];
    const team = (i: number) => (chain: ConstructorParameters<typeof Witness>[0]["chain"]) => {
      const w = new Witness({
        params: regtest,
        chain,
        signer: keys[i]!,
        witnesses,
        quorum: 2,
        depth: 2,
        logger: silentLogger,
      });
      ws[i] = w;
      return w;
    };
    const a = await startNode(regtest, { witness: team(0) });
    running.push(a);
    const peers = [a.net.multiaddrs()[0]!];
    const b = await startNode(regtest, { witness: team(1), peers });
    const c = await startNode(regtest, { witness: team(2), peers });
    running.push(b, c);
    await waitFor(() => a.net.getPeers().length === 2, 10_000, "the team to connect");
    const topic = checkpointsTopic(regtest);
    await waitFor(
      () => a.net.libp2p.services.pubsub.getSubscribers(topic).length === 2,
      10_000,
      "subscriptions",
    );
    for (const w of ws) w.start();

    const main = buildChain(regtest, 8, regtest.genesis, { miner: "team" });
    await importBlocks(a.tc.chain, main);
    await waitFor(() => b.tc.chain.height === 8 && c.tc.chain.height === 8, 15_000, "the team to sync");
    await waitFor(() => ws.every((w) => w.view().final?.height === 6), 15_000, "quorum on height 6");
    const final = ws[0]!.view().final!;
    const q = checkQuorum(final.note, ws[0]!.origin, witnesses, 2);
    assert.ok(q.ok && q.checkpoint.height === 6, "the final note verifies offline");

    // A forged cosignature from an outsider's node (its own key, a signature over other text).
    const outsider = await startNode(regtest, {
      peers,
      witness: () =>
        new Witness({
          params: regtest,
          chain: a.tc.chain,
          signer: noteSigner("outsider", new Uint8Array(32).fill(9)),
          witnesses: [],
          quorum: 0,
          logger: silentLogger,
        }),
    });
    running.push(outsider);
    await waitFor(
      () => a.net.getPeers().some((p) => p.peerId === outsider.net.peerId),
      10_000,
      "outsider joins",
    );
    await waitFor(
      () => outsider.net.libp2p.services.pubsub.getSubscribers(topic).length >= 1,
      10_000,
      "mesh",
    );
    const e6 = a.tc.chain.getEntryAt(6)!;
    const text = formatCheckpoint({
      origin: ws[0]!.origin,
      height: 6,
      hash: e6.hash,
      chainWork: e6.chainWork,
    });
    const forger = noteSigner("outsider", new Uint8Array(32).fill(9));
    const bad = signNoteText(
      formatCheckpoint({ origin: ws[0]!.origin, height: 5, hash: e6.hash, chainWork: 1n }),
      forger,
    );
    const pubsub = outsider.net.libp2p.services.pubsub;
    await pubsub.publish(topic, encodeCosignature(forger, text, bad));
    await waitFor(() => a.net.getBans().has(outsider.net.peerId), 10_000, "the forger banned");
    assert.equal(ws[0]!.counts.forged, 1);

    // Team key 2 signs a conflicting block at height 6, gossiped by c: an equivocation, both notes reported.
    const other = buildChain(regtest, 3, main[2]!, { miner: "other" })[2]!; // height 6 on another branch
    const { blockHash } = await import("../helpers/blocks.ts");
    const conflicting = formatCheckpoint({
      origin: ws[0]!.origin,
      height: 6,
      hash: blockHash(other),
      chainWork: e6.chainWork,
    });
    await c.net.libp2p.services.pubsub.publish(
      topic,
      encodeCosignature(keys[1]!, conflicting, signNoteText(conflicting, keys[1]!)),
    );
    await waitFor(() => ws[0]!.equivocations.length === 1, 10_000, "the equivocation report");
    const eq = ws[0]!.equivocations[0]!;
    assert.equal(eq.witness, "team-2");
    assert.equal(eq.held.hash, e6.hash);
    assert.equal(eq.conflicting.hash, blockHash(other));
    assert.ok(
      checkQuorum(eq.conflicting.note, ws[0]!.origin, [witnesses[1]!], 1).ok,
      "its signature verifies",
    );
    assert.ok(
      checkQuorum(eq.held.note, ws[0]!.origin, [witnesses[1]!], 1).ok,
      "so does the one it contradicts",
    );
    assert.equal(a.net.getBans().has(c.net.peerId), false, "relaying evidence is not an offence");

    // An attacker with 3x the blocks, forking at height 2, below the final checkpoint at 6.
    const attack = buildChain(regtest, 22, main[1]!, { miner: "attacker" });
    const attacker = await startNode(regtest, {});
    running.push(attacker);
    await importBlocks(attacker.tc.chain, [...main.slice(0, 2), ...attack]);
    await attacker.net.addPeer(peers[0]!);
    await waitFor(() => ws[0]!.refusedForks.length > 0, 20_000, "the refused fork report");
    assert.equal(a.tc.chain.tip.hash, blockHash(main[7]!), "the team keeps its chain");
    assert.equal(b.tc.chain.tip.hash, blockHash(main[7]!));
  });
});
