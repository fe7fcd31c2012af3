/**
 * Blocks by locator (/jbc/blocks/1, and /2 with a skip, docs/protocol.md). The server answers with
 * main-chain blocks after the locator's fork point (past the first `skip` of them), bounded by count and
 * bytes, and refuses peers above their rate limit; the client paces its own requests below that limit and
 * checks the response's bounds.
 */
import type { Connection, Libp2p, PeerId, Stream } from "@libp2p/interface";
import type { BlockSource, ChainReader } from "../../chain/interfaces.ts";
import { hashToHex } from "../../consensus/header.ts";
import { SkipUnsupportedError } from "../../sync/types.ts";
import { BoundedMap } from "../../util/bounded.ts";
import { TokenBucket } from "../../util/bucket.ts";
import type { NetworkLimits } from "../options.ts";
import { PROTOCOL_PENALTY } from "../peers/scores.ts";
import {
  BLOCKS_PROTOCOL,
  BLOCKS_SKIP_PROTOCOL,
  decodeBlocksRequest,
  encodeBlocksRequest,
  encodeFrames,
  FRAME_HEADER,
  FrameReader,
  MAX_BLOCKS_REQUEST_SIZE,
  MAX_LOCATOR_HASHES,
  MAX_RESPONSE_BYTES,
  ProtocolError,
  sendAll,
  withDeadline,
} from "../protocols.ts";

/** Most peers whose request buckets the server remembers; older ones are forgotten first. */
const MAX_SERVED_PEERS = 10_000;

/** How the server reports a peer's misbehaviour (the peer layer turns it into points). */
export interface Penalties {
  penalize(id: string, points: number, reason: string): Promise<void>;
  penalizeError(id: string, err: unknown, what: string): Promise<void>;
}

/** Serves block requests with a token bucket and a concurrency limit per peer. */
export class BlockServer {
  /**
   * A peer's bucket outlives its connection, so redialling does not refill it; bounded because peer
   * identities are free.
   */
  private readonly served = new BoundedMap<string, { bucket: TokenBucket; inFlight: number }>(
    MAX_SERVED_PEERS,
  );

  constructor(
    private readonly chain: Pick<ChainReader, "findFork" | "getEntryAt"> & Pick<BlockSource, "getMainBlocks">,
    private readonly limits: NetworkLimits,
    private readonly penalties: Penalties,
  ) {}

  async serve(stream: Stream, conn: Connection, version: 1 | 2 = 1): Promise<void> {
    const id = conn.remotePeer.toString();
    let s = this.served.get(id);
    if (!s) {
      s = {
        bucket: new TokenBucket(this.limits.blockRequestBurst, this.limits.blockRequestsPerSec),
        inFlight: 0,
      };
      this.served.set(id, s);
    }
    if (!s.bucket.take() || s.inFlight >= this.limits.maxConcurrentRequests) {
      stream.abort(new Error("rate limit exceeded"));
      await this.penalties.penalize(id, PROTOCOL_PENALTY.RATE_LIMIT, "block requests above the rate limit");
      return;
    }
    s.inFlight++;
    try {
      await withDeadline(stream, this.limits.requestTimeoutMs, async () => {
        const reader = new FrameReader(stream);
        const payload = await reader.next(MAX_BLOCKS_REQUEST_SIZE);
        if (!payload) throw new ProtocolError("MALFORMED", "block request stream closed without a request");
        const req = decodeBlocksRequest(payload, version);
        const raws = await this.blocksAfter(
          req.locator.map(hashToHex),
          Math.min(req.max, this.limits.maxBlocksPerResponse),
          req.skip ?? 0,
        );
        // Group frames into ~256 KiB sends: one syscall-sized write instead of one per block.
        let group: Uint8Array[] = [];
        let size = 0;
        for (const raw of raws) {
          group.push(raw);
          size += FRAME_HEADER + raw.length;
          if (size >= 256 * 1024) {
            await sendAll(stream, encodeFrames(group));
            group = [];
            size = 0;
          }
        }
        group.push(new Uint8Array(0)); // terminator
        await sendAll(stream, encodeFrames(group));
        await stream.close();
      });
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)));
      await this.penalties.penalizeError(id, err, "block request from peer");
    } finally {
      s.inFlight--;
    }
  }

  /** Main-chain blocks after the locator's fork point and `skip` more, bounded by count and total bytes. */
  private async blocksAfter(locator: string[], max: number, skip: number): Promise<Uint8Array[]> {
    const from = this.chain.findFork(locator).height + 1 + skip;
    let n = 0;
    let bytes = 0;
    for (let h = from; n < max; h++) {
      const e = this.chain.getEntryAt(h);
      if (!e || bytes + e.size > this.limits.maxResponseBytes) break;
      bytes += e.size;
      n++;
    }
    return n ? this.chain.getMainBlocks(from, n) : [];
  }
}

