/**
 * Where a light client's headers come from: the `HeaderSource` interface (a node's API, a peer, a file)
 * and the HTTP source a node's API is (GET /api/headers, docs/api.md). An answer that is not an answer
 * is a `HeaderSourceError` (no verdict on the source's honesty); what its headers are worth is the
 * client's to judge (sync.ts, client.ts).
 *
 * Browser-safe: `fetch`, typed arrays, no `node:` module.
 */
import { HEADER_SIZE } from "../consensus/header.ts";
import type { SourceClaim } from "./types.ts";

/** Most headers one request may ask for (the API's bound, docs/api.md). */
export const MAX_HEADERS_PER_REQUEST = 2000;

/** What a source says about itself. */
export interface SourceTip {
  network: string;
  genesis: string;
  claim: SourceClaim;
}

/** Somewhere headers come from: a node's API, a peer, a file. */
export interface HeaderSource {
  /** How it is named in verdicts (a URL). */
  readonly name: string;
  /** Its network and tip, as it claims them. */
  tip(): Promise<SourceTip>;
  /** Up to `count` headers of its best chain from height `from`, 80 bytes each, concatenated. */
  headers(from: number, count: number): Promise<Uint8Array>;
}

/** A source could not be asked, or answered something that is not an answer (no verdict on honesty). */
export class HeaderSourceError extends Error {
  override readonly name = "HeaderSourceError";
  constructor(
    readonly code: "UNREACHABLE" | "HTTP_ERROR" | "BAD_RESPONSE",
    message: string,
  ) {
    super(message);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Reads at most `max` bytes of a response body; more is a BAD_RESPONSE (a source cannot flood us). */
async function readCapped(res: Response, max: number, what: string): Promise<Uint8Array> {
  const reader = res.body?.getReader();
  if (!reader) return new Uint8Array(0);
  const parts: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.length;
    if (n > max) {
      await reader.cancel().catch(() => {});
      throw new HeaderSourceError("BAD_RESPONSE", `${what}: more than ${max} bytes`);
    }
    parts.push(value);
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A node's HTTP API as a header source: GET /api/headers?count=0 for its tip, /api/headers/raw for headers. */
export class HttpHeaderSource implements HeaderSource {
  readonly name: string;
  private readonly base: string;
  private readonly timeoutMs: number;

  constructor(url: string, opts: { timeoutMs?: number } = {}) {
    this.base = url.replace(/\/+$/, "");
    this.name = this.base;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  private async get(path: string, accept: string): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        headers: { accept },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : "";
      throw new HeaderSourceError(
        "UNREACHABLE",
        `cannot reach ${this.base}: ${err instanceof Error ? err.message : String(err)}${cause}`,
      );
    }
    if (!res.ok) {
      const text = (await readCapped(res, 4096, "error body").catch(() => new Uint8Array(0))).slice(0, 200);
      throw new HeaderSourceError(
        "HTTP_ERROR",
        `${this.base}${path}: HTTP ${res.status} ${new TextDecoder().decode(text)}`.trim(),
      );
    }
    return res;
  }

  async tip(): Promise<SourceTip> {
    const res = await this.get("/api/headers?count=0", "application/json");
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder().decode(await readCapped(res, 64 * 1024, "tip")));
    } catch (err) {
      if (err instanceof HeaderSourceError) throw err;
      throw new HeaderSourceError("BAD_RESPONSE", `${this.base}/api/headers: not JSON`);
    }
    const t = isObject(body) ? body["tip"] : undefined;
    if (
      !isObject(body) ||
      typeof body["network"] !== "string" ||
      typeof body["genesis"] !== "string" ||
      !isObject(t) ||
      !Number.isSafeInteger(t["height"]) ||
      typeof t["hash"] !== "string" ||
      !/^[0-9a-f]{64}$/.test(t["hash"]) ||
      typeof t["chainWork"] !== "string" ||
      !/^\d{1,80}$/.test(t["chainWork"])
    )
      throw new HeaderSourceError("BAD_RESPONSE", `${this.base}/api/headers: not { network, genesis, tip }`);
    return {
      network: body["network"],
      genesis: body["genesis"],
      claim: { height: t["height"] as number, hash: t["hash"], chainWork: BigInt(t["chainWork"]) },
    };
  }

  async headers(from: number, count: number): Promise<Uint8Array> {
    const res = await this.get(`/api/headers/raw?from=${from}&count=${count}`, "application/octet-stream");
    return readCapped(res, count * HEADER_SIZE, "headers");
  }
}
