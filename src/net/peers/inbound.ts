/**
 * Admission of inbound connections, before libp2p spends a handshake on them (the connection gater's
 * denyInboundConnection). libp2p alone admits 10 connections in handshake at a time from anyone and
 * gives each 10 s, so one host holding 10 idle sockets locks every other peer out. Here, as Bitcoin
 * Core guards its slots against eclipse attacks (net.cpp: inbound slots apart from the outbound ones it
 * keeps for itself, eviction that protects peers by network group):
 *   - one address may have at most `maxPendingPerAddress` connections in handshake at once;
 *   - inbound connections never take the slots kept for outbound ones (`maxPeers - outboundSlots`);
 *   - addresses of configured peers (the allow-list) skip both limits;
 *   - a banned address is refused outright.
 */
import type { MultiaddrConnection } from "@libp2p/interface";
import type { Multiaddr } from "@multiformats/multiaddr";

/** The IP address of a multiaddr (/ip4/… or /ip6/…), or undefined for any other kind. */
export function multiaddrIp(ma: Multiaddr): string | undefined {
  for (const c of ma.getComponents()) if (c.name === "ip4" || c.name === "ip6") return c.value;
  return undefined;
}

export interface InboundGateOptions {
  /** Connections one address may have in handshake at the same time. */
  maxPendingPerAddress: number;
  /** Most inbound connections (the rest of maxPeers is kept for outbound ones). */
  maxInbound: number;
  /** Inbound connections now open (upgraded). */
  inboundCount(): number;
  /** Addresses that skip the limits (configured peers). */
  allowed(ip: string): boolean;
  /** Addresses refused outright (banned). */
  banned(ip: string): boolean;
}

export class InboundGate {
  private readonly pending = new Map<string, number>();
  private readonly counted = new WeakSet<MultiaddrConnection>();

  constructor(private readonly opts: InboundGateOptions) {}

  /** Connections from `ip` now in handshake. */
  pendingFrom(ip: string): number {
    return this.pending.get(ip) ?? 0;
  }

  /** The gater's denyInboundConnection: true refuses (libp2p closes the socket at once). */
  readonly deny = (maConn: MultiaddrConnection): boolean => {
    const ip = multiaddrIp(maConn.remoteAddr);
    if (ip === undefined) return false;
    if (this.opts.banned(ip)) return true;
    if (this.opts.allowed(ip)) return false;
    if (this.pendingFrom(ip) >= this.opts.maxPendingPerAddress) return true;
    if (this.opts.inboundCount() >= this.opts.maxInbound) return true;
    this.pending.set(ip, this.pendingFrom(ip) + 1);
    this.counted.add(maConn);
    maConn.addEventListener("close", () => this.release(maConn, ip), { once: true });
    return false;
  };

  /** The gater's denyInboundUpgradedConnection: the handshake is over, so it no longer counts as pending. */
  readonly upgraded = (_peer: unknown, maConn: MultiaddrConnection): boolean => {
    const ip = multiaddrIp(maConn.remoteAddr);
    if (ip !== undefined) this.release(maConn, ip);
    return false;
  };

  private release(maConn: MultiaddrConnection, ip: string): void {
    if (!this.counted.has(maConn)) return;
    this.counted.delete(maConn);
    const n = this.pendingFrom(ip) - 1;
    if (n > 0) this.pending.set(ip, n);
    else this.pending.delete(ip);
  }
}
