import { isIP } from "node:net";
import { multiaddr } from "@multiformats/multiaddr";
import { errorMessage } from "../util/errors.ts";
import { ApiError } from "./schemas.ts";

/**
 * Checks the form of an address given to POST /api/peers before anything is dialed: a multiaddr, an
 * http(s) URL of another node, or host:port. One that cannot be any of them is the caller's mistake,
 * 400 BAD_ADDRESS; one that parses but cannot be reached is the network's answer (502 DIAL_FAILED).
 */
export function checkPeerAddress(addr: string): void {
  const a = addr.trim();
  const bad = (why: string): never => {
    throw new ApiError(400, "BAD_ADDRESS", `cannot use peer address "${addr}": ${why}`);
  };
  if (a.startsWith("/")) {
    try {
      multiaddr(a);
    } catch (err) {
      bad(`not a valid multiaddr (${errorMessage(err)})`);
    }
    return;
  }
  const url = (text: string): URL | undefined => {
    try {
      return new URL(text);
    } catch {
      return undefined;
    }
  };
  if (/^https?:\/\//i.test(a)) {
    const u = url(a);
    if (!u) bad("not a valid URL");
    else if (!u.hostname) bad("the URL has no host");
    return;
  }
  const u = url(`tcp://${a}`) ?? bad("expected a multiaddr, host:port or http(s) URL");
  const port = Number(u.port);
  const host = u.hostname.replace(/^\[|\]$/g, "");
  if (!host || !u.port || port < 1 || port > 65535 || u.pathname.length > 1 || u.search || u.hash) {
    bad("expected a multiaddr, host:port or http(s) URL");
  }
  if (!isIP(host) && !/^[A-Za-z0-9.-]+$/.test(host)) bad(`"${host}" is not a host name`);
}
