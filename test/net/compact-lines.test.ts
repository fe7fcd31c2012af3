/**
 * Long-lived request streams (src/net/compact/lines.ts) between two real libp2p nodes on 127.0.0.1:
 * requests in flight together are answered in order on one stream; a request answered late fails with
 * TIMEOUT, the ones behind it fail without blame, and the next request opens a new stream; a line closed
 * because its peer left never opens a stream again (which would dial the peer back). The server is
 * a handler of the test's own on a test protocol, so it can be made to hold an answer back.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Stream } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { regtest } from "../../src/consensus/params.ts";
import { RequestLine } from "../../src/net/compact/lines.ts";
import { encodeFrames, FrameReader, ProtocolError, sendAll } from "../../src/net/protocols.ts";
import { addrOf, nodeStarter, waitFor } from "../helpers/net.ts";

const start = nodeStarter(regtest);
const PROTOCOL = "/jbc-test/lines/1";

/** Two joined nodes; `server` answers each request frame [n] with [n, n] after `delayOf(n)` ms. */
async function setup(delayOf: (n: number) => number) {
  const a = await start();
  const b = await start({ peers: [addrOf(a)] });
  await waitFor(() => a.net.getPeers().length === 1 && b.net.getPeers().length === 1, 5_000, "join");
  let streams = 0;
  await a.net.libp2p.handle(PROTOCOL, async (stream: Stream) => {
    streams++;
    const reader = new FrameReader(stream);
    try {
      for (let f = await reader.next(16); f !== null; f = await reader.next(16)) {
        const n = f[0]!;
        await new Promise((r) => setTimeout(r, delayOf(n)));
        await sendAll(stream, encodeFrames([Uint8Array.of(n, n)]));
      }
    } catch {
      // the asker reset the stream
    }
  });
  const line = new RequestLine(b.net.libp2p, peerIdFromString(a.net.peerId), PROTOCOL, 5_000);
  return { line, streams: () => streams };
}

const ask = (line: RequestLine, n: number, ms = 2_000): Promise<Uint8Array> =>
  line.request(Uint8Array.of(n), { maxAnswer: 16, ms });

describe("request lines", () => {
  it("answers requests in flight together in order, on one stream", async () => {
    const { line, streams } = await setup((n) => (n === 1 ? 100 : 0));
    const answers = await Promise.all([1, 2, 3, 4].map((n) => ask(line, n)));
    assert.deepEqual(
      answers.map((a) => [...a]),
      [
        [1, 1],
        [2, 2],
        [3, 3],
        [4, 4],
      ],
    );
    assert.deepEqual([...(await ask(line, 5))], [5, 5]);
    assert.equal(line.line.opened, 1);
    assert.equal(streams(), 1);
  });

  it("a late answer is a TIMEOUT; the requests behind it fail without blame; the next opens a new stream", async () => {
    const { line, streams } = await setup((n) => (n === 2 ? 5_000 : 0));
    assert.deepEqual([...(await ask(line, 1))], [1, 1]);
    const late = ask(line, 2, 300);
    const behind = ask(line, 3, 2_000);
    await assert.rejects(late, (err: unknown) => err instanceof ProtocolError && err.offence === "TIMEOUT");
    await assert.rejects(behind, (err: unknown) => err instanceof Error && !(err instanceof ProtocolError));
    assert.deepEqual([...(await ask(line, 4))], [4, 4]);
    assert.equal(line.line.opened, 2);
    assert.equal(streams(), 2);
  });

  it("a closed line (its peer left) fails at once and opens no stream again", async () => {
    const { line, streams } = await setup(() => 0);
    assert.deepEqual([...(await ask(line, 1))], [1, 1]);
    line.close();
    await assert.rejects(ask(line, 2), /line closed/);
    assert.equal(line.line.opened, 1);
    assert.equal(streams(), 1);
  });
});
