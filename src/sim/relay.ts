import { recordOffsets } from "../consensus/block.ts";
import { HEADER_SIZE } from "../consensus/header.ts";
import type { LatencyModel } from "./latency.ts";
import { makeRng, type Rng } from "./rng.ts";

/**
 * How a block crosses one simulated link (docs/simulation.md, "Relay"). Two policies:
 *
 * - **full**: the block itself: one-way latency + its full size over the link's bandwidth (gossipsub's
 *   push of a whole block, as src/net does today).
 * - **compact**: BIP 152 in high-bandwidth mode: the sender pushes a compact block (header, an 8-byte
 *   salt, the miner record in full, a 6-byte short id for every other record); the receiver rebuilds the
 *   block from the records it already holds and, when some are missing, asks for them in one round trip
 *   (getblocktxn / blocktxn) before it has the block. A receiver holds each record of the block
 *   independently with probability `overlap` (how well the mempools agree), so a block of n records needs
 *   the round trip with probability 1 − overlap^n and fetches Binomial(n, 1 − overlap) records. With
 *   probability `failure` the rebuilt block still does not match its header (a short-id collision, a
 *   sender that never answers): the receiver then asks for the full block (getdata), one more round trip
 *   carrying the whole block.
 *
 * Block size: a block's real records (the simulator's data padding) count with their real sizes, and a
 * block can also carry `records` modelled records of `recordBytes` each that exist only as sizes here.
 * Nothing else in the simulator depends on a block's contents (processBlock takes no virtual time), so
 * modelled records give a 1 MB block's transfer times without holding a megabyte per block in memory.
 */

export type RelayPolicy = "full" | "compact";
export const RELAY_POLICIES: readonly RelayPolicy[] = ["full", "compact"];

export interface RelayOptions {
  /** Default full. */
  policy?: RelayPolicy;
  /** Records each block carries in the model only, besides its real ones (default 0). */
  records?: number;
  /** Encoded bytes of each modelled record (default RECORD_BYTES). */
  recordBytes?: number;
  /** Fraction of a block's records a receiver already holds, for compact relay (default DEFAULT_OVERLAP). */
  overlap?: number;
  /** Chance a compact block fails to rebuild and the receiver falls back to the full block (default 0). */
  failure?: number;
}

/** Bytes of a modelled record by default: about a Bitcoin transaction (docs/simulation.md). */
export const RECORD_BYTES = 500;
/**
 * Default mempool agreement: a receiver lacks 1 record in 10,000, so a 2,000-record block needs the round
 * trip 18 % of the time (1 − 0.9999^2000). The simulator has no record gossip to derive it from; Bitcoin
 * nodes logged 3,986 of 3,992 transactions of a block from their mempools, and busy weeks where half the
 * blocks needed the round trip (0xB10C, "Stats on compact block reconstructions", Delving Bitcoin 2024).
 */
export const DEFAULT_OVERLAP = 0.9999;
/** BIP 152's short transaction id. */
export const SHORT_ID_BYTES = 6;
/** The per-block salt of the short ids (BIP 152's nonce). */
const SALT_BYTES = 8;
const HASH_BYTES = 32;
/** getdata for one block: count, then one inventory entry (4-byte type, 32-byte hash). */
const GETDATA_BYTES = 1 + 4 + HASH_BYTES;

/** A block as the relay model sees it, computed once when the block is found. */
export interface WireShape {
  /** The whole block on the wire. */
  fullBytes: number;
  /** The compact block: header, salt, the miner record, short ids. */
  compactBytes: number;
  /** Records besides the miner record (the short ids of a compact block). */
  records: number;
  /** Their mean encoded size. */
  recordBytes: number;
}

/** Bytes of a CompactSize (Bitcoin's and jbc's varint). */
export function varintBytes(n: number): number {
  return n < 0xfd ? 1 : n <= 0xffff ? 3 : n <= 0xffffffff ? 5 : 9;
}

/** The wire sizes of a serialized block plus `extra` modelled records of `recordBytes` each. */
export function wireShape(raw: Uint8Array, extra = 0, recordBytes = RECORD_BYTES): WireShape {
  const offsets = recordOffsets(raw);
  const real = offsets.length - 1; // the miner record first, then the data records
  const minerBytes = offsets[1]! - offsets[0]!;
  const realRest = raw.length - offsets[1]!;
  const records = real - 1 + extra;
  return {
    fullBytes: raw.length + extra * recordBytes + varintBytes(real + extra) - varintBytes(real),
    // jbc's CMPCTBLOCK (docs/protocol.md, "Compact blocks"): the type byte, header, nonce, a u16 count, the
    // short ids, then the miner record whole (no prefilled list: it is the only record sent whole).
    compactBytes: 1 + HEADER_SIZE + SALT_BYTES + 2 + SHORT_ID_BYTES * records + minerBytes,
    records,
    recordBytes: records > 0 ? (realRest + extra * recordBytes) / records : 0,
  };
}

/** What crossed the links: for bytes-per-block figures and the share of compact blocks needing the round trip. */
export interface RelayStats {
  /** Block deliveries (one per link a block crossed). */
  deliveries: number;
  /** Bytes of those deliveries, round trips included. */
  bytes: number;
  /** Deliveries that needed the missing-record round trip (compact relay). */
  roundTrips: number;
  /** Records fetched in those round trips. */
  missingRecords: number;
  /** Compact deliveries that failed to rebuild and fetched the full block. */
  fallbacks: number;
}

