/**
 * Turns the peer addresses a user may give into multiaddrs libp2p can dial:
 *   - a multiaddr, with or without /p2p/<id>: `/ip4/127.0.0.1/tcp/6001/p2p/12D3Koo…`;
 *   - `host:port` (IPv6 as `[::1]:6001`), dialed without knowing the peer id;
 *   - a node's HTTP URL, `http://localhost:5001` (the original project's form): resolved by
 *     `GET <url>/api/p2p`, which answers `{ peerId, multiaddrs }`.
 */
import { isIP } from "node:net";
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import { z } from "zod";

/** A peer address that cannot be used, with the address and the reason. */
export class PeerAddressError extends Error {
  constructor(
    readonly address: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot use peer address "${address}": ${reason}`, options);
    this.name = "PeerAddressError";
  }
}

/** Body of `GET /api/p2p`, as served by src/api. */
export const P2PInfoSchema = z.object({
  peerId: z.string().min(1).max(128),
  multiaddrs: z.array(z.string().min(1).max(1024)).min(1).max(64),
});
/** What `GET /api/p2p` returns. */
export type P2PInfo = z.infer<typeof P2PInfoSchema>;

/** Options of address resolution. */
export interface ResolveOptions {
  /** Timeout of the HTTP lookup in ms (default 5,000). */
  timeoutMs?: number;
}

/** Whether `addr` is an HTTP(S) URL (the form resolved through the node's API). */
export function isHttpAddress(addr: string): boolean {
  return /^https?:\/\//i.test(addr);
}

function hostMultiaddr(host: string, port: number): string {
  const h = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (h === "localhost") return `/ip4/127.0.0.1/tcp/${port}`;
  const v = isIP(h);
  if (v === 4) return `/ip4/${h}/tcp/${port}`;
  if (v === 6) return `/ip6/${h}/tcp/${port}`;
  return `/dns4/${h}/tcp/${port}`;
}

function parseMultiaddr(s: string, original: string): Multiaddr {
  try {
    return multiaddr(s);
  } catch (err) {
    throw new PeerAddressError(original, `invalid multiaddr "${s}"`, { cause: err });
  }
}

/**
 * Fetches `<url>/api/p2p` and returns the node's multiaddrs, each ending in /p2p/<its peer id>.
 * Addresses bound to an unspecified IP (0.0.0.0, ::) are rewritten to the URL's host, which is how the
 * caller reached that node. Throws PeerAddressError on network errors, timeouts, HTTP errors and bodies
 * that do not match the schema.
 */
export async function fetchP2PInfo(url: string, opts: ResolveOptions = {}): Promise<P2PInfo> {
  const timeoutMs = opts.timeoutMs ?? 5_000;
  let endpoint: URL;
  try {
    endpoint = new URL(`${url.replace(/\/+$/, "")}/api/p2p`);
  } catch (err) {
    throw new PeerAddressError(url, "not a valid URL", { cause: err });
  }
  let res: Response;
  try {
    res = await fetch(endpoint, {
      signal: AbortSignal.timeout(timeoutMs),
      headers: { accept: "application/json" },
    });
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
    throw new PeerAddressError(
      url,
      timedOut ? `no answer from ${endpoint.href} within ${timeoutMs} ms` : `${endpoint.href} is unreachable`,
      { cause: err },
    );
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new PeerAddressError(url, `${endpoint.href} answered HTTP ${res.status}`);
  }
  let text: string;
  try {
    text = await readCapped(res, MAX_P2P_INFO_BYTES);
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
    throw new PeerAddressError(
      url,
      timedOut
        ? `no full answer from ${endpoint.href} within ${timeoutMs} ms`
        : `${endpoint.href}: ${errText(err)}`,
      { cause: err },
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new PeerAddressError(url, `${endpoint.href} did not return JSON`, { cause: err });
  }
  const parsed = P2PInfoSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join(".") : "body";
    throw new PeerAddressError(
      url,
      `${endpoint.href} returned an unexpected body (${where}: ${issue?.message ?? "invalid"})`,
    );
  }
  return parsed.data;
}

/** A /api/p2p answer is a peer id and a few addresses: anything much larger is not a jbc node. */
const MAX_P2P_INFO_BYTES = 64 * 1024;

const errText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Reads a response body as text, giving up (and cancelling the stream) past `max` bytes. */
async function readCapped(res: Response, max: number): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel();
      throw new Error(`answer larger than ${max} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Resolves a peer address (any of the three forms) to the multiaddrs to dial, in preference order.
 * Multiaddrs and host:port need no I/O; HTTP URLs are looked up with `fetchP2PInfo`.
 */
export async function resolvePeerAddress(addr: string, opts: ResolveOptions = {}): Promise<Multiaddr[]> {
  const a = addr.trim();
  if (a.startsWith("/")) return [parseMultiaddr(a, addr)];
  if (isHttpAddress(a)) {
    const info = await fetchP2PInfo(a, opts);
    const host = new URL(a).hostname;
    const out: Multiaddr[] = [];
    for (const s of info.multiaddrs) {
      let m = parseMultiaddr(s, addr);
      const parts = m.toString().split("/");
      // ["", "ip4", "0.0.0.0", "tcp", "6001", ...]
      if ((parts[1] === "ip4" && parts[2] === "0.0.0.0") || (parts[1] === "ip6" && parts[2] === "::")) {
        const port = Number(parts[4]);
        m = parseMultiaddr(
          `${hostMultiaddr(host, port)}/${parts.slice(5).join("/")}`.replace(/\/$/, ""),
          addr,
        );
      }
      if (!m.toString().includes("/p2p/")) m = parseMultiaddr(`${m.toString()}/p2p/${info.peerId}`, addr);
      else if (!m.toString().endsWith(`/p2p/${info.peerId}`))
        throw new PeerAddressError(addr, `multiaddr ${s} names another peer than ${info.peerId}`);
      out.push(m);
    }
    return out;
  }
  let u: URL;
  try {
    u = new URL(`tcp://${a}`);
  } catch (err) {
    throw new PeerAddressError(addr, "expected a multiaddr, host:port or http(s) URL", { cause: err });
  }
  const port = Number(u.port);
  if (
    !u.hostname ||
    !u.port ||
    !Number.isInteger(port) ||
    port < 1 ||
    port > 65535 ||
    u.pathname.length > 1
  ) {
    throw new PeerAddressError(addr, "expected a multiaddr, host:port or http(s) URL");
  }
  return [parseMultiaddr(hostMultiaddr(u.hostname, port), addr)];
}

/**
 * The IP address a peer address names without any lookup (a multiaddr's /ip4 or /ip6, host:port or a
 * URL with an IP host), or undefined (hostnames, bad input). Used for the inbound allow-list.
 */
export function peerAddressIp(addr: string): string | undefined {
  const a = addr.trim();
  if (a.startsWith("/")) {
    const parts = a.split("/");
    return (parts[1] === "ip4" || parts[1] === "ip6") && isIP(parts[2] ?? "") ? parts[2] : undefined;
  }
  let host: string;
  try {
    host = new URL(isHttpAddress(a) ? a : `tcp://${a}`).hostname;
  } catch {
    return undefined;
  }
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  if (host === "localhost") return "127.0.0.1";
  return isIP(host) ? host : undefined;
}
