/**
 * Attack: a peer abusing compact blocks (docs/security.md, "Compact blocks"). Real libp2p nodes on
 * 127.0.0.1 with LevelDB chains: the victim V relays compact blocks; the attacker M is a real node that
 * pushes crafted announcements from its own libp2p and answers getblocktxn with handlers of its own, while
 * its /jbc/blocks server stays honest (the full block V falls back to). V is unsubscribed from the block
 * topic so that M's full-block gossip does not reach it.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { Stream } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import type { Block } from "../../src/consensus/block.ts";
import { sha256d } from "../../src/consensus/hash.ts";
import { encodeHeader, hexToHash } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import { encodeRecord } from "../../src/consensus/records.ts";
import { Mempool } from "../../src/mempool/index.ts";
import {
  AnnounceType,
  BLOCKTXN_PROTOCOL,
  CMPCT_PROTOCOL,
  encodeBlockTxn,
  encodeCompact,
  encodeRequest,
  shortId,
  shortIdKey,
} from "../../src/net/compact/codec.ts";
import { makeCompact } from "../../src/net/compact/reconstruct.ts";
import type { NetworkLimits } from "../../src/net/options.ts";
import { encodeFrames, FrameReader, sendAll } from "../../src/net/protocols.ts";
import { buildChain, dataRecords, startNode, type TestNode, waitFor } from "../helpers/net.ts";

const running = new Set<TestNode>();
after(async () => {
  await Promise.all([...running].map((n) => n.stop()));
});

interface Pair {
  m: TestNode;
  v: TestNode;
  pool: Mempool;
  block: Block;
}

async function pair(limits: Partial<NetworkLimits> = {}): Promise<Pair> {
  const m = await startNode(regtest, { compactBlocks: false });
  running.add(m);
  const pool = new Mempool({ params: regtest, isConfirmed: () => false });
  const v = await startNode(regtest, { peers: [m.net.multiaddrs()[0]!], mempool: pool, limits });
  running.add(v);
  await waitFor(() => v.net.getPeers().length === 1 && m.net.getPeers().length === 1, 5_000, "join");
  v.net.libp2p.services.pubsub.unsubscribe(v.net.topic);
  await waitFor(
    () => m.net.libp2p.services.pubsub.getSubscribers(m.net.topic).length === 0,
    5_000,
    "victim off the block topic",
  );
  const [block] = buildChain(regtest, 1, regtest.genesis, { records: (h) => dataRecords(h, 20, 80) });
  await m.tc.chain.processBlock(block!);
  return { m, v, pool, block: block! };
}

const scoreOf = (p: Pair): number => p.v.net.getPeers().find((x) => x.peerId === p.m.net.peerId)?.score ?? -1;

/** M pushes one announcement frame to V; a push V cuts off is fine. */
async function push(p: Pair, payload: Uint8Array): Promise<void> {
  const stream = await p.m.net.libp2p.dialProtocol(peerIdFromString(p.v.net.peerId), CMPCT_PROTOCOL);
  try {
    await sendAll(stream, encodeFrames([payload]));
    await stream.close();
  } catch {
    // The victim aborted the stream: what an oversized frame deserves.
  }
}

const cmpct = (bytes: Uint8Array): Uint8Array => Uint8Array.of(AnnounceType.CMPCTBLOCK, ...bytes);

/** Replaces M's getblocktxn handler with `answer` (which writes to the stream, or never does). */
async function answerWith(p: Pair, answer: (stream: Stream) => Promise<void>): Promise<void> {
  await p.m.net.libp2p.handle(BLOCKTXN_PROTOCOL, async (stream) => {
    await new FrameReader(stream).next(64 * 1024);
    await answer(stream);
  });
}

