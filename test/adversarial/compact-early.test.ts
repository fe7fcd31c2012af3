/**
 * Attack: a block whose header is sound (real proof of work, on the tip) and whose body is not, pushed as
 * a compact block (docs/security.md, "Compact blocks"). Compact relay passes a pushed block that extends
 * the tip on to its high-bandwidth peers before validating it (BIP 152's exception, Bitcoin Core's
 * NewPoWValidBlock), so such a block crosses the network once; what it costs and whom:
 * - it is relayed onward before validation, and nobody is penalised for its body (the relays could not
 *   know), but every node refuses it and remembers its hash as invalid;
 * - announced by header (a node announces headers only after validation), its body costs the announcer the
 *   full penalty, and nothing is relayed;
 * - a pushed block that does not extend the tip is validated first, so nothing of it is relayed.
 * Real libp2p nodes on 127.0.0.1 with LevelDB chains: the attacker M (compact relay off, so it pushes frames
 * from its own libp2p) feeds B; C dials only B and asked B for high-bandwidth mode as it joined.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { peerIdFromString } from "@libp2p/peer-id";
import type { Block } from "../../src/consensus/block.ts";
import { regtest } from "../../src/consensus/params.ts";
import {
  AnnounceType,
  BLOCKTXN_PROTOCOL,
  CMPCT_PROTOCOL,
  encodeCompact,
} from "../../src/net/compact/codec.ts";
import { makeCompact } from "../../src/net/compact/reconstruct.ts";
import { encodeFrames, FrameReader, sendAll } from "../../src/net/protocols.ts";
import { makeChild } from "../helpers/blocks.ts";
import {
  addrOf,
  buildChain,
  hashOf,
  headerBytes,
  nodeStarter,
  scoreOf,
  type TestNode,
  waitFor,
} from "../helpers/net.ts";

const start = nodeStarter(regtest);

interface Line {
  m: TestNode;
  b: TestNode;
  c: TestNode;
  /** Hashes each of B and C refused, by the chain's `invalid` event. */
  refused: { b: string[]; c: string[] };
  /** The common chain of 2 blocks all three hold. */
  chain: Block[];
}

/** M → B → C, all on the same 2 blocks; C in high-bandwidth mode at B. */
async function line(): Promise<Line> {
  const m = await start({ compactBlocks: false });
  const b = await start({ peers: [addrOf(m)] });
  const c = await start({ peers: [addrOf(b)] });
  const chain = buildChain(regtest, 2);
  // Imported everywhere (gossip may bring a block first: a duplicate then).
  for (const blk of chain) for (const n of [m, b, c]) await n.tc.chain.processBlock(blk);
  for (const n of [m, b, c]) assert.equal(n.tc.chain.tip.hash, hashOf(chain[1]!));
  await waitFor(
    () => b.net.getPeers().length === 2 && b.net.compactRelay?.pushingTo.has(c.net.peerId) === true,
    10_000,
    "M and C joined at B, C in high-bandwidth mode",
  );
  const refused = { b: [] as string[], c: [] as string[] };
  b.tc.chain.on("invalid", (e) => refused.b.push(e.hash));
  c.tc.chain.on("invalid", (e) => refused.c.push(e.hash));
  return { m, b, c, refused, chain };
}

/** M writes one announcement frame to B on a stream of its own. */
async function push(l: Line, frame: Uint8Array): Promise<void> {
  const stream = await l.m.net.libp2p.dialProtocol(peerIdFromString(l.b.net.peerId), CMPCT_PROTOCOL);
  await sendAll(stream, encodeFrames([frame]));
  await stream.close();
}

/** A block on `parent` with proof of work and the wrong height in its miner record (BAD_HEIGHT). */
const badBody = (parent: Block): Block => makeChild(parent, regtest, { height: 99, miner: "forger" });

const cmpctFrame = (block: Block): Uint8Array =>
  Uint8Array.of(AnnounceType.CMPCTBLOCK, ...encodeCompact(makeCompact(block)));

