/**
 * A server answers one peer's block requests one at a time, in the order their streams opened
 * (src/net/reqresp/blocks.ts): a sync's pipelined requests end one after the other, lowest heights first.
 * Real libp2p and LevelDB on loopback. Each answer is read up to its terminator, as the sync client does.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { peerIdFromString } from "@libp2p/peer-id";
import { hexToHash } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import {
  BLOCKS_SKIP_PROTOCOL,
  encodeBlocksRequest,
  encodeFrames,
  FrameReader,
} from "../../src/net/protocols.ts";
import {
  addrOf,
  buildChain,
  dataRecords,
  importBlocks,
  startNode,
  type TestNode,
  waitFor,
} from "../helpers/net.ts";

const running: TestNode[] = [];
after(async () => {
  await Promise.all(running.map((n) => n.stop()));
});

describe("block server", () => {
  it("answers one peer's requests in the order asked, each after the one before", {
    timeout: 60_000,
  }, async () => {
    // 240 blocks of about 20 KB: three answers of 80 blocks (1.6 MB each), long enough to interleave if
    // they were sent side by side.
    const blocks = buildChain(regtest, 240, regtest.genesis, { records: (h) => dataRecords(h, 40, 480) });
    const server = await startNode(regtest, { limits: { blockRequestBurst: 100 } });
    running.push(server);
    await importBlocks(server.tc.chain, blocks);
    const client = await startNode(regtest, { peers: [addrOf(server)] });
    running.push(client);
    // The client syncs by itself once it sees the server's work: our streams go once that is over.
    await waitFor(() => client.tc.chain.height === 240, 20_000, "client synced");
    const conn = await client.net.libp2p.dial(peerIdFromString(server.net.peerId));
    const genesis = hexToHash(regtest.genesisHash);
    const streams = [];
    for (const skip of [0, 80, 160]) {
      const s = await conn.newStream(BLOCKS_SKIP_PROTOCOL);
      s.send(encodeFrames([encodeBlocksRequest({ locator: [genesis], max: 80, skip }, 2)]));
      streams.push(s);
    }
    // When each answer's first and last bytes came.
    const times = await Promise.all(
      streams.map(async (s) => {
        await s.close();
        // Frames up to the empty terminator (the answer's end, as the sync client reads it).
        const reader = new FrameReader(s);
        let first = 0;
        let bytes = 0;
        for (;;) {
          const frame = await reader.next(regtest.maxBlockSize);
          first ||= performance.now();
          if (!frame?.length) break;
          bytes += frame.length;
        }
        return { first, last: performance.now(), bytes };
      }),
    );
    for (const t of times) assert.ok(t.bytes > 1_000_000, `a full answer (${t.bytes} bytes)`);
    for (let i = 1; i < times.length; i++)
      assert.ok(
        times[i]!.first >= times[i - 1]!.last,
        `answer ${i} began after answer ${i - 1} ended (${(times[i]!.first - times[i - 1]!.last).toFixed(1)} ms)`,
      );
  });
});
