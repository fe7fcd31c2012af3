/**
 * Wire formats of jbc's libp2p protocols, documented byte for byte in docs/protocol.md. Pure codecs
 * plus a frame reader/writer over libp2p 3 message streams; no peer or chain state lives here.
 *
 * Every stream carries frames: a u32 little-endian payload length, then the payload.
 */
import type { Stream } from "@libp2p/interface";
import { sha256d } from "../consensus/hash.ts";
import { HEADER_SIZE, hashToHex } from "../consensus/header.ts";
import type { NetworkParams } from "../consensus/params.ts";

/** Status exchange, opened by both sides on connect. */
export const STATUS_PROTOCOL = "/jbc/status/1";
/** Block download from a locator. */
export const BLOCKS_PROTOCOL = "/jbc/blocks/1";
/**
 * Block download from a locator, skipping the first `skip` blocks after its fork point: requests for
 * consecutive ranges from one anchor can be in flight together (a sync's pipeline). Served beside /1.
 */
export const BLOCKS_SKIP_PROTOCOL = "/jbc/blocks/2";

/** Gossip topic for blocks: one per network, and per genesis so two networks with a name clash never mix. */
export function blocksTopic(params: NetworkParams): string {
  return `/jbc/${params.name}/${params.genesisHash.slice(0, 16)}/blocks/1`;
}

/** Gossip topic for pending records (one record's bytes per message), beside the block topic. */
export function recordsTopic(params: NetworkParams): string {
  return `/jbc/${params.name}/${params.genesisHash.slice(0, 16)}/records/1`;
}

/** Version byte of the status message. */
export const STATUS_VERSION = 1;
/** version(1) networkId(4) genesis(32) height(4) tip(32) work(32). */
export const STATUS_SIZE = 105;
/** Most hashes in a locator. */
export const MAX_LOCATOR_HASHES = 64;
/** Most blocks one response may carry, whatever the request asks. */
export const MAX_BLOCKS_PER_RESPONSE = 500;
/** Most block bytes one response may carry (the server stops before the block that would exceed it). */
export const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
/** Largest valid request: count(1) + 64 hashes + max(2), and skip(4) in /2. */
export const MAX_BLOCKS_REQUEST_SIZE = 1 + 32 * MAX_LOCATOR_HASHES + 2 + 4;
/** Bytes of a frame's length prefix. */
export const FRAME_HEADER = 4;

/** What one node tells another about itself. Hashes are in internal byte order. */
export interface Status {
  networkId: number;
  genesis: Uint8Array;
  height: number;
  tip: Uint8Array;
  /** Total work of the tip's chain. */
  work: bigint;
}

/** A peer broke a protocol rule. `offence` maps to a penalty in peers/scores.ts. */
export class ProtocolError extends Error {
  constructor(
    readonly offence: "OVERSIZED" | "MALFORMED" | "TIMEOUT",
    message: string,
  ) {
    super(message);
    this.name = "ProtocolError";
  }
}

const WORK_MAX = (1n << 256n) - 1n;

/** Serializes a status to its 105 bytes (layout in docs/protocol.md). */
export function encodeStatus(s: Status): Uint8Array {
  if (s.genesis.length !== 32 || s.tip.length !== 32) throw new RangeError("status hashes must be 32 bytes");
  if (s.work < 0n || s.work > WORK_MAX) throw new RangeError("work out of range");
  const out = new Uint8Array(STATUS_SIZE);
  const v = new DataView(out.buffer);
  out[0] = STATUS_VERSION;
  v.setUint32(1, s.networkId >>> 0, true);
  out.set(s.genesis, 5);
  v.setUint32(37, s.height >>> 0, true);
  out.set(s.tip, 41);
  let w = s.work;
  for (let i = 104; i >= 73; i--) {
    out[i] = Number(w & 0xffn);
    w >>= 8n;
  }
  return out;
}