describe("compact blocks relayed before validation", () => {
  it("a pushed block with a sound header and a bad body crosses one hop ahead of its validation, without penalties", async () => {
    const l = await line();
    const bad = badBody(l.chain[1]!);
    await push(l, cmpctFrame(bad));
    await waitFor(() => l.refused.b.includes(hashOf(bad)), 10_000, "B refuses the block");
    await waitFor(() => l.refused.c.includes(hashOf(bad)), 10_000, "C got it from B, and refuses it");
    assert.equal(scoreOf(l.b, l.m), 0, "B does not penalise M for a body it could not check before relaying");
    assert.equal(scoreOf(l.c, l.b), 0, "C does not penalise B");
    for (const n of [l.b, l.c])
      assert.equal(n.tc.chain.tip.hash, hashOf(l.chain[1]!), "the tip is unchanged");
    // The same block again: B refuses it from its cache of invalid hashes and relays nothing.
    const verdicts: string[] = [];
    l.b.net.on("gossip", (e) => {
      if (e.topic === "cmpct" && e.direction === "in") verdicts.push(`${e.verdict}:${e.code}`);
    });
    await push(l, cmpctFrame(bad));
    await waitFor(() => verdicts.length === 1, 10_000, "B refuses the repeat");
    assert.deepEqual(verdicts, ["reject:BAD_HEIGHT"]);
    await sleep(500);
    assert.deepEqual(l.refused.c, [hashOf(bad)], "C saw the block once");
  });

  it("the same body announced by header costs the announcer the full penalty, and is not relayed", async () => {
    const l = await line();
    const bad = badBody(l.chain[1]!);
    // M answers B's getcmpct for the header it announces with the compact block.
    await l.m.net.libp2p.handle(BLOCKTXN_PROTOCOL, async (stream) => {
      await new FrameReader(stream).next(1024);
      await sendAll(stream, encodeFrames([encodeCompact(makeCompact(bad))]));
      await stream.close();
    });
    await push(l, Uint8Array.of(AnnounceType.HEADER, ...headerBytes(bad)));
    await waitFor(() => l.refused.b.includes(hashOf(bad)), 10_000, "B refuses the block");
    await waitFor(() => scoreOf(l.b, l.m) === 100, 5_000, "M penalised in full");
    await sleep(500);
    assert.deepEqual(l.refused.c, [], "C never saw it");
    assert.equal(l.c.tc.chain.getEntry(hashOf(bad)), undefined);
  });

  it("a pushed block that does not extend the tip is validated before anything is relayed", async () => {
    const l = await line();
    const bad = badBody(l.chain[0]!); // a sibling of the tip
    let judged = 0;
    l.b.net.on("gossip", (e) => {
      if (e.topic === "cmpct" && e.direction === "in") judged++;
    });
    await push(l, cmpctFrame(bad));
    await waitFor(() => judged === 1, 10_000, "B judged the block");
    await sleep(500);
    assert.equal(l.c.tc.chain.getEntry(hashOf(bad)), undefined, "C never saw it");
    assert.deepEqual(l.refused.c, []);
  });

  it("a valid pushed block reaches the next node once, and the tip moves everywhere", async () => {
    const l = await line();
    const [next] = buildChain(regtest, 1, l.chain[1]!);
    const seen: string[] = [];
    l.c.net.on("gossip", (e) => {
      if (e.topic === "cmpct" && e.direction === "in") seen.push(e.verdict ?? "");
    });
    await push(l, cmpctFrame(next!));
    for (const n of [l.b, l.c])
      await waitFor(() => n.tc.chain.tip.hash === hashOf(next!), 10_000, "the block on every tip");
    await sleep(300);
    assert.deepEqual(seen, ["accept"], "C processed one compact block");
    assert.equal(scoreOf(l.b, l.m), 0);
    assert.equal(scoreOf(l.c, l.b), 0);
  });
});
