/**
 * The witness (src/witness/witness.ts) on a real chain and store, without the network: a burst of blocks is
 * signed once per sign interval, at its latest tip, while a block alone is signed at once; a peer's
 * cosignature is checked only when it would change something, so a repeat or one below the final
 * checkpoint costs a parse, and a forged one that would count is still refused with its penalty.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { formatCheckpoint } from "../../src/consensus/checkpoint.ts";
import { noteSigner, signNoteText } from "../../src/consensus/note.ts";
import { regtest } from "../../src/consensus/params.ts";
import { silentLogger } from "../../src/util/logger.ts";
import { encodeCosignature } from "../../src/witness/message.ts";
import { FORGED_COSIGN_PENALTY, Witness } from "../../src/witness/witness.ts";
import { makeChain } from "../helpers/blocks.ts";
import { openHarness } from "../helpers/chain.ts";
import { waitFor } from "../helpers/wait.ts";

const keys = [1, 2, 3].map((i) => noteSigner(`team-${i}`, new Uint8Array(32).fill(i)));
const witnesses = keys.map((k) => ({ name: k.name, keyId: k.keyId, publicKey: k.publicKey }));
const INTERVAL = 300;

async function withWitness(
  signIntervalMs: number,
  body: (w: Witness, h: Awaited<ReturnType<typeof openHarness>>) => Promise<void>,
): Promise<void> {
  const h = await openHarness(regtest);
  const w = new Witness({
    params: regtest,
    chain: h.chain,
    signer: keys[0]!,
    witnesses,
    quorum: 2,
    depth: 1,
    logger: silentLogger,
    signIntervalMs,
  });
  w.start();
  try {
    await body(w, h);
  } finally {
    w.stop();
    await h.dispose();
  }
}

/** Peer `i`'s cosignature message of the checkpoint at `height` on `h`'s main chain. */
function cosign(
  h: Awaited<ReturnType<typeof openHarness>>,
  w: Witness,
  i: number,
  height: number,
): Uint8Array {
  const e = h.chain.getEntryAt(height)!;
  const text = formatCheckpoint({ origin: w.origin, height, hash: e.hash, chainWork: e.chainWork });
  return encodeCosignature(keys[i]!, text, signNoteText(text, keys[i]!));
}

/** The same message with one character of its signature changed: it parses, it does not verify. */
function spoil(m: Uint8Array): Uint8Array {
  const s = new TextDecoder().decode(m);
  const at = s.length - 12; // inside the signature's base64, clear of its padding
  return new TextEncoder().encode(`${s.slice(0, at)}${s[at] === "A" ? "B" : "A"}${s.slice(at + 1)}`);
}

describe("witness: bursts and redundant cosignatures", () => {
  const blocks = makeChain(regtest, 12, { miner: "team" }).slice(1);

  it("signs a burst once per interval, at its latest tip, and a block alone at once", async () => {
    await withWitness(INTERVAL, async (w, h) => {
      for (const b of blocks.slice(0, 10)) await h.chain.processBlock(b);
      // The first signable tip (height 2) was signed at once; the other nine wait for the interval.
      assert.equal(w.counts.signed, 1);
      assert.equal(w.view().latest?.height, 1);
      await waitFor(() => w.counts.signed === 2, { what: "the burst's one trailing signature" });
      assert.equal(w.view().latest?.height, 9, "the latest tip's checkpoint, not each block's");
      await sleep(INTERVAL + 50);
      await h.chain.processBlock(blocks[10]!);
      assert.equal(w.counts.signed, 3, "a block after a quiet interval is signed within processBlock");
      assert.equal(w.view().latest?.height, 10);
    });
  });

  it("with interval 0, signs at every tip", async () => {
    await withWitness(0, async (w, h) => {
      for (const b of blocks.slice(0, 10)) await h.chain.processBlock(b);
      assert.equal(w.counts.signed, 9);
    });
  });

  it("checks a peer's signature only when it would count", async () => {
    await withWitness(0, async (w, h) => {
      for (const b of blocks.slice(0, 6)) await h.chain.processBlock(b);
      // A forged signature of a checkpoint this node holds, from a witness it has no signature of yet.
      const good = cosign(h, w, 1, 5);
      const v = w.receive(spoil(good));
      assert.equal(v.verdict, "reject");
      assert.match(v.verdict === "reject" ? v.reason : "", /FORGED/);
      assert.equal(v.verdict === "reject" && v.penalty, FORGED_COSIGN_PENALTY);
      assert.equal(w.counts.forged, 1);
      assert.equal(w.receive(good).verdict, "accept");
      await waitFor(() => h.chain.finalCheckpoint?.height === 5, { what: "height 5 final" });
      // Held already: the same signer's message again, even spoiled, is ignored unchecked and unpenalised.
      assert.equal(w.receive(good).verdict, "ignore");
      assert.equal(w.receive(spoil(good)).verdict, "ignore");
      // Below the final checkpoint: changes nothing, ignored unchecked.
      assert.equal(w.receive(spoil(cosign(h, w, 2, 3))).verdict, "ignore");
      assert.equal(w.counts.forged, 1);
      // The third witness's signature of the final checkpoint itself still counts (and is checked).
      assert.equal(w.receive(spoil(cosign(h, w, 2, 5))).verdict, "reject");
      assert.equal(w.receive(cosign(h, w, 2, 5)).verdict, "accept");
      assert.deepEqual(
        w
          .view()
          .latest?.signers.map((s) => s.name)
          .sort(),
        ["team-1", "team-2", "team-3"],
      );
    });
  });

  it("a quorum reached after the chain closed is dropped, not a crash", async () => {
    await withWitness(0, async (w, h) => {
      for (const b of blocks.slice(0, 4)) await h.chain.processBlock(b);
      const late = cosign(h, w, 1, 3);
      await h.chain.close();
      // Before, chain.finalize's rejection went unhandled and ended the process.
      assert.equal(w.receive(late).verdict, "accept");
      await sleep(50);
      assert.equal(w.counts.finalized, 0);
      await h.restart();
    });
  });
});
