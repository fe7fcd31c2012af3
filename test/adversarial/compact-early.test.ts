/**
 * Attack: blocks pushed as compact blocks to be relayed before they are validated (docs/security.md,
 * "Compact blocks"). A node passes a pushed block on to its high-bandwidth peers once it is rebuilt, if it
 * extends the tip and passes every check before the connect (BIP 152's exception, Bitcoin Core's
 * NewPoWValidBlock after AcceptBlock's checks). What a bad block gets its sender, and whom it costs:
 * - failing only a rule of the connect (here a record the chain already holds: DUPLICATE_RECORD), it
 *   crosses one hop ahead of its validation; nobody who was asked for its pushes is penalised, every
 *   node refuses it, and a repeat is not relayed again;
 * - the same block from a peer nobody asked for pushes costs that peer the full penalty;
 * - failing a check before the connect (the miner record's height), it is relayed nowhere and costs its
 *   sender the full penalty, and so does a body fetched after a HEADER announcement;
 * - a block that does not extend the tip is relayed nowhere.
 * Real libp2p nodes on 127.0.0.1 with LevelDB chains and mempools: M feeds B (each chose the other for
 * high-bandwidth mode as they joined); C dials only B and chose it. M pushes frames from its own libp2p.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { peerIdFromString } from "@libp2p/peer-id";
import type { Block } from "../../src/consensus/block.ts";
import { regtest } from "../../src/consensus/params.ts";
import type { BlockRecord } from "../../src/consensus/records.ts";
import { Mempool } from "../../src/mempool/index.ts";
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
  dataRecords,
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
  /** Peers B banned (`peer:banned`). */
  banned: string[];
  /** The common chain of 2 blocks all three hold; block 1 carries `held`. */
  chain: Block[];
  /** A record confirmed in block 1, pending again in B's and C's pools (their pools do not ask). */
  held: BlockRecord;
}

/** M ⇄ B → C, all on the same 2 blocks, in high-bandwidth mode where they dial. */
async function line(): Promise<Line> {
  const pools = [0, 1].map(() => new Mempool({ params: regtest, isConfirmed: () => false }));
  const m = await start();
  const b = await start({ peers: [addrOf(m)], mempool: pools[0]! });
  const c = await start({ peers: [addrOf(b)], mempool: pools[1]! });
  const chain = buildChain(regtest, 2, regtest.genesis, { records: (h) => dataRecords(h, 2, 80) });
  const held = chain[0]!.records[1]!;
  // Imported everywhere (gossip may bring a block first: a duplicate then).
  for (const blk of chain) for (const n of [m, b, c]) await n.tc.chain.processBlock(blk);
  for (const n of [m, b, c]) assert.equal(n.tc.chain.tip.hash, hashOf(chain[1]!));
  for (const p of pools) assert.ok((await p.admit(held, { kind: "api" })).ok);
  await waitFor(
    () =>
      b.net.compactRelay?.pushingTo.has(c.net.peerId) === true &&
      b.net.compactRelay.highBandwidth.includes(m.net.peerId) &&
      c.net.compactRelay?.highBandwidth.includes(b.net.peerId) === true,
    10_000,
    "B chose M, C chose B",
  );
  const refused = { b: [] as string[], c: [] as string[] };
  b.tc.chain.on("invalid", (e) => refused.b.push(e.hash));
  c.tc.chain.on("invalid", (e) => refused.c.push(e.hash));
  const banned: string[] = [];
  b.net.on("peer:banned", (e) => banned.push(e.peerId));
  return { m, b, c, refused, banned, chain, held };
}

/** A node without compact relay, joined to B only: B never asked it for pushes. */
async function outsider(l: Line): Promise<TestNode> {
  const o = await start({ compactBlocks: false, peers: [addrOf(l.b)] });
  await waitFor(() => l.b.net.getPeers().some((p) => p.peerId === o.net.peerId), 10_000, "joined B");
  return o;
}

/** `from` writes one announcement frame to B on a stream of its own. */
async function push(from: TestNode, l: Line, frame: Uint8Array): Promise<void> {
  const stream = await from.net.libp2p.dialProtocol(peerIdFromString(l.b.net.peerId), CMPCT_PROTOCOL);
  await sendAll(stream, encodeFrames([frame]));
  await stream.close();
}

/** A block on the tip that carries a record block 1 confirmed: it fails only at the connect. */
const duplicate = (l: Line): Block => makeChild(l.chain[1]!, regtest, { miner: "forger", records: [l.held] });

/** A block on `parent` with the wrong height in its miner record: it fails before the connect. */
const badHeight = (parent: Block): Block => makeChild(parent, regtest, { height: 99, miner: "forger" });

const cmpctFrame = (block: Block): Uint8Array =>
  Uint8Array.of(AnnounceType.CMPCTBLOCK, ...encodeCompact(makeCompact(block)));