/** The links' relay model: per-delivery transfer time and counters, and (optionally) first arrivals. */
export class Relay {
  readonly policy: RelayPolicy;
  readonly overlap: number;
  readonly extra: number;
  readonly recordBytes: number;
  readonly failure: number;
  readonly stats: RelayStats = { deliveries: 0, bytes: 0, roundTrips: 0, missingRecords: 0, fallbacks: 0 };
  /** With `measure`: per block, the virtual time each node first gets it (Infinity if never). */
  readonly arrivals = new Map<string, Float64Array>();

  constructor(
    opts: RelayOptions,
    private readonly latency: LatencyModel,
    /** Bits per second of every link. */
    private readonly bandwidth: number,
    private readonly seed: number,
    private readonly measure?: { nodes: number },
  ) {
    this.policy = opts.policy ?? "full";
    this.overlap = opts.overlap ?? DEFAULT_OVERLAP;
    this.extra = opts.records ?? 0;
    this.recordBytes = opts.recordBytes ?? RECORD_BYTES;
    this.failure = opts.failure ?? 0;
  }

  /** The wire sizes of a block just found. */
  shape(raw: Uint8Array): WireShape {
    return wireShape(raw, this.extra, this.recordBytes);
  }

  /**
   * Seconds from `from` starting to send block `hash` until `to` holds all of it, sent at virtual time
   * `now`. Full relay draws one latency from `rng`, as before compact relay existed, so full-relay runs
   * keep their results for a seed; compact relay draws one more per message of a round trip.
   */
  transfer(from: number, to: number, hash: string, w: WireShape, now: number, rng: Rng): number {
    const { seconds, bytes } =
      this.policy === "full"
        ? { seconds: this.latency(from, to, rng) + this.wire(w.fullBytes), bytes: w.fullBytes }
        : this.compact(from, to, hash, w, rng);
    this.stats.deliveries++;
    this.stats.bytes += bytes;
    if (this.measure) this.arrived(hash, to, now + seconds);
    return seconds;
  }

  /** A compact block over one link, then the missing-record round trip and the fallback if drawn. */
  private compact(from: number, to: number, hash: string, w: WireShape, rng: Rng) {
    let seconds = this.latency(from, to, rng) + this.wire(w.compactBytes);
    let bytes = w.compactBytes;
    const { missing: k, failed } = this.receiver(hash, to, w.records);
    if (k > 0) {
      // getblocktxn (block hash, count, differentially encoded indexes), then blocktxn with the records.
      const request = HASH_BYTES + varintBytes(k) + k * varintBytes(Math.floor(w.records / k));
      const response = HASH_BYTES + varintBytes(k) + k * w.recordBytes;
      seconds += this.roundTrip(from, to, request, response, rng);
      bytes += request + response;
      this.stats.roundTrips++;
      this.stats.missingRecords += k;
    }
    if (failed) {
      seconds += this.roundTrip(from, to, GETDATA_BYTES, w.fullBytes, rng);
      bytes += GETDATA_BYTES + w.fullBytes;
      this.stats.fallbacks++;
    }
    return { seconds, bytes };
  }

  /** A request from `to` back to `from` and the answer: two latencies and both transfers. */
  private roundTrip(from: number, to: number, request: number, response: number, rng: Rng): number {
    return (
      this.latency(to, from, rng) + this.wire(request) + this.latency(from, to, rng) + this.wire(response)
    );
  }

  /**
   * What receiver `to` makes of block `hash`'s compact form: how many records it lacks, and whether the
   * rebuild fails. One draw per (block, receiver), the same however often the block is announced to it.
   */
  receiver(hash: string, to: number, records: number): { missing: number; failed: boolean } {
    // Its own stream per (block, receiver): a node's mempool does not change between two announcements
    // of the same block, and these draws never shift the network stream's latencies.
    // (The hash's last hex digits: its leading ones are held down by the target.)
    const salt = Number.parseInt(hash.slice(-8), 16) ^ Math.imul(to + 1, 0x85ebca6b);
    const rng = makeRng((this.seed ^ salt) >>> 0);
    const failed = this.failure > 0 && rng.next() < this.failure;
    const p = 1 - this.overlap;
    if (records === 0 || p <= 0) return { missing: 0, failed };
    if (p >= 1) return { missing: records, failed };
    // Binomial(records, p) by geometric gaps between missing records: about k + 1 draws, not `records`.
    const logQ = Math.log1p(-p);
    const gap = (): number => Math.floor(Math.log(1 - rng.next()) / logQ);
    let k = 0;
    for (let i = gap(); i < records; i += 1 + gap()) k++;
    return { missing: k, failed };
  }

  /** A block's first arrival at each node (Infinity where it never came), or undefined without `measure`. */
  firstArrivals(hash: string): Float64Array | undefined {
    return this.arrivals.get(hash);
  }

  /** Marks a node as holding a block it found or was handed (its own blocks arrive when found). */
  arrived(hash: string, node: number, time: number): void {
    if (!this.measure) return;
    let a = this.arrivals.get(hash);
    if (!a) {
      a = new Float64Array(this.measure.nodes).fill(Number.POSITIVE_INFINITY);
      this.arrivals.set(hash, a);
    }
    if (time < a[node]!) a[node] = time;
  }

  private wire(bytes: number): number {
    return (bytes * 8) / this.bandwidth;
  }
}
