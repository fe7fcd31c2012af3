import { z } from "zod";
import type { RecordJson } from "../mempool/json.ts";
import { errorWithCause } from "../util/errors.ts";
import {
  buildPath,
  CLIENT_HEADER,
  type RouteArgs,
  type RouteName,
  type RouteResponse,
  routes,
} from "./routes.ts";
import { ApiError, ErrorBody, type RecordAck } from "./schemas.ts";

/**
 * An error response from another node (or a failure to reach it), with that node's code: the server's
 * ApiError as received, a class of its own so a caller never mistakes it for one of its own failures.
 */
export class ApiClientError extends ApiError {
  override readonly name = "ApiClientError";
}

export interface ApiClientOptions {
  /** Sent as a bearer token when set. */
  token?: string;
  /** Per-request timeout in ms (default 10 s). */
  timeoutMs?: number;
  /** Sent as the X-JBC-Client header (default "jbc"): the node's proof that no web page sent a POST. */
  client?: string;
}

/** One parsed server-sent event. */
export interface StreamEvent {
  event: string;
  data: unknown;
  id?: string;
}

/**
 * A typed client for a jbc node's HTTP API, built from the same route table as the server: arguments
 * and results have the route's types, and every JSON response is checked against its schema.
 */
export class ApiClient {
  readonly base: string;

  constructor(
    base: string,
    private readonly opts: ApiClientOptions = {},
  ) {
    this.base = base.replace(/\/+$/, "");
  }