/** Parses a status payload; anything but exactly STATUS_SIZE bytes of version 1 is MALFORMED. */
export function decodeStatus(b: Uint8Array): Status {
  if (b.length !== STATUS_SIZE)
    throw new ProtocolError("MALFORMED", `status of ${b.length} bytes, expected ${STATUS_SIZE}`);
  if (b[0] !== STATUS_VERSION)
    throw new ProtocolError("MALFORMED", `status version ${b[0]}, expected ${STATUS_VERSION}`);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let work = 0n;
  for (let i = 73; i < 105; i++) work = (work << 8n) | BigInt(b[i]!);
  return {
    networkId: v.getUint32(1, true),
    genesis: b.slice(5, 37),
    height: v.getUint32(37, true),
    tip: b.slice(41, 73),
    work,
  };
}

/**
 * A block download request: where our chain is (newest hash first), how many blocks we want, and (in /2
 * only) how many blocks after the fork point to skip.
 */
export interface BlocksRequest {
  locator: Uint8Array[];
  max: number;
  skip?: number;
}

/**
 * Serializes a block request: count, locator hashes, max (u16 LE), then in version 2 skip (u32 LE).
 * Throws RangeError out of bounds (a skip in version 1 included).
 */
export function encodeBlocksRequest(r: BlocksRequest, version: 1 | 2 = 1): Uint8Array {
  const n = r.locator.length;
  const skip = r.skip ?? 0;
  if (n < 1 || n > MAX_LOCATOR_HASHES) throw new RangeError(`locator of ${n} hashes`);
  if (r.max < 1 || r.max > MAX_BLOCKS_PER_RESPONSE) throw new RangeError(`max ${r.max} blocks`);
  if (!Number.isInteger(skip) || skip < 0 || skip > 0xffffffff || (version === 1 && skip !== 0))
    throw new RangeError(`skip ${skip} in version ${version}`);
  const out = new Uint8Array(3 + 32 * n + (version === 2 ? 4 : 0));
  out[0] = n;
  r.locator.forEach((h, i) => {
    if (h.length !== 32) throw new RangeError("locator hashes must be 32 bytes");
    out.set(h, 1 + 32 * i);
  });
  const v = new DataView(out.buffer);
  v.setUint16(1 + 32 * n, r.max, true);
  if (version === 2) v.setUint32(3 + 32 * n, skip, true);
  return out;
}

/**
 * Parses a request of the given protocol version; a count or max out of range, or a length that does not
 * match, is MALFORMED.
 */
export function decodeBlocksRequest(b: Uint8Array, version: 1 | 2 = 1): BlocksRequest {
  const n = b[0] ?? 0;
  if (n < 1 || n > MAX_LOCATOR_HASHES) throw new ProtocolError("MALFORMED", `locator of ${n} hashes`);
  if (b.length !== 3 + 32 * n + (version === 2 ? 4 : 0))
    throw new ProtocolError("MALFORMED", `request of ${b.length} bytes for ${n} hashes`);
  const locator: Uint8Array[] = [];
  for (let i = 0; i < n; i++) locator.push(b.slice(1 + 32 * i, 33 + 32 * i));
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const max = v.getUint16(1 + 32 * n, true);
  if (max < 1 || max > MAX_BLOCKS_PER_RESPONSE)
    throw new ProtocolError("MALFORMED", `request for ${max} blocks`);
  return version === 2 ? { locator, max, skip: v.getUint32(3 + 32 * n, true) } : { locator, max };
}

/** Writes `payloads` as frames into one buffer (one send instead of two per frame). */
export function encodeFrames(payloads: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of payloads) n += FRAME_HEADER + p.length;
  const out = new Uint8Array(n);
  const v = new DataView(out.buffer);
  let o = 0;
  for (const p of payloads) {
    v.setUint32(o, p.length, true);
    out.set(p, o + FRAME_HEADER);
    o += FRAME_HEADER + p.length;
  }
  return out;
}