describe("compact blocks under attack", () => {
  it("an announcement of 100,000 short ids is refused before it is read, with a penalty", async () => {
    const p = await pair();
    const frame = new Uint8Array(1 + 90 + 6 * 100_000);
    frame[0] = AnnounceType.CMPCTBLOCK;
    frame.set(encodeHeader(p.block.header), 1);
    new DataView(frame.buffer).setUint16(89, 0xffff, true);
    await push(p, frame);
    await waitFor(() => scoreOf(p) === 50, 5_000, "OVERSIZED penalty");
    assert.equal(p.v.tc.chain.tip.height, 0);
  });

  it("an announcement with a repeated short id is refused with a penalty", async () => {
    const p = await pair();
    const c = makeCompact(p.block);
    c.shortIds[5] = c.shortIds[2]!;
    await push(p, cmpct(encodeCompact(c)));
    await waitFor(() => scoreOf(p) === 50, 5_000, "MALFORMED penalty");
    assert.equal(p.v.tc.chain.tip.height, 0);
  });

  it("a getblocktxn for indexes out of the block's range costs the asker", async () => {
    const p = await pair();
    const stream = await p.m.net.libp2p.dialProtocol(peerIdFromString(p.v.net.peerId), BLOCKTXN_PROTOCOL);
    const genesis = hexToHash(regtest.genesisHash);
    await sendAll(
      stream,
      encodeFrames([encodeRequest({ type: "getblocktxn", hash: genesis, indexes: [1, 9] })]),
    );
    await stream.close();
    await waitFor(() => scoreOf(p) === 50, 5_000, "penalty at the server");
    assert.equal(await new FrameReader(stream).next(1024).catch(() => null), null, "no answer");
  });

  it("a blocktxn with records other than those asked for is penalised, then the full block is fetched", async () => {
    const p = await pair();
    const c = makeCompact(p.block);
    await answerWith(p, async (stream) => {
      const recs = p.block.records.slice(2).map((r) => encodeRecord(r)); // shifted by one, one short
      recs.push(encodeRecord(p.block.records[1]!));
      await sendAll(stream, encodeFrames([encodeBlockTxn(sha256d(c.header), recs)]));
      await stream.close();
    });
    await push(p, cmpct(encodeCompact(c)));
    await waitFor(() => p.v.tc.chain.tip.height === 1, 10_000, "full block after the bad blocktxn");
    assert.equal(scoreOf(p), 50);
  });

  it("a sender that never answers getblocktxn times out, then the full block is fetched", async () => {
    const p = await pair({ compactTimeoutMs: 500 });
    await answerWith(p, () => new Promise<void>(() => {}));
    await push(p, cmpct(encodeCompact(makeCompact(p.block))));
    await waitFor(() => p.v.tc.chain.tip.height === 1, 10_000, "full block after the timeout");
    assert.equal(scoreOf(p), 5);
  });

  it("a short-id collision falls back to the full block without a penalty", async () => {
    const p = await pair();
    const [other] = buildChain(regtest, 1, regtest.genesis, {
      miner: "other",
      records: (h) => dataRecords(h + 7, 5, 90),
    });
    const intruder = other!.records[1]!;
    for (const [i, rec] of p.block.records.entries())
      if (i > 0 && i !== 4) await p.pool.admit(rec, { kind: "api" });
    assert.ok((await p.pool.admit(intruder, { kind: "api" })).ok);
    let asked = 0;
    await answerWith(p, async (stream) => {
      asked++;
      stream.abort(new Error("not expected"));
    });
    const nonce = 99n;
    const c = makeCompact(p.block, () => nonce);
    // Under this key the pending intruder's short id is record 4's: the pool's record stands in for it.
    c.shortIds[3] = shortId(shortIdKey(c.header, nonce), sha256d(encodeRecord(intruder)));
    await push(p, cmpct(encodeCompact(c)));
    await waitFor(() => p.v.tc.chain.tip.height === 1, 10_000, "full block after the collision");
    assert.equal(asked, 0, "every short id matched a pending record: the merkle root caught the collision");
    assert.equal(scoreOf(p), 0);
  });
});