  /** Calls a route by name. Rejects with ApiClientError on an error response or a schema mismatch. */
  async call<N extends RouteName>(name: N, args?: RouteArgs<N>): Promise<RouteResponse<N>> {
    const def = routes[name];
    const a = (args ?? {}) as { params?: Record<string, unknown>; query?: object; body?: unknown };
    let url = `${this.base}${buildPath(def.path, a.params)}`;
    if (a.query) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(a.query)) if (v !== undefined) q.set(k, String(v));
      if ([...q].length) url += `?${q}`;
    }
    const headers: Record<string, string> = {};
    let body: string | Uint8Array | undefined;
    if (a.body instanceof Uint8Array) {
      headers["content-type"] = "application/octet-stream";
      body = a.body;
    } else if (a.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(a.body);
    }
    const res = await this.fetch(url, { method: def.method, headers, ...(body ? { body } : {}) });
    if (def.response === "bytes") return new Uint8Array(await res.arrayBuffer()) as RouteResponse<N>;
    if (def.response === "sse") throw new TypeError(`use events() for ${name}`);
    const json: unknown = await res.json();
    const parsed = (def.response as z.ZodType).safeParse(json);
    if (!parsed.success) {
      throw new ApiClientError(
        res.status,
        "BAD_RESPONSE",
        `${name}: response does not match its schema: ${z.prettifyError(parsed.error)}`,
      );
    }
    return parsed.data as RouteResponse<N>;
  }

  status() {
    return this.call("getStatus");
  }

  blocks(query: { limit?: number; before?: number } = {}) {
    return this.call("getBlocks", { query });
  }

  /** One block with a page of its records (`from`, `limit`: docs/api.md). */
  block(id: string | number, query: { from?: number; limit?: number } = {}) {
    return this.call("getBlock", { params: { id: String(id) }, query });
  }

  rawBlock(hash: string) {
    return this.call("getRawBlock", { params: { hash } });
  }

  /** Submits a serialized block (sent as application/octet-stream). */
  submitBlock(raw: Uint8Array) {
    return this.call("submitBlock", { body: raw } as unknown as RouteArgs<"submitBlock">);
  }

  tree(depth?: number) {
    return this.call("getTree", { query: depth === undefined ? {} : { depth } });
  }

  peers() {
    return this.call("getPeers");
  }

  addPeer(addr: string) {
    return this.call("addPeer", { body: { addr } });
  }

  p2p() {
    return this.call("getP2P");
  }

  startMining() {
    return this.call("startMining");
  }

  stopMining() {
    return this.call("stopMining");
  }

  /**
   * Submits records: one JSON record (answers one ack), an array of up to 1,000 (answers an array in
   * order), or raw bytes sent as application/octet-stream, one data record with those bytes.
   */
  submitRecords(body: RecordJson): Promise<RecordAck>;
  submitRecords(body: readonly RecordJson[]): Promise<RecordAck[]>;
  submitRecords(body: Uint8Array): Promise<RecordAck>;
  submitRecords(body: RecordJson | readonly RecordJson[] | Uint8Array): Promise<RecordAck | RecordAck[]> {
    return this.call("submitRecords", { body } as unknown as RouteArgs<"submitRecords">);
  }

  record(id: string) {
    return this.call("getRecord", { params: { id } });
  }

  /** An author's confirmed records, newest first; pass the previous page's `next` as `before`. */
  records(author: string, query: { limit?: number; before?: string } = {}) {
    return this.call("getRecords", { query: { author, ...query } });
  }

  mempool(query: { limit?: number; after?: string } = {}) {
    return this.call("getMempool", { query });
  }

  /**
   * Subscribes to GET /api/events and calls `onEvent` for each event until `signal` aborts or the
   * server ends the stream. Resolves when the stream ends; heartbeats are skipped.
   */
  async events(onEvent: (e: StreamEvent) => void, signal?: AbortSignal): Promise<void> {
    const headers: Record<string, string> = { accept: "text/event-stream", ...this.clientHeader() };
    if (this.opts.token) headers["authorization"] = `Bearer ${this.opts.token}`;
    const res = await fetch(`${this.base}${routes.events.path}`, { headers, ...(signal ? { signal } : {}) });
    if (!res.ok || !res.body) throw await errorFrom(res);
    const decoder = new TextDecoder();
    let buf = "";
    try {
      for await (const chunk of res.body) {
        buf += decoder.decode(chunk, { stream: true });
        for (let end = buf.indexOf("\n\n"); end >= 0; end = buf.indexOf("\n\n")) {
          const frame = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const ev = parseFrame(frame);
          if (ev) onEvent(ev);
        }
      }
    } catch (err) {
      if (!signal?.aborted) throw err;
    }
  }

  /** The header every request carries (docs/api.md, "Who may ask what"). */
  private clientHeader(): Record<string, string> {
    return { [CLIENT_HEADER]: this.opts.client ?? "jbc" };
  }

  private async fetch(url: string, init: RequestInit): Promise<Response> {
    const headers = new Headers({ ...this.clientHeader(), ...(init.headers as Record<string, string>) });
    if (this.opts.token) headers.set("authorization", `Bearer ${this.opts.token}`);
    let res: Response;
    try {
      res = await fetch(url, {
        ...init,
        headers,
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
      });
    } catch (err) {
      throw new ApiClientError(0, "UNREACHABLE", `cannot reach ${url}: ${errorWithCause(err)}`);
    }
    if (!res.ok) throw await errorFrom(res);
    return res;
  }
}

async function errorFrom(res: Response): Promise<ApiClientError> {
  const text = await res.text();
  try {
    const parsed = ErrorBody.safeParse(JSON.parse(text));
    if (parsed.success) {
      const e = parsed.data.error;
      return new ApiClientError(res.status, e.code, e.message, e.details);
    }
  } catch {
    // Not JSON: fall through to a generic error with the status.
  }
  return new ApiClientError(res.status, `HTTP_${res.status}`, text.slice(0, 200) || res.statusText);
}

/** Parses one SSE frame; comments (heartbeats) and frames without data give undefined. */
function parseFrame(frame: string): StreamEvent | undefined {
  let event = "message";
  let id: string | undefined;
  const data: string[] = [];
  for (const line of frame.split("\n")) {
    if (line === "" || line.startsWith(":")) continue;
    const i = line.indexOf(":");
    const field = i < 0 ? line : line.slice(0, i);
    const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
    else if (field === "id") id = value;
  }
  if (!data.length) return undefined;
  const text = data.join("\n");
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Plain-text data is passed through as a string.
  }
  return { event, data: parsed, ...(id !== undefined ? { id } : {}) };
}