/** B's verdicts on compact blocks, as `verdict:code`. */
function verdicts(n: TestNode): string[] {
  const out: string[] = [];
  n.net.on("gossip", (e) => {
    if (e.topic === "cmpct" && e.direction === "in") out.push(`${e.verdict}:${e.code}`);
  });
  return out;
}

describe("compact blocks relayed before validation", () => {
  it("a pushed block that fails only at the connect crosses one hop ahead of its validation, without penalties", async () => {
    const l = await line();
    const bad = duplicate(l);
    await push(l.m, l, cmpctFrame(bad));
    await waitFor(() => l.refused.b.includes(hashOf(bad)), 10_000, "B refuses the block");
    await waitFor(() => l.refused.c.includes(hashOf(bad)), 10_000, "C got it from B, and refuses it");
    assert.equal(scoreOf(l.b, l.m), 0, "B does not penalise M, which it asked for pushes");
    assert.equal(scoreOf(l.c, l.b), 0, "C does not penalise B");
    for (const n of [l.b, l.c])
      assert.equal(n.tc.chain.tip.hash, hashOf(l.chain[1]!), "the tip is unchanged");
    // The same block again: B knows it (stored as invalid), so it costs a hash and goes nowhere.
    const seen = verdicts(l.b);
    await push(l.m, l, cmpctFrame(bad));
    await sleep(500);
    assert.deepEqual(seen, [], "skipped as known");
    assert.equal(l.b.tc.chain.getEntry(hashOf(bad))?.status, "invalid");
    assert.deepEqual(l.refused.c, [hashOf(bad)], "C saw the block once");
    assert.deepEqual(l.banned, []);
  });

  it("the same block from a peer nobody asked for pushes costs it the full penalty", async () => {
    const l = await line();
    const o = await outsider(l);
    const bad = duplicate(l);
    await push(o, l, cmpctFrame(bad));
    await waitFor(() => l.banned.includes(o.net.peerId), 10_000, "the outsider banned (penalty 100)");
    await waitFor(
      () => l.refused.c.includes(hashOf(bad)),
      10_000,
      "B relayed it before validation all the same",
    );
    assert.equal(scoreOf(l.c, l.b), 0, "C does not penalise B, which it asked for pushes");
  });

  it("a pushed block that fails before the connect is relayed nowhere and costs its sender in full", async () => {
    const l = await line();
    const bad = badHeight(l.chain[1]!);
    await push(l.m, l, cmpctFrame(bad));
    await waitFor(() => l.refused.b.includes(hashOf(bad)), 10_000, "B refuses the block");
    await waitFor(() => l.banned.includes(l.m.net.peerId), 5_000, "M banned (penalty 100)");
    await sleep(500);
    assert.deepEqual(l.refused.c, [], "C never saw it");
  });

  it("a body fetched after a HEADER announcement costs the announcer in full, and is not relayed", async () => {
    const l = await line();
    const o = await outsider(l);
    const bad = duplicate(l);
    // The outsider answers B's getcmpct for the header it announces with the compact block.
    await o.net.libp2p.handle(BLOCKTXN_PROTOCOL, async (stream) => {
      await new FrameReader(stream).next(1024);
      await sendAll(stream, encodeFrames([encodeCompact(makeCompact(bad))]));
      await stream.close();
    });
    await push(o, l, Uint8Array.of(AnnounceType.HEADER, ...headerBytes(bad)));
    await waitFor(() => l.refused.b.includes(hashOf(bad)), 10_000, "B refuses the block");
    await waitFor(() => l.banned.includes(o.net.peerId), 5_000, "the announcer banned (penalty 100)");
    await sleep(500);
    assert.deepEqual(l.refused.c, [], "C never saw it");
  });

  it("a pushed block that does not extend the tip is relayed nowhere", async () => {
    const l = await line();
    const sibling = badHeight(l.chain[0]!); // a sibling of the tip: its body is never looked at
    const judged = verdicts(l.b);
    await push(l.m, l, cmpctFrame(sibling));
    await waitFor(() => judged.length === 1, 10_000, "B judged the block");
    await sleep(500);
    assert.equal(l.c.tc.chain.getEntry(hashOf(sibling)), undefined, "C never saw it");
    assert.deepEqual(l.refused.c, []);
  });

  it("a valid pushed block reaches the next node once, and the tip moves everywhere", async () => {
    const l = await line();
    const [next] = buildChain(regtest, 1, l.chain[1]!);
    const atC = verdicts(l.c);
    await push(l.m, l, cmpctFrame(next!));
    for (const n of [l.b, l.c])
      await waitFor(() => n.tc.chain.tip.hash === hashOf(next!), 10_000, "the block on every tip");
    await sleep(300);
    assert.deepEqual(atC, ["accept:undefined"], "C processed one compact block");
    assert.equal(scoreOf(l.b, l.m), 0);
    assert.equal(scoreOf(l.c, l.b), 0);
  });
});
