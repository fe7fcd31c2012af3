/**
 * Headers by locator (/jbc/headers/1, docs/protocol.md): what a light peer asks for to check the chain
 * itself. The request is a block request's locator and a count (up to 2,000); the answer is one frame of
 * up to that many 80-byte main-chain headers after the locator's fork point, then the stream closes. The
 * server bounds what each peer may ask with its own token bucket and concurrency limit (the block
 * requests' limits, a bucket of their own); the client checks the answer's size, that it connects to the
 * locator and that each header follows the one before (a light client then checks the headers' rules).
 */
import type { Connection, Libp2p, PeerId, Stream } from "@libp2p/interface";
import type { ChainReader } from "../../chain/interfaces.ts";
import { sha256d } from "../../consensus/hash.ts";
import { encodeHeader, HEADER_SIZE, hashToHex } from "../../consensus/header.ts";
import { MAX_HEADERS_PER_REQUEST } from "../../light/source.ts";
import { BoundedMap } from "../../util/bounded.ts";
import { TokenBucket } from "../../util/bucket.ts";
import type { NetworkLimits } from "../options.ts";
import { PROTOCOL_PENALTY } from "../peers/scores.ts";
import {
  encodeFrames,
  FrameReader,
  MAX_LOCATOR_HASHES,
  ProtocolError,
  sendAll,
  withDeadline,
} from "../protocols.ts";
import type { Penalties } from "./blocks.ts";

/** Headers by locator, at most 2,000 per request. */
export const HEADERS_PROTOCOL = "/jbc/headers/1";
/** count(1) + 64 hashes + max(2). */
export const MAX_HEADERS_REQUEST_SIZE = 1 + 32 * MAX_LOCATOR_HASHES + 2;
/** The one answer frame's largest payload. */
export const MAX_HEADERS_RESPONSE_SIZE = MAX_HEADERS_PER_REQUEST * HEADER_SIZE;
/** Most peers whose request buckets the server remembers. */
const MAX_SERVED_PEERS = 10_000;

/** Where the requester's chain is (newest hash first) and how many headers it wants. */
export interface HeadersRequest {
  locator: Uint8Array[];
  max: number;
}

/** Serializes a headers request; throws RangeError out of bounds. */
export function encodeHeadersRequest(r: HeadersRequest): Uint8Array {
  const n = r.locator.length;
  if (n < 1 || n > MAX_LOCATOR_HASHES) throw new RangeError(`locator of ${n} hashes`);
  if (!Number.isInteger(r.max) || r.max < 1 || r.max > MAX_HEADERS_PER_REQUEST)
    throw new RangeError(`max ${r.max} headers`);
  const out = new Uint8Array(3 + 32 * n);
  out[0] = n;
  r.locator.forEach((h, i) => {
    if (h.length !== 32) throw new RangeError("locator hashes must be 32 bytes");
    out.set(h, 1 + 32 * i);
  });
  new DataView(out.buffer).setUint16(1 + 32 * n, r.max, true);
  return out;
}

/** Parses a headers request; a count, max or length out of bounds is MALFORMED. */
export function decodeHeadersRequest(b: Uint8Array): HeadersRequest {
  const n = b[0] ?? 0;
  if (n < 1 || n > MAX_LOCATOR_HASHES) throw new ProtocolError("MALFORMED", `locator of ${n} hashes`);
  if (b.length !== 3 + 32 * n)
    throw new ProtocolError("MALFORMED", `headers request of ${b.length} bytes for ${n} hashes`);
  const locator: Uint8Array[] = [];
  for (let i = 0; i < n; i++) locator.push(b.slice(1 + 32 * i, 33 + 32 * i));
  const max = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint16(1 + 32 * n, true);
  if (max < 1 || max > MAX_HEADERS_PER_REQUEST)
    throw new ProtocolError("MALFORMED", `request for ${max} headers`);
  return { locator, max };
}

/** Serves header requests with a token bucket and a concurrency limit per peer. */
export class HeaderServer {
  private readonly served = new BoundedMap<string, { bucket: TokenBucket; inFlight: number }>(
    MAX_SERVED_PEERS,
  );

