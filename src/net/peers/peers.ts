/**
 * The peer table: one entry per connected peer, the status handshake that makes it "joined", detection
 * of peers on another network, misbehaviour points and bans (with the hang-up they cause), and the
 * configured peers the Dialer keeps connected.
 */
import type { Connection, PeerId, Stream } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { hashToHex, hexToHash } from "../../consensus/header.ts";
import type { BoundedMap } from "../../util/bounded.ts";
import { errorMessage } from "../../util/errors.ts";
import type { NetContext } from "../context.ts";
import type { PeerInfo } from "../options.ts";
import type { Status } from "../protocols.ts";
import { answerStatus, describeNetwork, fetchStatus, isForeignStatus } from "../reqresp/status.ts";
import { peerAddressIp } from "../resolve.ts";
import { Dialer } from "./dialer.ts";
import { addressBanKey, isSharedAddress, type PeerScores, penaltyFor } from "./scores.ts";

/** How long a foreign peer that asked for our status may stay connected to read the answer, in ms. */
const FOREIGN_GRACE_MS = 1_000;

/** Most peer identities remembered as foreign (another network); older ones are forgotten first. */
export const MAX_REMEMBERED_PEERS = 10_000;

/** A connected peer (joined once its status has been read). */
export interface PeerState {
  id: string;
  peerId: PeerId;
  address: string;
  direction: "inbound" | "outbound";
  since: number;
  joined: boolean;
  status: Status | undefined;
  /** Work the peer claimed when a sync from it last ended short of it: not retried until it claims more. */
  stalledAt: bigint | undefined;
  statusInFlight: boolean;
  lastStatusAt: number;
}

/** What the peer table tells the rest of the network layer. */
export interface PeerHooks {
  /** A peer disconnected (its per-connection state elsewhere can go). */
  disconnected(id: string): void;
  /** A peer's status claims more work than our tip. */
  ahead(): void;
}

export class Peers {
  private readonly peers = new Map<string, PeerState>();
  /** addPeer calls waiting for a peer's first status: called with nothing when it joins, or with why not. */
  private readonly handshakes = new Map<string, Set<(err?: Error) => void>>();
  private readonly genesis: Uint8Array;
  readonly dialer: Dialer;

  constructor(
    private readonly ctx: NetContext,
    readonly scores: PeerScores,
    /** Peers on another network, with what they said they are (bounded: identities are free). */
    readonly foreign: BoundedMap<string, string>,
    private readonly hooks: PeerHooks,
  ) {
    this.genesis = hexToHash(ctx.params.genesisHash);
    this.dialer = new Dialer({
      node: ctx.node,
      limits: ctx.limits,
      log: ctx.log,
      started: () => ctx.started(),
      isConnected: (id) => this.peers.has(id),
      isRefused: (id) => this.foreign.has(id) || scores.isBanned(id),
    });
  }

  get(id: string): PeerState | undefined {
    return this.peers.get(id);
  }

  /** Peers that completed the status exchange. */
  *joined(): Iterable<PeerState> {
    for (const p of this.peers.values()) if (p.joined) yield p;
  }

  info(p: PeerState): PeerInfo {
    return {
      peerId: p.id,
      address: p.address,
      direction: p.direction,
      score: this.scores.score(p.id),
      height: p.status?.height ?? 0,
      tipHash: p.status ? hashToHex(p.status.tip) : "",
      work: p.status?.work ?? 0n,
      connectedSince: p.since,
    };
  }

  /**
   * Connects to `addr`, waits for its status and keeps it connected. Rejects with the reason when it
   * cannot be resolved, dialed or handshaken now; the address is then not kept.
   */
  async addPeer(addr: string): Promise<void> {
    if (this.dialer.isConnected(addr)) return;
    const conn = await this.dialer.dialAddress(addr);
    await this.waitForJoin(conn.remotePeer.toString());
    this.dialer.connected(addr, conn.remotePeer.toString());
  }

  // ---------------------------------------------------------------- connections

  private peerState(peerId: PeerId, conn?: Connection): PeerState {
    const id = peerId.toString();
    let p = this.peers.get(id);
    if (!p) {
      const c = conn ?? this.ctx.node.getConnections(peerId)[0];
      p = {
        id,
        peerId,
        address: c?.remoteAddr.toString() ?? "",
        direction: c?.direction ?? "inbound",
        since: c?.timeline.open ?? Date.now(),
        joined: false,
        status: undefined,
        stalledAt: undefined,
        statusInFlight: false,
        lastStatusAt: 0,
      };
      this.peers.set(id, p);
    }
    return p;
  }

