/**
 * Misbehaving sync peers for the headers-first tests: a real P2PNetwork (test/helpers/net.ts) whose block,
 * header or status handlers are swapped for ones that stall, send other bodies, other headers or a claim of
 * more work. Everything else about the node (libp2p, its chain on LevelDB, gossip) is the real thing.
 */
import type { Stream } from "@libp2p/interface";
import { encodeHeader, hashToHex } from "../../src/consensus/header.ts";
import { HEADERS_PROTOCOL } from "../../src/net/index.ts";
import {
  BLOCKS_PROTOCOL,
  BLOCKS_SKIP_PROTOCOL,
  decodeBlocksRequest,
  encodeFrames,
  FrameReader,
  MAX_BLOCKS_REQUEST_SIZE,
  STATUS_PROTOCOL,
  type Status,
  sendAll,
} from "../../src/net/protocols.ts";
import {
  decodeHeadersRequest,
  HEADERS_SKIP_PROTOCOL,
  MAX_HEADERS_REQUEST_SIZE,
} from "../../src/net/reqresp/headers.ts";
import { answerStatus } from "../../src/net/reqresp/status.ts";
import type { TestNode } from "./net.ts";

/** What a swapped block handler does with a request for `count` main-chain blocks from `from`. */
export type BlockAnswer = (blocks: Uint8Array[], from: number) => Promise<Uint8Array[] | "stall">;

/** Counts of what a swapped handler was asked. */
export interface Asked {
  blockRequests: number;
}

/** Swaps `n`'s block handlers (/1 and /2) for `answer`; returns the count of block requests it got. */
export async function serveBlocksWith(n: TestNode, answer: BlockAnswer): Promise<Asked> {
  const asked: Asked = { blockRequests: 0 };
  const chain = n.tc.chain;
  for (const [proto, version] of [
    [BLOCKS_PROTOCOL, 1],
    [BLOCKS_SKIP_PROTOCOL, 2],
  ] as const) {
    await n.net.libp2p.unhandle(proto);
    await n.net.libp2p.handle(proto, async (stream: Stream) => {
      asked.blockRequests++;
      const payload = await new FrameReader(stream).next(MAX_BLOCKS_REQUEST_SIZE);
      const req = decodeBlocksRequest(payload!, version);
      const from = chain.findFork(req.locator.map(hashToHex)).height + 1 + (req.skip ?? 0);
      const count = Math.max(0, Math.min(req.max, chain.height - from + 1));
      const out = await answer(await chain.getMainBlocks(from, count), from);
      if (out === "stall") {
        // Never answer: hold the stream until the requester gives up or the node stops.
        await new Promise((r) => setTimeout(r, 60_000).unref());
        stream.abort(new Error("stalled on purpose"));
        return;
      }
      await sendAll(stream, encodeFrames([...out, new Uint8Array(0)]));
      await stream.close();
    });
  }
  return asked;
}

/**
 * Swaps `n`'s header handler for one that answers every request with `headers` (headers[i] at height i + 1)
 * after the locator's fork on `n`'s chain; returns the count of header requests it got.
 */
export async function serveHeadersWith(
  n: TestNode,
  headers: readonly Uint8Array[],
): Promise<{ headerRequests: number }> {
  const asked = { headerRequests: 0 };
  await n.net.libp2p.unhandle(HEADERS_PROTOCOL);
  await n.net.libp2p.handle(HEADERS_PROTOCOL, async (stream: Stream) => {
    asked.headerRequests++;
    const req = decodeHeadersRequest((await new FrameReader(stream).next(MAX_HEADERS_REQUEST_SIZE))!);
    const fork = n.tc.chain.findFork(req.locator.map(hashToHex)).height;
    const out = headers.slice(fork, fork + req.max); // headers[i] is the header at height i + 1
    const frame = new Uint8Array(out.length * 80);
    for (const [i, h] of out.entries()) frame.set(h, i * 80);
    await sendAll(stream, encodeFrames([frame]));
    await stream.close();
  });
  return asked;
}

/** Swaps `n`'s status answer for `claim` (a tip and work it need not have). */
export async function claimStatus(n: TestNode, claim: (real: Status) => Status): Promise<void> {
  const tip = n.tc.chain.tip;
  const real: Status = {
    networkId: n.tc.chain.params.networkId,
    genesis: n.tc.chain.getEntryAt(0)!.hashBytes,
    height: tip.height,
    tip: tip.hashBytes,
    work: tip.chainWork,
  };
  await n.net.libp2p.unhandle(STATUS_PROTOCOL);
  await n.net.libp2p.handle(STATUS_PROTOCOL, async (stream: Stream) => {
    await answerStatus(
      stream,
      5_000,
      () => claim(real),
      () => undefined,
    ).catch(() => undefined);
  });
}

/**
 * Swaps `n`'s header handlers (/1 and /2) for ones that serve its own chain's headers, but hold every answer
 * that does not start at height 1 until `gate()` is true (polled every 10 ms, at most `maxMs`); returns what
 * each held answer saw: whether the gate had opened when it was sent.
 */
export async function serveHeadersGated(
  n: TestNode,
  gate: () => boolean,
  maxMs: number,
): Promise<{ held: boolean[] }> {
  const seen = { held: [] as boolean[] };
  const chain = n.tc.chain;
  for (const [proto, version] of [
    [HEADERS_PROTOCOL, 1],
    [HEADERS_SKIP_PROTOCOL, 2],
  ] as const) {
    await n.net.libp2p.unhandle(proto);
    await n.net.libp2p.handle(proto, async (stream: Stream) => {
      const req = decodeHeadersRequest(
        (await new FrameReader(stream).next(MAX_HEADERS_REQUEST_SIZE))!,
        version,
      );
      const from = chain.findFork(req.locator.map(hashToHex)).height + 1 + (req.skip ?? 0);
      if (from > 1) {
        const t0 = performance.now();
        while (!gate() && performance.now() - t0 < maxMs) await new Promise((r) => setTimeout(r, 10));
        seen.held.push(gate());
      }
      const end = Math.min(chain.height + 1, from + req.max);
      const frame = new Uint8Array(Math.max(0, end - from) * 80);
      for (let h = from; h < end; h++) frame.set(encodeHeader(chain.getEntryAt(h)!.header), (h - from) * 80);
      await sendAll(stream, encodeFrames([frame]));
      await stream.close();
    });
  }
  return seen;
}
