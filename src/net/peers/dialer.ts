/**
 * Peers the user asked for (btcd's connmgr): dialed at start, redialed with exponential backoff and
 * jitter when they drop (never given up for being unreachable), given up when they turn out banned or
 * foreign.
 */
import type { Connection, Libp2p } from "@libp2p/interface";
import { errorMessage } from "../../util/errors.ts";
import type { Logger } from "../../util/logger.ts";
import type { NetworkLimits } from "../options.ts";
import { resolvePeerAddress } from "../resolve.ts";

/** A peer the user asked for. */
interface ConfiguredPeer {
  addr: string;
  peerId: string | undefined;
  attempts: number;
  timer: NodeJS.Timeout | undefined;
  dialing: boolean;
  gaveUp: boolean;
}

/** What the dialer asks of the peer table. */
export interface DialerHost {
  node: Libp2p;
  limits: NetworkLimits;
  log: Logger;
  started(): boolean;
  /** Whether `id` is connected (it has an entry in the peer table). */
  isConnected(id: string): boolean;
  /** Whether `id` must not be redialed (banned or on another network). */
  isRefused(id: string): boolean;
}

export class Dialer {
  private readonly configured = new Map<string, ConfiguredPeer>();

  constructor(private readonly host: DialerHost) {}

  /** Keeps `addr` among the configured peers (not dialed until `dialAll` or a redial). */
  configure(addr: string): ConfiguredPeer {
    let p = this.configured.get(addr);
    if (!p) {
      p = { addr, peerId: undefined, attempts: 0, timer: undefined, dialing: false, gaveUp: false };
      this.configured.set(addr, p);
    }
    return p;
  }

  /** Whether `addr` is configured, not given up, and its peer connected. */
  isConnected(addr: string): boolean {
    const p = this.configured.get(addr);
    return p !== undefined && !p.gaveUp && p.peerId !== undefined && this.host.isConnected(p.peerId);
  }

  /** Records that `addr` reached `peerId` (addPeer succeeded): it is kept and redialed from now on. */
  connected(addr: string, peerId: string): void {
    const p = this.configure(addr);
    p.peerId = peerId;
    p.attempts = 0;
    p.gaveUp = false;
  }

  /** Dials every configured peer in the background, with retries. */
  dialAll(): void {
    for (const p of this.configured.values()) void this.dialConfigured(p);
  }

  /** Cancels every pending redial. */
  stop(): void {
    for (const p of this.configured.values()) clearTimeout(p.timer);
  }

  /** Never redials `id` again (it was banned, or is on another network). */
  giveUp(id: string): void {
    for (const c of this.configured.values()) if (c.peerId === id) c.gaveUp = true;
  }

  /** `id` disconnected: redial it if it is a configured peer. */
  dropped(id: string): void {
    for (const c of this.configured.values()) {
      if (c.peerId === id && !c.gaveUp) {
        c.attempts = 0;
        this.scheduleRedial(c);
      }
    }
  }

  /** Resolves an address and dials its multiaddrs in order until one connects. */
  async dialAddress(addr: string): Promise<Connection> {
    const { node, limits } = this.host;
    const addrs = await resolvePeerAddress(addr, { timeoutMs: limits.resolveTimeoutMs });
    let last: unknown;
    for (const ma of addrs) {
      try {
        // Only a timeout: stopping the node aborts pending dials itself, and tying every dial to a
        // long-lived signal with AbortSignal.any would pile listeners onto it.
        return await node.dial(ma, { signal: AbortSignal.timeout(limits.dialTimeoutMs) });
      } catch (err) {
        last = err;
      }
    }
    throw new Error(`cannot connect to ${addr}: ${errorMessage(last)}`, { cause: last });
  }

  private async dialConfigured(p: ConfiguredPeer): Promise<void> {
    const { log, limits } = this.host;
    if (!this.host.started() || p.dialing || p.gaveUp) return;
    if (p.peerId && this.host.isConnected(p.peerId)) return;
    p.dialing = true;
    try {
      const conn = await this.dialAddress(p.addr);
      p.peerId = conn.remotePeer.toString();
      p.attempts = 0;
    } catch (err) {
      if (!this.host.started()) return;
      p.attempts++;
      if (p.peerId && this.host.isRefused(p.peerId)) {
        p.gaveUp = true;
        log.warn({ peer: p.addr }, "not redialing a banned or foreign peer");
      } else if (p.attempts === limits.redialAttempts) {
        // Never given up (Bitcoin Core retries -addnode peers forever): after a long partition the two
        // sides would otherwise have given up on each other for good. From here on, once per redialMaxMs.
        log.warn(
          { peer: p.addr, attempts: p.attempts, err: errorMessage(err) },
          "peer unreachable: retrying at the longest interval",
        );
        this.scheduleRedial(p);
      } else {
        log.debug({ peer: p.addr, attempt: p.attempts, err: errorMessage(err) }, "dial failed, will retry");
        this.scheduleRedial(p);
      }
    } finally {
      p.dialing = false;
    }
  }

  private scheduleRedial(p: ConfiguredPeer): void {
    if (!this.host.started() || p.gaveUp) return;
    if (p.peerId && this.host.isRefused(p.peerId)) {
      p.gaveUp = true;
      return;
    }
    clearTimeout(p.timer);
    const { redialMaxMs, redialBaseMs } = this.host.limits;
    const { redialAttempts } = this.host.limits;
    const delay =
      p.attempts >= redialAttempts ? redialMaxMs : Math.min(redialMaxMs, redialBaseMs * 2 ** p.attempts);
    // Jitter so peers that dropped together do not redial in lockstep.
    p.timer = setTimeout(() => void this.dialConfigured(p), delay * (0.75 + Math.random() * 0.5));
    p.timer.unref();
  }
}