/** Requests blocks from peers, each peer's requests paced below its rate limit. */
export class BlockFetcher {
  /** Our own bucket per connected peer (dropped on disconnect by `forget`). */
  private readonly pacing = new Map<string, TokenBucket>();
  /** Connected peers that answered with /jbc/blocks/1 only (no skip). */
  private readonly v1Only = new Set<string>();

  constructor(
    private readonly node: Libp2p,
    private readonly limits: NetworkLimits,
    private readonly maxBlockSize: number,
  ) {}

  forget(id: string): void {
    this.pacing.delete(id);
    this.v1Only.delete(id);
  }

  /** Waits until our own bucket for `id` allows a request, so we never trip the peer's limit. */
  private async pace(id: string, signal: AbortSignal): Promise<void> {
    let b = this.pacing.get(id);
    if (!b) {
      // Two below the peer's burst leaves room for arrival jitter.
      b = new TokenBucket(Math.max(1, this.limits.blockRequestBurst - 2), this.limits.blockRequestsPerSec);
      this.pacing.set(id, b);
    }
    for (;;) {
      const ms = b.waitMs();
      if (ms === 0 && b.take()) return;
      signal.throwIfAborted();
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          clearTimeout(t);
          reject(signal.reason);
        };
        const t = setTimeout(
          () => {
            signal.removeEventListener("abort", onAbort);
            resolve();
          },
          Math.max(1, ms),
        );
        signal.addEventListener("abort", onAbort, { once: true });
      });
    }
  }

  /**
   * One block request: up to `max` serialized blocks after the locator's fork point on the peer's chain,
   * past the first `skip`. A peer that speaks only /1 is asked by /1, and a skip it cannot honour is a
   * SkipUnsupportedError (no fault: the caller asks without one).
   */
  async fetch(
    peer: { id: string; peerId: PeerId },
    locator: Uint8Array[],
    { max, skip = 0, signal }: { max: number; skip?: number; signal: AbortSignal },
  ): Promise<Uint8Array[]> {
    if (skip > 0 && this.v1Only.has(peer.id)) throw new SkipUnsupportedError(peer.id);
    await this.pace(peer.id, signal);
    const ms = this.limits.requestTimeoutMs;
    const stream = await this.node.dialProtocol(peer.peerId, [BLOCKS_SKIP_PROTOCOL, BLOCKS_PROTOCOL], {
      signal: AbortSignal.any([signal, AbortSignal.timeout(ms)]),
    });
    const version = stream.protocol === BLOCKS_SKIP_PROTOCOL ? 2 : 1;
    if (version === 1) {
      this.v1Only.add(peer.id);
      if (skip > 0) {
        stream.abort(new Error("skip not supported"));
        throw new SkipUnsupportedError(peer.id);
      }
    }
    const onAbort = (): void => stream.abort(new Error("request cancelled"));
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      return await withDeadline(stream, ms, async () => {
        const req = { locator: locator.slice(0, MAX_LOCATOR_HASHES), max, ...(skip ? { skip } : {}) };
        await sendAll(stream, encodeFrames([encodeBlocksRequest(req, version)]));
        await stream.close();
        const reader = new FrameReader(stream);
        const out: Uint8Array[] = [];
        let bytes = 0;
        for (;;) {
          const f = await reader.next(this.maxBlockSize);
          if (f === null) throw new ProtocolError("MALFORMED", "block response ended without its terminator");
          if (f.length === 0) break;
          out.push(f);
          bytes += f.length;
          if (out.length > max) throw new ProtocolError("OVERSIZED", `more than the ${max} blocks asked for`);
          if (bytes > MAX_RESPONSE_BYTES)
            throw new ProtocolError("OVERSIZED", `response above ${MAX_RESPONSE_BYTES} bytes`);
        }
        return out;
      });
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }
}
