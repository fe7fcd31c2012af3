import { DecodeError } from "../../consensus/bytes.ts";
import { BlockError } from "../../consensus/errors.ts";
import { BoundedMap } from "../../util/bounded.ts";
import type { Logger } from "../../util/logger.ts";
import { ProtocolError } from "../protocols.ts";

/**
 * Peer misbehaviour scores and bans. A score starts at 0 and only grows: each offence adds its penalty
 * (a BlockError's own penalty, or a fixed one below for protocol offences). At the ban threshold the peer
 * is banned for a period and the ban is persisted, so it outlives a restart of this node. Scores live in
 * memory for the life of the process and survive reconnects: a peer cannot wipe its record by redialing.
 */

/** Fixed penalties for protocol offences (block offences carry BlockError.penalty instead). */
export const PROTOCOL_PENALTY = {
  /** A frame or gossip message above the protocol's size limits. */
  OVERSIZED: 50,
  /** A request or response that does not parse, or breaks the protocol's rules (counts, order). */
  MALFORMED: 50,
  /** Bytes that do not decode to a block, sent as a block (same as BlockError MALFORMED). */
  BAD_BLOCK_ENCODING: 100,
  /** More block requests than the token bucket allows, or too many at once. */
  RATE_LIMIT: 10,
  /** A request or response that did not complete in time. */
  TIMEOUT: 5,
  /** A sync response whose first block does not connect to anything we asked for. */
  UNCONNECTED: 20,
} as const;
/** Name of a protocol offence (a key of PROTOCOL_PENALTY). */
export type ProtocolOffence = keyof typeof PROTOCOL_PENALTY;

/** Where bans are persisted (LevelStore implements it): peer id → expiry in ms since the epoch. */
export interface BanStore {
  putBan(id: string, until: number): Promise<void>;
  deleteBan(id: string): Promise<void>;
  loadBans(): Promise<Map<string, number>>;
}

/**
 * The ban-list key of an IP address. Address bans share the peer-id ban list (and its store): an id never
 * starts with "ip:", so getBans() lists both kinds.
 */
export function addressBanKey(ip: string): string {
  return `ip:${ip}`;
}

/**
 * Whether a ban on this address would also hit honest peers that share it: loopback (every peer on this
 * machine) and the unspecified address. Bitcoin Core likewise never discourages local addresses.
 */
export function isSharedAddress(ip: string): boolean {
  return (
    ip.startsWith("127.") || ip === "::1" || ip === "0.0.0.0" || ip === "::" || ip.startsWith("::ffff:127.")
  );
}

/** Configuration of PeerScores. */
export interface PeerScoresOptions {
  bans: BanStore;
  /** Score at which a peer is banned (default 100). */
  banThreshold: number;
  /** Ban length in ms (default one hour). */
  banMs: number;
  logger: Logger;
  now?: () => number;
  /** Most bans kept at once (default MAX_BANS). */
  maxBans?: number;
}

/** Result of a penalty: the new score, and the ban expiry when this penalty caused a ban. */
export interface PenaltyResult {
  score: number;
  bannedUntil?: number;
}

/** Most peers whose misbehaviour points are remembered at once. */
export const MAX_SCORED_PEERS = 10_000;
/**
 * Most bans kept at once, in memory and in the store (rows of about 60 bytes): peer ids cost nothing, so
 * without a bound the ban list grows with what attackers get banned in a ban's hour. Beyond it, expired
 * bans go, then those that end soonest (docs/operations.md "Files a node writes").
 */
export const MAX_BANS = 10_000;

/**
 * The penalty a failed exchange earns: protocol errors and bad blocks cost points, anything else (a
 * transport error, a closed connection) is nobody's provable fault and returns undefined.
 */
export function penaltyFor(err: unknown, what: string): { points: number; reason: string } | undefined {
  if (err instanceof ProtocolError)
    return { points: PROTOCOL_PENALTY[err.offence], reason: `${what}: ${err.message}` };
  if (err instanceof BlockError)
    return { points: err.penalty, reason: `${what}: ${err.code} ${err.message}` };
  if (err instanceof DecodeError)
    return { points: PROTOCOL_PENALTY.BAD_BLOCK_ENCODING, reason: `${what}: ${err.message}` };
  return undefined;
}