/** Sends bytes, waiting for the stream to drain when its buffer is full. */
export async function sendAll(stream: Stream, data: Uint8Array, signal?: AbortSignal): Promise<void> {
  if (!stream.send(data)) await stream.onDrain(signal ? { signal } : {});
}

/** A chunk as a libp2p 3 stream yields it: bytes, or a list of byte chunks (a Uint8ArrayList). */
type StreamChunk = Uint8Array | (Iterable<Uint8Array> & { readonly byteLength: number });

/**
 * Reads frames from a libp2p 3 stream (an AsyncIterable of chunks). Chunks are kept as a list and a frame
 * is copied only when it spans chunks, so a 4 MiB response costs one pass over its bytes. A chunk that is
 * a list of chunks (yamux hands on a data frame as the noise messages it arrived in) is taken apart, not
 * joined: joining copied every byte of a sync once more (issue 21).
 */
export class FrameReader {
  private readonly it: AsyncIterator<StreamChunk>;
  private readonly chunks: Uint8Array[] = [];
  private head = 0;
  private avail = 0;

  constructor(stream: Stream) {
    this.it = stream[Symbol.asyncIterator]();
  }

  /** Pulls chunks until `n` bytes are buffered; false if the stream ended first. */
  private async fill(n: number): Promise<boolean> {
    while (this.avail < n) {
      const r = await this.it.next();
      if (r.done) return false;
      const v = r.value;
      for (const c of v instanceof Uint8Array ? [v] : v) {
        if (c.length === 0) continue;
        this.chunks.push(c);
        this.avail += c.length;
      }
    }
    return true;
  }

  private take(n: number): Uint8Array {
    if (n === 0) return new Uint8Array(0);
    this.avail -= n;
    const first = this.chunks[0]!;
    if (first.length - this.head >= n) {
      const out = first.subarray(this.head, this.head + n);
      this.head += n;
      if (this.head === first.length) {
        this.chunks.shift();
        this.head = 0;
      }
      return out;
    }
    const out = new Uint8Array(n);
    let o = 0;
    while (o < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length - this.head, n - o);
      out.set(c.subarray(this.head, this.head + k), o);
      o += k;
      this.head += k;
      if (this.head === c.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    return out;
  }

  /**
   * The next frame's payload, or null when the stream ends cleanly between frames. A length above `max`
   * is OVERSIZED (checked before any of the payload is buffered); a stream that ends mid-frame is MALFORMED.
   */
  async next(max: number): Promise<Uint8Array | null> {
    if (!(await this.fill(FRAME_HEADER))) {
      if (this.avail > 0) throw new ProtocolError("MALFORMED", "stream ended inside a frame header");
      return null;
    }
    const h = this.take(FRAME_HEADER);
    const len = new DataView(h.buffer, h.byteOffset, 4).getUint32(0, true);
    if (len > max) throw new ProtocolError("OVERSIZED", `frame of ${len} bytes exceeds ${max}`);
    if (!(await this.fill(len))) throw new ProtocolError("MALFORMED", "stream ended inside a frame");
    return this.take(len);
  }

  /** Whether the stream has more bytes or chunks after the frames read so far. */
  async atEnd(): Promise<boolean> {
    return !(await this.fill(1));
  }
}

/** Display hash of a serialized block, from its header bytes. */
export function rawBlockHash(raw: Uint8Array): string {
  return hashToHex(sha256d(raw.subarray(0, HEADER_SIZE)));
}

/** Aborts `stream` if `fn` has not finished within `ms`; the error is then a TIMEOUT ProtocolError. */
export async function withDeadline<T>(stream: Stream, ms: number, fn: () => Promise<T>): Promise<T> {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    stream.abort(new ProtocolError("TIMEOUT", `no complete exchange within ${ms} ms`));
  }, ms);
  try {
    return await fn();
  } catch (err) {
    if (timedOut) throw new ProtocolError("TIMEOUT", `no complete exchange within ${ms} ms`);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
