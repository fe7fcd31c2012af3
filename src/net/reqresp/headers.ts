/**
 * Headers by locator (/jbc/headers/1, docs/protocol.md): what a light peer asks for to check the chain
 * itself. The request is a block request's locator and a count (up to 2,000); the answer is one frame of
 * up to that many 80-byte main-chain headers after the locator's fork point, then the stream closes. The
 * server bounds what each peer may ask with its own token bucket and concurrency limit (the block
 * requests' limits, a bucket of their own); the client checks the answer's size, that it connects to the
 * locator and that each header follows the one before (a light client then checks the headers' rules).
 *
 * /jbc/headers/2 (issue 21) adds a skip (u32 LE after the count), as /jbc/blocks/2 does for blocks: the
 * answer starts `skip` headers past the fork point, so a sync can have several ranges above one anchor in
 * flight at once, with several peers. The first header of such an answer follows no locator hash; the
 * requester links it to the range below (src/sync/header-pipe.ts).
 */
import type { Connection, Libp2p, PeerId, Stream } from "@libp2p/interface";
import type { ChainReader } from "../../chain/interfaces.ts";
import { sha256d } from "../../consensus/hash.ts";
import { encodeHeader, HEADER_SIZE, hashToHex } from "../../consensus/header.ts";
import { MAX_HEADERS_PER_REQUEST } from "../../light/source.ts";
import { SkipUnsupportedError } from "../../sync/types.ts";
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
/** Headers by locator past a skip (issue 21): pipelined header ranges. Served beside /1. */
export const HEADERS_SKIP_PROTOCOL = "/jbc/headers/2";
/** count(1) + 64 hashes + max(2), and skip(4) in /2. */
export const MAX_HEADERS_REQUEST_SIZE = 1 + 32 * MAX_LOCATOR_HASHES + 2 + 4;
/** The one answer frame's largest payload. */
export const MAX_HEADERS_RESPONSE_SIZE = MAX_HEADERS_PER_REQUEST * HEADER_SIZE;
/** Most peers whose request buckets the server remembers. */
const MAX_SERVED_PEERS = 10_000;

/** Where the requester's chain is (newest hash first), how many headers it wants, past how many (/2). */
export interface HeadersRequest {
  locator: Uint8Array[];
  max: number;
  skip?: number;
}

/** Serializes a headers request for protocol `version` (skip only in 2); throws RangeError out of bounds. */
export function encodeHeadersRequest(r: HeadersRequest, version: 1 | 2 = 1): Uint8Array {
  const n = r.locator.length;
  if (n < 1 || n > MAX_LOCATOR_HASHES) throw new RangeError(`locator of ${n} hashes`);
  if (!Number.isInteger(r.max) || r.max < 1 || r.max > MAX_HEADERS_PER_REQUEST)
    throw new RangeError(`max ${r.max} headers`);
  const skip = r.skip ?? 0;
  if (!Number.isInteger(skip) || skip < 0 || skip > 0xffffffff) throw new RangeError(`skip ${skip}`);
  if (skip > 0 && version === 1) throw new RangeError("a skip needs /jbc/headers/2");
  const out = new Uint8Array(3 + 32 * n + (version === 2 ? 4 : 0));
  out[0] = n;
  r.locator.forEach((h, i) => {
    if (h.length !== 32) throw new RangeError("locator hashes must be 32 bytes");
    out.set(h, 1 + 32 * i);
  });
  const view = new DataView(out.buffer);
  view.setUint16(1 + 32 * n, r.max, true);
  if (version === 2) view.setUint32(3 + 32 * n, skip, true);
  return out;
}

/** Parses a headers request of protocol `version`; a count, max or length out of bounds is MALFORMED. */
export function decodeHeadersRequest(b: Uint8Array, version: 1 | 2 = 1): HeadersRequest {
  const n = b[0] ?? 0;
  if (n < 1 || n > MAX_LOCATOR_HASHES) throw new ProtocolError("MALFORMED", `locator of ${n} hashes`);
  if (b.length !== 3 + 32 * n + (version === 2 ? 4 : 0))
    throw new ProtocolError("MALFORMED", `headers request of ${b.length} bytes for ${n} hashes`);
  const locator: Uint8Array[] = [];
  for (let i = 0; i < n; i++) locator.push(b.slice(1 + 32 * i, 33 + 32 * i));
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const max = view.getUint16(1 + 32 * n, true);
  if (max < 1 || max > MAX_HEADERS_PER_REQUEST)
    throw new ProtocolError("MALFORMED", `request for ${max} headers`);
  return version === 2 ? { locator, max, skip: view.getUint32(3 + 32 * n, true) } : { locator, max };
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

  /** Answers one request of protocol `version` (/1, or /2 with a skip). */
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
      await this.penalties.penalize(id, PROTOCOL_PENALTY.RATE_LIMIT, "header requests above the rate limit");
      return;
    }
    s.inFlight++;
    try {
      await withDeadline(stream, this.limits.requestTimeoutMs, async () => {
        const payload = await new FrameReader(stream).next(MAX_HEADERS_REQUEST_SIZE);
        if (!payload) throw new ProtocolError("MALFORMED", "headers request stream closed without a request");
        const req = decodeHeadersRequest(payload, version);
        // In memory and without an await: one answer is one chain, even while blocks arrive.
        const from = this.chain.findFork(req.locator.map(hashToHex)).height + 1 + (req.skip ?? 0);
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
 * Asks one peer for headers after a locator, past `skip` (default 0): up to `max` 80-byte headers, checked
 * to follow each other and, without a skip, to connect to the locator (ProtocolError otherwise: OVERSIZED,
 * MALFORMED, or UNCONNECTED). A skip to a peer that speaks only /1 is a SkipUnsupportedError (no fault).
 */
export async function fetchHeaders(
  node: Libp2p,
  peerId: PeerId,
  locator: readonly Uint8Array[],
  max: number,
  limits: Pick<NetworkLimits, "requestTimeoutMs">,
  skip = 0,
): Promise<Uint8Array[]> {
  const ms = limits.requestTimeoutMs;
  const protocols = skip > 0 ? [HEADERS_SKIP_PROTOCOL, HEADERS_PROTOCOL] : [HEADERS_PROTOCOL];
  const stream = await node.dialProtocol(peerId, protocols, { signal: AbortSignal.timeout(ms) });
  if (stream.protocol !== HEADERS_SKIP_PROTOCOL && skip > 0) {
    stream.abort(new Error("skip not supported"));
    throw new SkipUnsupportedError(peerId.toString());
  }
  return withDeadline(stream, ms, async () => {
    const req = { locator: locator.slice(0, MAX_LOCATOR_HASHES), max, ...(skip > 0 ? { skip } : {}) };
    await sendAll(stream, encodeFrames([encodeHeadersRequest(req, skip > 0 ? 2 : 1)]));
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
      // The first header of a skipped range follows a header of the range below: the requester links it.
      if (prev ? !sameHash(parent, prev) : skip === 0 && !locator.some((l) => sameHash(parent, l)))
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