/** Scores and bans by peer id. Ban checks are synchronous (the connection gater calls them per dial). */
export class PeerScores {
  // Peer identities are free: the scores of the least recently penalized peers beyond the bound are
  // forgotten (bans are kept separately and are not affected).
  private readonly scores = new BoundedMap<string, number>(MAX_SCORED_PEERS);
  private readonly bans = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly opts: PeerScoresOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Loads persisted bans, dropping (and deleting) those that have expired. */
  async load(): Promise<void> {
    const stored = await this.opts.bans.loadBans();
    const now = this.now();
    for (const [id, until] of stored) {
      if (until > now) this.bans.set(id, until);
      else await this.opts.bans.deleteBan(id);
    }
    // A list kept before the bound, or under a larger one.
    const newest = [...this.bans].sort((a, b) => b[1] - a[1])[0];
    if (newest && this.bans.size > (this.opts.maxBans ?? MAX_BANS)) this.trimBans(newest[0]);
  }

  score(id: string): number {
    return this.scores.get(id) ?? 0;
  }

  /** Whether `id` is banned now. An expired ban is lifted here (and deleted from the store). */
  isBanned(id: string): boolean {
    const until = this.bans.get(id);
    if (until === undefined) return false;
    if (until > this.now()) return true;
    this.bans.delete(id);
    this.scores.delete(id);
    this.opts.bans
      .deleteBan(id)
      .catch((err: unknown) => this.opts.logger.warn({ err, peer: id }, "cannot delete expired ban"));
    return false;
  }

  /** Ban expiry in ms since the epoch, when banned. */
  bannedUntil(id: string): number | undefined {
    return this.isBanned(id) ? this.bans.get(id) : undefined;
  }

  /** Current bans: peer id → expiry. */
  listBans(): Map<string, number> {
    for (const id of [...this.bans.keys()]) this.isBanned(id);
    return new Map(this.bans);
  }

  /**
   * Adds `points` to the peer's score; at the threshold bans it (once) and persists the ban. Resolves
   * after the ban is stored, so a caller that then disconnects the peer knows the ban will survive a restart.
   */
  async penalize(id: string, points: number): Promise<PenaltyResult> {
    if (points <= 0) return { score: this.score(id) };
    const score = this.score(id) + points;
    this.scores.set(id, score); // setting refreshes its age: "least recently penalized" goes first
    if (score < this.opts.banThreshold || this.isBanned(id)) return { score };
    const until = await this.ban(id);
    return { score, bannedUntil: until };
  }

  /** Bans `id` for the configured period (or until `until`), persisting the ban. Returns the expiry. */
  async ban(id: string, until = this.now() + this.opts.banMs): Promise<number> {
    this.bans.set(id, until);
    if (this.bans.size > (this.opts.maxBans ?? MAX_BANS)) this.trimBans(id);
    try {
      await this.opts.bans.putBan(id, until);
    } catch (err) {
      // The ban still holds for this process; only its survival across a restart is lost.
      this.opts.logger.warn({ err, peer: id }, "cannot persist ban");
    }
    return until;
  }

  /** Drops expired bans, then those that end soonest (never `keep`), down to the bound. */
  private trimBans(keep: string): void {
    const max = this.opts.maxBans ?? MAX_BANS;
    const now = this.now();
    const drop = (id: string): void => {
      this.bans.delete(id);
      this.opts.bans
        .deleteBan(id)
        .catch((err: unknown) => this.opts.logger.warn({ err, peer: id }, "cannot delete a dropped ban"));
    };
    for (const [id, until] of this.bans) if (until <= now && id !== keep) drop(id);
    if (this.bans.size <= max) return;
    const soonest = [...this.bans].filter(([id]) => id !== keep).sort((a, b) => a[1] - b[1]);
    for (const [id] of soonest.slice(0, this.bans.size - max)) drop(id);
  }

  /** Lifts a ban and clears the score. */
  async unban(id: string): Promise<void> {
    this.bans.delete(id);
    this.scores.delete(id);
    await this.opts.bans.deleteBan(id);
  }
}