  constructor(
    private readonly chain: Pick<ChainReader, "findFork" | "getEntryAt" | "height">,
    private readonly limits: NetworkLimits,
    private readonly penalties: Penalties,
  ) {}

  async serve(stream: Stream, conn: Connection): Promise<void> {
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
      await this.penalties.penalize(id, PROTOCOL_PENALTY.RATE_LIMIT, "header requests above the rate limit");
      return;
    }
    s.inFlight++;
    try {
      await withDeadline(stream, this.limits.requestTimeoutMs, async () => {
        const payload = await new FrameReader(stream).next(MAX_HEADERS_REQUEST_SIZE);
        if (!payload) throw new ProtocolError("MALFORMED", "headers request stream closed without a request");
        const req = decodeHeadersRequest(payload);
        // In memory and without an await: one answer is one chain, even while blocks arrive.
        const from = this.chain.findFork(req.locator.map(hashToHex)).height + 1;
        const end = Math.min(this.chain.height + 1, from + req.max);
        const out = new Uint8Array(Math.max(0, end - from) * HEADER_SIZE);
        for (let h = from; h < end; h++)
          out.set(encodeHeader(this.chain.getEntryAt(h)!.header), (h - from) * HEADER_SIZE);
        await sendAll(stream, encodeFrames([out]));
        await stream.close();
      });
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)));
      await this.penalties.penalizeError(id, err, "headers request from peer");
    } finally {
      s.inFlight--;
    }
  }
}

/**
 * Asks one peer for headers after a locator: up to `max` 80-byte headers, checked to connect to the
 * locator and to follow each other (ProtocolError otherwise: OVERSIZED, MALFORMED, or UNCONNECTED).
 */
export async function fetchHeaders(
  node: Libp2p,
  peerId: PeerId,
  locator: readonly Uint8Array[],
  max: number,
  limits: Pick<NetworkLimits, "requestTimeoutMs">,
): Promise<Uint8Array[]> {
  const ms = limits.requestTimeoutMs;
  const stream = await node.dialProtocol(peerId, HEADERS_PROTOCOL, { signal: AbortSignal.timeout(ms) });
  return withDeadline(stream, ms, async () => {
    const req = { locator: locator.slice(0, MAX_LOCATOR_HASHES), max };
    await sendAll(stream, encodeFrames([encodeHeadersRequest(req)]));
    await stream.close();
    const reader = new FrameReader(stream);
    const f = await reader.next(max * HEADER_SIZE);
    if (f === null) throw new ProtocolError("MALFORMED", "headers response ended without its frame");
    if (f.length % HEADER_SIZE !== 0)
      throw new ProtocolError("MALFORMED", `a headers frame of ${f.length} bytes: not whole headers`);
    if (!(await reader.atEnd())) throw new ProtocolError("MALFORMED", "bytes after the headers frame");
    const out: Uint8Array[] = [];
    let prev: Uint8Array | undefined;
    for (let o = 0; o < f.length; o += HEADER_SIZE) {
      const h = new Uint8Array(f.subarray(o, o + HEADER_SIZE)); // a plain copy, not a view of a Buffer
      const parent = h.subarray(4, 36);
      if (prev ? !sameHash(parent, prev) : !locator.some((l) => sameHash(parent, l)))
        throw new HeadersUnconnectedError(
          prev
            ? "a header that does not follow the one before it"
            : "a first header that follows no locator hash",
          !prev,
        );
      prev = sha256d(h);
      out.push(h);
    }
    return out;
  });
}

/**
 * An answer that does not connect: a first header after none of the locator's hashes (UNCONNECTED, 20) or
 * a later one that does not follow its predecessor (MALFORMED, 50).
 */
export class HeadersUnconnectedError extends ProtocolError {
  constructor(
    message: string,
    readonly first: boolean,
  ) {
    super("MALFORMED", message);
    this.name = "HeadersUnconnectedError";
  }
}

function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 32; i++) if (a[i] !== b[i]) return false;
  return true;
}
