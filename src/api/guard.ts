import { timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { isIP } from "node:net";
import { CLIENT_HEADER } from "./routes.ts";
import { ApiError } from "./schemas.ts";

/**
 * Who may ask the API what (docs/api.md, "Who may ask what"), checked on every request before its route
 * runs, the explorer's files and the 404s included. A web page in the node owner's browser is the
 * adversary here: it can make the browser send requests to 127.0.0.1 (cross-site requests), and, by
 * pointing a name it controls at 127.0.0.1 (DNS rebinding), make them same-origin for the browser.
 *
 * 1. **Host.** A request names the node by an IP address, `localhost` (or a `*.localhost` name) or a name
 *    the operator listed (`--api-hosts`). A rebinding page can only send its own name, so it is refused
 *    before anything is read. After geth's `--http.vhosts` (IP addresses always pass, names must be
 *    listed, `*` turns the check off) and Transmission's `rpc-host-whitelist`.
 * 2. **Origin and fetch metadata.** A browser's request from another origin (its `Origin` header names
 *    another host or port, or `Sec-Fetch-Site` says `cross-site` / `same-site`) is refused, save a plain
 *    link or a typed address (a GET navigation) to the explorer. The API sends no CORS headers, so
 *    preflights fail too.
 * 3. **State-changing requests** (every method but GET and HEAD) show that no page sent them: the API
 *    token, the `X-JBC-Client` header, or a body of a type browsers will not send across sites without a
 *    preflight (`application/json`, `application/octet-stream`). Loopback is not exempt: a page runs on
 *    the same machine. Routes marked `auth` further need the token from any other address.
 *
 * Bitcoin Core reaches the same end by always requiring credentials (a cookie file in the data directory)
 * and never answering CORS; jbc keeps reads open and loopback writes token-free for `jbc` and curl.
 */

export interface GuardOptions {
  /** The API token: required by `auth` routes from non-loopback addresses, and proof on any route. */
  token?: string | undefined;
  /**
   * Host names the API answers to besides IP addresses and localhost: exact names (`node.example`),
   * `*.suffix` patterns (`*.lan`), or `*` for any (turns the Host check off).
   */
  allowedHosts?: readonly string[] | undefined;
}

/** What a route tells the guard, in its Fastify route config (set by src/api/register.ts). */
export interface RouteGuardConfig {
  /** The route needs the API token from non-loopback addresses. */
  auth: boolean;
}

/** What the guard reads of a request (a plain object, so the rule is testable without a server). */
export interface GuardRequest {
  method: string;
  headers: IncomingHttpHeaders;
  remoteAddress: string | undefined;
  /** The route needs the token from non-loopback addresses. */
  auth: boolean;
}

/** True for 127.0.0.0/8 and ::1, plain or IPv4-mapped. Forwarding headers are never trusted. */
export function isLoopback(addr: string | undefined): boolean {
  if (!addr) return false;
  const a = addr.startsWith("::ffff:") ? addr.slice(7) : addr;
  return a === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/** True when `header` is `Bearer <token>` with the node's token (compared in constant time). */
export function tokenMatches(header: string | undefined, token: string | undefined): boolean {
  if (!token || !header) return false;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!m) return false;
  const given = Buffer.from(m[1]!);
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

/** A host name as the allow list holds it: lower case, without one trailing dot (`localhost.`). */
function normalName(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}

/**
 * The host of a `Host` header (`name`, `name:port`, `[v6]:port`), normalised as a browser does
 * (`0x7f.1` is 127.0.0.1), or undefined when it is not a bare host and port.
 */
export function hostOf(header: string): string | undefined {
  let u: URL;
  try {
    u = new URL(`http://${header}`);
  } catch {
    return undefined;
  }
  if (u.username || u.password || u.pathname !== "/" || u.search || u.hash || !u.hostname) return undefined;
  return normalName(u.hostname);
}

/** A name (one trailing dot allowed), `*.` and a name, or `*` alone. */
const HOST_PATTERN = /^(?:\*|(?:\*\.)?[a-z0-9_][a-z0-9_-]*(?:\.[a-z0-9_][a-z0-9_-]*)*\.?)$/;

/** True for an entry `--api-hosts` accepts: a host name, `*.` and a name, `*`, or an IP address. */
export function isHostPattern(entry: string): boolean {
  const e = entry.trim().toLowerCase();
  return (e.length <= 254 && HOST_PATTERN.test(e)) || isIP(e.replace(/^\[(.*)\]$/, "$1")) !== 0;
}

/** Decides whether a `Host` header names this node; built once from the allow list. */
export function hostMatcher(allowed: readonly string[] = []): (hostHeader: string) => boolean {
  const names = new Set<string>();
  const suffixes: string[] = [];
  let any = false;
  for (const raw of allowed) {
    // An entry that is no pattern (`*.`, a URL) matches nothing rather than something unintended.
    if (!isHostPattern(raw)) continue;
    const entry = normalName(raw.trim());
    if (entry === "*") any = true;
    else if (entry.startsWith("*.")) suffixes.push(entry.slice(1));
    else if (entry) names.add(entry);
  }
  return (hostHeader) => {
    const host = hostOf(hostHeader);
    if (host === undefined) return false;
    // A rebinding page sends the name it controls; an IP address in Host is no such name.
    if (isIP(host.replace(/^\[(.*)\]$/, "$1"))) return true;
    // Reserved for loopback (RFC 6761): no outside DNS answers for these names.
    if (host === "localhost" || host.endsWith(".localhost")) return true;
    return any || names.has(host) || suffixes.some((s) => host.endsWith(s));
  };
}

/** True when `origin` (scheme://host[:port]) is the origin the request was sent to. */
function sameOrigin(origin: string, hostHeader: string | undefined): boolean {
  if (!hostHeader) return false;
  try {
    const o = new URL(origin);
    if (o.protocol !== "http:" && o.protocol !== "https:") return false;
    // Parsed with the origin's scheme so that default ports compare equal (`x` and `x:80` over http).
    return new URL(`${o.protocol}//${hostHeader}`).host === o.host && o.origin === origin.toLowerCase();
  } catch {
    return false;
  }
}

/** The media type without parameters, lower case (`application/json; charset=utf-8` → `application/json`). */
function essence(contentType: string | undefined): string {
  return (contentType ?? "").split(";")[0]!.trim().toLowerCase();
}

/** Body types a page cannot send to another site without a preflight, which this API never grants. */
const PREFLIGHTED_TYPES = new Set(["application/json", "application/octet-stream"]);

const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

/**
 * The rule for one request: undefined when it may proceed, else the refusal (403 HOST_NOT_ALLOWED,
 * 403 CROSS_ORIGIN, 401 UNAUTHORIZED, 403 CLIENT_HEADER_REQUIRED), in that order of checks.
 */
export function checkRequest(
  req: GuardRequest,
  opts: { token?: string | undefined; hostAllowed: (host: string) => boolean },
): ApiError | undefined {
  const h = req.headers;
  const host = h.host;
  // Browsers always send Host; a client that sends none (HTTP/1.0) is no page.
  if (host !== undefined && !opts.hostAllowed(host)) {
    return new ApiError(
      403,
      "HOST_NOT_ALLOWED",
      `this node does not answer to the host '${host.slice(0, 200)}': use its IP address or localhost, or ` +
        "start it with --api-hosts <name> for a name you own (a check against DNS rebinding)",
    );
  }
  const safe = req.method === "GET" || req.method === "HEAD";
  const origin = one(h.origin);
  const site = one(h["sec-fetch-site"]);
  const navigation = safe && one(h["sec-fetch-mode"]) === "navigate";
  if (
    (origin !== undefined && !sameOrigin(origin, host)) ||
    ((site === "cross-site" || site === "same-site") && !navigation)
  ) {
    return new ApiError(
      403,
      "CROSS_ORIGIN",
      `requests from pages of other origins are refused${origin ? ` (Origin ${origin.slice(0, 200)})` : ""}`,
    );
  }
  if (safe) return undefined;
  const authorized = tokenMatches(one(h.authorization), opts.token);
  if (req.auth && !authorized && !isLoopback(req.remoteAddress)) {
    return new ApiError(
      401,
      "UNAUTHORIZED",
      "this route needs 'Authorization: Bearer <api token>' from a non-loopback address",
    );
  }
  const client = one(h[CLIENT_HEADER.toLowerCase()]);
  if (authorized || (client !== undefined && client.trim() !== "")) return undefined;
  if (PREFLIGHTED_TYPES.has(essence(one(h["content-type"])))) return undefined;
  return new ApiError(
    403,
    "CLIENT_HEADER_REQUIRED",
    `a ${req.method} must show it was not sent by a web page: add the header '${CLIENT_HEADER}: <your ` +
      `client's name>' (curl: -H '${CLIENT_HEADER}: curl'), the API token, or a JSON or octet-stream body`,
  );
}
