/**
 * /jbc/headers/1 between real libp2p nodes: a peer gets main-chain headers after its locator, bounded
 * by its count; malformed, oversized and too frequent requests cost the sender its penalty; an answer
 * that does not connect or does not follow itself costs the server its own. /jbc/headers/2 (issue 21)
 * serves the same past a skip.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { peerIdFromString } from "@libp2p/peer-id";
import { encodeHeader, hexToHash } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import { LightClient } from "../../src/light/index.ts";
import { HEADERS_PROTOCOL, type PeerInfo, PROTOCOL_PENALTY } from "../../src/net/index.ts";
import { encodeFrames, ProtocolError } from "../../src/net/protocols.ts";
import { decodeHeadersRequest, encodeHeadersRequest, fetchHeaders } from "../../src/net/reqresp/headers.ts";
import { addrOf, buildChain, importBlocks, nodeStarter, type TestNode, waitFor } from "../helpers/net.ts";

const node = nodeStarter(regtest);
const peerOf = (n: TestNode, id: string): PeerInfo | undefined =>
  n.net.getPeers().find((p) => p.peerId === id);
const genesis = hexToHash(regtest.genesisHash);

describe("/jbc/headers/1", () => {
  it("serves main-chain headers after the locator, and a light client takes them", async () => {
    const r = await node();
    const chain = buildChain(regtest, 40);
    await importBlocks(r.tc.chain, chain);
    const s = await node({ peers: [addrOf(r)] });
    await waitFor(() => s.net.getPeers().length === 1, 5_000, "joined");
    const all = await s.net.fetchHeaders(r.net.peerId, [genesis], 2000);
    assert.equal(all.length, 40);
    assert.deepEqual(all[39], encodeHeader(chain[39]!.header));
    const light = new LightClient(regtest);
    assert.equal(light.add(r.net.peerId, all, { from: 1 }).added, 40);
    assert.equal(light.best.hash, r.tc.chain.tip.hash);
    // After a locator of the requester's own (block 30 first): the 10 that follow, bounded by max.
    const locator = [hexToHash(r.tc.chain.getEntryAt(30)!.hash), genesis];
    const some = await s.net.fetchHeaders(r.net.peerId, locator, 4);
    assert.deepEqual(
      some,
      chain.slice(30, 34).map((b) => encodeHeader(b.header)),
    );
    const none = await s.net.fetchHeaders(r.net.peerId, [hexToHash(r.tc.chain.tip.hash)], 10);
    assert.deepEqual(none, []);
    assert.equal(peerOf(r, s.net.peerId)?.score, 0);
  });

  it("/2 serves the headers past a skip; its request is /1's with a u32 skip after max", async () => {
    const r = await node();
    const chain = buildChain(regtest, 40);
    await importBlocks(r.tc.chain, chain);
    const s = await node({ peers: [addrOf(r)] });
    await waitFor(() => s.net.getPeers().length === 1, 5_000, "joined");
    const rid = peerIdFromString(r.net.peerId);
    const limits = { requestTimeoutMs: 5_000 };
    // Heights 26..30: 25 past the fork point (genesis). The first follows no locator hash: not refused.
    const past = await fetchHeaders(s.net.libp2p, rid, [genesis], 5, limits, 25);
    assert.deepEqual(
      past,
      chain.slice(25, 30).map((b) => encodeHeader(b.header)),
    );
    assert.deepEqual(await fetchHeaders(s.net.libp2p, rid, [genesis], 5, limits, 40), []);
    const v2 = encodeHeadersRequest({ locator: [genesis], max: 7, skip: 300 }, 2);
    assert.equal(v2.length, 3 + 32 + 4);
    assert.equal(new DataView(v2.buffer).getUint32(35, true), 300);
    assert.deepEqual(decodeHeadersRequest(v2, 2), { locator: [genesis], max: 7, skip: 300 });
    assert.throws(() => decodeHeadersRequest(v2, 1), ProtocolError);
    assert.throws(() => encodeHeadersRequest({ locator: [genesis], max: 7, skip: 1 }, 1), RangeError);
    assert.equal(peerOf(r, s.net.peerId)?.score, 0);
  });

  it("penalises malformed, oversized and too frequent header requests", async () => {
    const r = await node({ limits: { blockRequestBurst: 2, blockRequestsPerSec: 0.001 } });
    const s1 = await node({ peers: [addrOf(r)] });
    const s2 = await node({ peers: [addrOf(r)] });
    await waitFor(() => r.net.getPeers().length === 2, 5_000, "both joined");
    const rid = peerIdFromString(r.net.peerId);
    const ask = async (from: TestNode, bytes: Uint8Array): Promise<void> => {
      try {
        const stream = await from.net.libp2p.dialProtocol(rid, HEADERS_PROTOCOL);
        stream.send(bytes);
        await stream.close();
        for await (const _ of stream);
      } catch {
        // The server resets streams it refuses.
      }
    };
    const score = (n: TestNode): number => peerOf(r, n.net.peerId)?.score ?? -1;
    await ask(s1, encodeFrames([new Uint8Array([1, 2, 3])]));
    await waitFor(() => score(s1) === PROTOCOL_PENALTY.MALFORMED, 5_000, "MALFORMED penalty");
    const oversized = new Uint8Array(8);
    new DataView(oversized.buffer).setUint32(0, 1_000_000, true);
    await ask(s1, oversized);
    await waitFor(() => score(s1) === -1 || score(s1) >= 100, 5_000, "OVERSIZED penalty and a ban");
    const valid = encodeFrames([encodeHeadersRequest({ locator: [genesis], max: 10 })]);
    await ask(s2, valid);
    await ask(s2, valid);
    assert.equal(score(s2), 0, "within the burst");
    await ask(s2, valid);
    await waitFor(() => score(s2) === PROTOCOL_PENALTY.RATE_LIMIT, 5_000, "RATE_LIMIT penalty");
    assert.throws(() => encodeHeadersRequest({ locator: [genesis], max: 2001 }), RangeError);
  });

  it("a server whose answer does not connect to the locator pays UNCONNECTED", async () => {
    const liar = await node();
    await importBlocks(liar.tc.chain, buildChain(regtest, 5));
    const s = await node({ peers: [addrOf(liar)] });
    await waitFor(() => s.net.getPeers().length === 1, 5_000, "joined");
    // A locator without genesis that the liar does not know: it answers from genesis, which the
    // requester did not name. (An honest jbc node's locators always end with genesis.)
    const unknown = new Uint8Array(32).fill(7);
    await assert.rejects(s.net.fetchHeaders(liar.net.peerId, [unknown], 10), ProtocolError);
    assert.equal(peerOf(s, liar.net.peerId)?.score, PROTOCOL_PENALTY.UNCONNECTED);
  });
});