  readonly onConnect = (evt: CustomEvent<PeerId>): void => {
    if (!this.ctx.started()) return;
    const p = this.peerState(evt.detail);
    this.ctx.log.debug({ peer: p.id, address: p.address, direction: p.direction }, "peer connected");
    void this.requestStatus(p, true);
  };

  readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString();
    const p = this.peers.get(id);
    this.peers.delete(id);
    this.hooks.disconnected(id);
    this.settleHandshake(id, new Error(`peer ${id} disconnected before completing the status exchange`));
    if (p?.joined) {
      this.ctx.log.info({ peer: id }, "peer left");
      this.ctx.events.emit("peer:left", this.info(p));
    }
    if (this.ctx.started()) this.dialer.dropped(id);
  };

  readonly onDiscovery = (evt: CustomEvent<{ id: PeerId }>): void => {
    const { node, limits, log } = this.ctx;
    const id = evt.detail.id;
    if (!this.ctx.started() || this.peers.has(id.toString()) || this.peers.size >= limits.maxPeers) return;
    node.dial(id, { signal: AbortSignal.timeout(limits.dialTimeoutMs) }).catch((err: unknown) => {
      log.debug({ peer: id.toString(), err: errorMessage(err) }, "cannot dial discovered peer");
    });
  };

  // ---------------------------------------------------------------- scoring

  /** Adds a penalty; bans and disconnects at the threshold. */
  async penalize(id: string, points: number, reason: string): Promise<void> {
    if (points <= 0) return;
    const r = await this.scores.penalize(id, points);
    this.ctx.log.info({ peer: id, points, score: r.score, reason }, "peer penalised");
    if (r.bannedUntil !== undefined) await this.disconnectBanned(id, r.bannedUntil, reason);
  }

  /** Penalises `id` for a failed exchange as `penaltyFor` prices it; a fault-free failure is only logged. */
  async penalizeError(id: string, err: unknown, what: string): Promise<void> {
    const p = penaltyFor(err, what);
    if (p) return this.penalize(id, p.points, p.reason);
    const stack = err instanceof Error ? err.stack : "";
    this.ctx.log.debug({ peer: id, err: errorMessage(err), stack }, `${what} failed`);
  }

  /**
   * After a ban (already recorded in the scores): bans the peer's IP address too, for as long (a new
   * identity is free, a new address is not; loopback is never banned, it is every local peer), stops
   * redialing `id`, emits peer:banned, hangs up.
   */
  async disconnectBanned(id: string, until: number, reason: string): Promise<void> {
    const { log, node } = this.ctx;
    const ip = peerAddressIp(this.peers.get(id)?.address ?? "");
    const address = ip !== undefined && !isSharedAddress(ip) ? ip : undefined;
    if (address !== undefined) await this.scores.ban(addressBanKey(address), until);
    log.warn({ peer: id, address, until: new Date(until).toISOString(), reason }, "peer banned");
    this.dialer.giveUp(id);
    this.ctx.events.emit("peer:banned", { peerId: id, until, reason });
    if (this.ctx.started()) {
      await node.hangUp(peerIdFromString(id)).catch((err: unknown) => {
        log.debug({ peer: id, err: errorMessage(err) }, "hang-up failed");
      });
    }
  }

  // ---------------------------------------------------------------- status handshake

  localStatus(): Status {
    const tip = this.ctx.chain.tip;
    return {
      networkId: this.ctx.params.networkId,
      genesis: this.genesis,
      height: tip.height,
      tip: tip.hashBytes,
      work: tip.chainWork,
    };
  }

  /** Resolves when `id` has joined (passed the status exchange); rejects with the reason it did not. */
  private waitForJoin(id: string): Promise<void> {
    if (this.peers.get(id)?.joined) return Promise.resolve();
    const foreign = this.foreign.get(id);
    if (foreign) return Promise.reject(new Error(`peer ${id} is on another network (${foreign})`));
    return new Promise((resolve, reject) => {
      let waiters = this.handshakes.get(id);
      if (!waiters) {
        waiters = new Set();
        this.handshakes.set(id, waiters);
      }
      const settle = (err?: Error): void => {
        clearTimeout(timer);
        waiters.delete(settle);
        if (waiters.size === 0 && this.handshakes.get(id) === waiters) this.handshakes.delete(id);
        if (err) reject(err);
        else resolve();
      };
      const ms = this.ctx.limits.statusTimeoutMs + 1_000;
      const timer = setTimeout(() => settle(new Error(`no status from peer ${id} within ${ms} ms`)), ms);
      waiters.add(settle);
    });
  }

  private settleHandshake(id: string, err?: Error): void {
    const waiters = this.handshakes.get(id);
    if (!waiters) return;
    this.handshakes.delete(id);
    for (const w of [...waiters]) w(err);
  }

  private isForeign(s: Status): boolean {
    return isForeignStatus(s, this.ctx.params.networkId, this.genesis);
  }

  /** Remembers a peer as foreign: no redial, and addPeer callers learn why. Idempotent. */
  private markForeign(p: PeerState, s: Status): void {
    if (this.foreign.has(p.id)) return;
    this.ctx.log.warn(
      { peer: p.id, networkId: `0x${s.networkId.toString(16)}`, genesis: hashToHex(s.genesis) },
      "peer is on another network: disconnecting",
    );
    const network = describeNetwork(s);
    this.foreign.set(p.id, network);
    this.dialer.giveUp(p.id);
    this.settleHandshake(p.id, new Error(`peer ${p.id} is on another network (${network})`));
  }

  /** Handles a peer's status (from either direction of the exchange). */
  private onStatus(p: PeerState, s: Status): void {
    if (this.isForeign(s)) {
      this.markForeign(p, s);
      void this.ctx.node.hangUp(p.peerId).catch(() => {});
      return;
    }
    p.status = s;
    p.lastStatusAt = Date.now();
    if (!p.joined && this.peers.get(p.id) === p) {
      p.joined = true;
      this.ctx.log.info({ peer: p.id, address: p.address, height: s.height }, "peer joined");
      this.ctx.events.emit("peer:joined", this.info(p));
      this.settleHandshake(p.id);
    }
    if (s.work > this.ctx.chain.tip.chainWork) this.hooks.ahead();
  }

  /** Asks a peer for its status. On first contact a failure disconnects it (not a jbc peer, or broken). */
  async requestStatus(p: PeerState, firstContact = false): Promise<void> {
    if (p.statusInFlight) return;
    p.statusInFlight = true;
    try {
      const s = await fetchStatus(
        this.ctx.node,
        p.peerId,
        () => this.localStatus(),
        this.ctx.limits.statusTimeoutMs,
      );
      this.onStatus(p, s);
    } catch (err) {
      if (!this.ctx.started()) return;
      await this.penalizeError(p.id, err, "status request");
      if (firstContact && !p.joined && this.peers.get(p.id) === p) {
        this.ctx.log.debug({ peer: p.id, err: errorMessage(err) }, "status exchange failed: disconnecting");
        await this.ctx.node.hangUp(p.peerId).catch(() => {});
      }
    } finally {
      p.statusInFlight = false;
    }
  }

  /**
   * Sends our status to every joined peer known to be behind our tip (a status request carries ours):
   * one that sees more work syncs from us. For blocks that gossip did not carry on (Bitcoin Core
   * announces every new tip to its peers; here gossip does that, and this covers what it missed).
   */
  announce(): void {
    const work = this.ctx.chain.tip.chainWork;
    for (const p of this.peers.values()) {
      if (p.joined && (p.status?.work ?? 0n) < work) void this.requestStatus(p);
    }
  }

  /** Re-asks every joined peer whose status is older than half the status interval. */
  refreshStatuses(): void {
    const now = Date.now();
    for (const p of this.peers.values()) {
      if (p.joined && now - p.lastStatusAt >= this.ctx.limits.statusIntervalMs / 2)
        void this.requestStatus(p);
    }
  }

  /** Answers a peer's status request (the STATUS_PROTOCOL handler). */
  async serveStatus(stream: Stream, conn: Connection): Promise<void> {
    const p = this.peerState(conn.remotePeer, conn);
    try {
      const theirs = await answerStatus(
        stream,
        this.ctx.limits.statusTimeoutMs,
        () => this.localStatus(),
        // A foreign peer is marked before we answer: the peer hangs up as soon as it reads our answer,
        // and that disconnect must not be reported as an unfinished handshake.
        (s) => {
          if (this.isForeign(s)) this.markForeign(p, s);
        },
      );
      // For a foreign peer the hang-up is left to our own status request (sent on connect), which ends
      // only after the peer has read our status: hanging up here could cut our answer off before it
      // arrives. If that request fails, requestStatus hangs up anyway; a late hang-up covers the rest.
      if (!this.isForeign(theirs)) this.onStatus(p, theirs);
      else setTimeout(() => void this.ctx.node.hangUp(p.peerId).catch(() => {}), FOREIGN_GRACE_MS).unref();
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)));
      await this.penalizeError(p.id, err, "status request from peer");
    }
  }

  /** A peer relayed a block we accepted: it has at least that chain. */
  sawTip(id: string, hash: string): void {
    const p = this.peers.get(id);
    const e = this.ctx.chain.getEntry(hash);
    if (!p?.status || !e || e.chainWork <= p.status.work) return;
    p.status = { ...p.status, height: e.height, tip: e.hashBytes, work: e.chainWork };
  }
}
